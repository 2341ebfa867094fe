"""``--cam NAME|PATH`` and the camera's line in the live view and ``rtws devices``.

A path to an image or video file becomes the camera (any audio backend);
otherwise the value picks one of the machine's cameras by id or by part of
its name, as ``--mic`` does. Both are checked before anything connects.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DeviceError
from ..media.base import AudioDevice, MediaManager
from ..transport import RealTimeWebsocketTransport
from ..video import Cameras, video_available
from .errors import EXIT_USAGE, CLIError

NO_CAMERAS_HINT = "pass an image or video file, or install rtws[video] and plug in a camera"


def choose_camera(
    provider: type[RealTimeWebsocketTransport], media: MediaManager, spec: str
) -> AudioDevice:
    """Select the camera ``spec`` names on ``media`` (it is switched on once connected)."""
    if provider.handle_user_video_frame is RealTimeWebsocketTransport.handle_user_video_frame:
        raise CLIError(
            f"{provider.provider_name} cannot take video (--cam)",
            hint="Gemini Live and OpenAI Realtime can",
            code=EXIT_USAGE,
        )
    path = Path(spec)
    try:
        if path.exists():
            media.cameras = Cameras.from_files(path)
            selected = media.cameras.selected
            assert selected is not None
            return selected
        cams = media.cameras.refresh()
    except DeviceError as exc:
        raise CLIError(str(exc), hint=NO_CAMERAS_HINT, code=EXIT_USAGE) from None
    wanted = spec.casefold()
    matches = [c for c in cams if c.id == spec] or [c for c in cams if wanted in c.name.casefold()]
    if len(matches) != 1:
        known = ", ".join(f"{c.id} ({c.name})" for c in cams) or "none"
        problem = "matches several cameras" if matches else "is no file and no camera"
        raise CLIError(
            f"--cam {spec!r} {problem} (cameras: {known})",
            hint=NO_CAMERAS_HINT if not cams else "see `rtws devices`",
            code=EXIT_USAGE,
        )
    return media.cameras.select(matches[0].id)


def camera_status(transport: RealTimeWebsocketTransport) -> str:
    """The live view's camera line: which camera, on or off, frames and bytes sent."""
    cam = transport.media.selected_cam
    stats = transport.video.stats
    name = cam.name if cam is not None else "—"
    state = "on" if transport.is_cam_enabled else "off"
    sent = f"{stats.frames_sent} frames · {stats.bytes_sent / 1000:.0f} kB sent"
    last = stats.last_frame
    size = f" · {last.width}x{last.height}" if last is not None else ""
    return f"{name}  [{state}] {sent}{size}"


def cameras_note() -> str | None:
    """Why ``rtws devices`` lists no camera, when it is not for lack of one."""
    return None if video_available() else "cameras need OpenCV: pip install 'rtws[video]'"
