"""``python -m benchmarks.video``: what a camera costs a session, as a ratio to audio only.

K Gemini Live sessions run in this process against the Gemini fake in a
process of its own (its CPU is not counted), each with real-time file media
(a silent mic sending 50 chunks/s, the speaker path ticking) and a
1280x720 picture as the camera. This process's CPU time (every thread, so
the JPEG encoding in the video workers is included) is measured over a
window twice: camera off, then camera on at ``--fps``. Also reported: the
frame rate achieved per session and the JPEG sizes. Prints one JSON object.

The machine may be shared: CPU time is what this process used, not wall
time, but a busy machine still slows caches and scheduling; run it twice
when a figure matters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

API_KEY = "fake-gemini-key-bench"


def scene(path: Path, width: int = 1280, height: int = 720) -> Path:
    """A camera-like picture: gradients, shapes and sensor noise (a flat colour would
    make JPEGs unrealistically small and cheap)."""
    import cv2

    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack(
        [
            120 + 80 * np.sin(x / 97.0),
            110 + 70 * np.cos(y / 61.0),
            100 + 60 * np.sin((x + y) / 143.0),
        ],
        axis=-1,
    )
    for i in range(12):
        cx, cy, r = rng.integers(0, width), rng.integers(0, height), rng.integers(20, 120)
        rgb[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.integers(0, 255, 3) * (i % 2 or 1)
    rgb += rng.normal(0, 6, rgb.shape)
    assert cv2.imwrite(str(path), np.clip(rgb, 0, 255).astype(np.uint8)[:, :, ::-1])
    return path


async def window(
    sessions: int, fps: float | None, seconds: float, url: str, camera: Path
) -> dict[str, Any]:
    """K sessions ready, then this process's CPU over ``seconds``; camera on when ``fps``."""
    from rtws_gemini import GeminiLiveOptions, GeminiLiveTransport

    from rtws import FileMediaManager

    options = GeminiLiveOptions.model_validate(
        {"api_key": API_KEY, "host": url, "video_fps": fps or 1.0, "connect_timeout": 30.0}
    )
    transports = [
        GeminiLiveTransport(options, FileMediaManager(input_rate=16000, camera=camera))
        for _ in range(sessions)
    ]
    await asyncio.gather(*(t.connect() for t in transports))
    try:
        if fps is not None:
            for t in transports:
                t.enable_cam(True)
        await asyncio.sleep(2.0)  # warm up: first frames, buffers, caches
        sent_before = [t.video.stats.frames_sent for t in transports]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        frames = [
            t.video.stats.frames_sent - b for t, b in zip(transports, sent_before, strict=True)
        ]
        sizes = [len(t.video.stats.last_frame.jpeg) for t in transports if t.video.stats.last_frame]
        encode_ms = [
            1000 * t.video.stats.encode_s / t.video.stats.frames_sent
            for t in transports
            if t.video.stats.frames_sent
        ]
    finally:
        await asyncio.gather(*(t.disconnect() for t in transports))
    return {
        "cpu_pct": round(100 * cpu / wall, 2),
        "cpu_pct_per_session": round(100 * cpu / wall / sessions, 3),
        "frames_per_s": round(statistics.mean(frames) / wall, 3) if fps else 0.0,
        "jpeg_bytes": round(statistics.mean(sizes)) if sizes else None,
        "capture_encode_ms": round(statistics.mean(encode_ms), 2) if encode_ms else None,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rtws_gemini.testing", "--port", str(args.port),
        "--api-key", API_KEY, "--playback-wait", "0",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = (await server.stdout.readline()).decode()  # "fake Gemini Live listening on ws://..."
        url = line.split(" on ", 1)[1].split()[0]
        with tempfile.TemporaryDirectory() as tmp:
            camera = scene(Path(tmp) / "scene.png")
            audio = await window(args.sessions, None, args.seconds, url, camera)
            video = await window(args.sessions, args.fps, args.seconds, url, camera)
    finally:
        server.terminate()
        await server.wait()
    return {
        "sessions": args.sessions,
        "fps_asked": args.fps,
        "seconds": args.seconds,
        "audio_only": audio,
        "camera_on": video,
        "cpu_ratio": round(video["cpu_pct"] / audio["cpu_pct"], 3) if audio["cpu_pct"] else None,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.video", description=__doc__)
    parser.add_argument("--sessions", type=int, default=10, help="sessions at once (K)")
    parser.add_argument("--fps", type=float, default=1.0, help="camera frames per second")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured window")
    parser.add_argument("--port", type=int, default=0, help="the fake's port (0: any free)")
    result = asyncio.run(run(parser.parse_args(argv)))
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
