"""Doc snippet (video.md): a picture as the camera of a Gemini Live session.

Runs offline against the Gemini fake; the picture is made here with OpenCV.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import cv2
import numpy as np
from rtws_gemini import GeminiLiveTransport
from rtws_gemini.testing import running_fake

from rtws import FileMediaManager


async def main() -> None:
    desk = Path(tempfile.mkdtemp()) / "desk.jpg"
    cv2.imwrite(str(desk), np.full((720, 1280, 3), (40, 120, 200), np.uint8))
    async with running_fake(playback_wait=0.0) as (server, options):
        # --8<-- [start:camera]
        media = FileMediaManager(camera=desk)  # or a video file (looped), or several files
        options = options.model_copy(update={"video_fps": 2.0})  # default: 1 frame/s
        transport = GeminiLiveTransport(options, media)
        async with transport:
            print(await transport.get_all_cams())  # [AudioDevice(id='file-camera', ...)]
            transport.enable_cam(True)  # frames flow while it is on and the session ready
            await asyncio.sleep(2.0)
            transport.enable_cam(False)
            print(transport.video.stats)  # VideoStats(frames_sent=4, bytes_sent=..., ...)
        # --8<-- [end:camera]
        frames = [data for c in server.connections for _, data in c.video]
        assert len(frames) == transport.video.stats.frames_sent >= 2
        assert transport.video.stats.last_frame is not None
        assert transport.video.stats.last_frame.width == 768
    print("ok")


asyncio.run(main())
