"""Where pictures come from: a still image, a looped video file, a real camera.

Each source has one blocking :meth:`FrameSource.read` returning RGB pixels;
the video uplink calls it from its worker thread, never on the event loop.
A source that cannot deliver raises :class:`~rtws.errors.DeviceError` with
a sentence a user can act on (missing file, unsupported format, busy or
unplugged camera); the uplink turns that into a ``device-error`` event and
the audio session carries on.
"""

from __future__ import annotations

import os
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DeviceError
from .frame import RGBImage, bgr_to_rgb, cv2_module


def video_available() -> bool:
    """Whether OpenCV (the ``video`` extra) is installed."""
    try:
        cv2_module()
    except DeviceError:
        return False
    return True


class FrameSource(ABC):
    """One opened picture source. Not thread-safe: one worker thread uses it."""

    #: what users see in errors and the live view.
    label: str = "camera"

    @abstractmethod
    def read(self) -> RGBImage:
        """The current picture (H x W x 3 RGB uint8). Blocking."""

    def close(self) -> None:  # noqa: B027 - stills hold nothing
        """Release the file or device; idempotent."""


class StillImageSource(FrameSource):
    """A PNG or JPEG: decoded once, the same picture every time."""

    def __init__(self, path: Path) -> None:
        cv2 = cv2_module()
        self.label = str(path)
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DeviceError(f"cannot decode the image {path}", kind="videoinput")
        self._rgb = bgr_to_rgb(bgr)

    def read(self) -> RGBImage:
        return self._rgb


class _VideoCaptureSource(FrameSource):
    """A source read through an OpenCV ``VideoCapture`` (a video file, a camera): it holds
    the capture, and closing releases it (the device or file is free for others again)."""

    _cap: Any = None

    def close(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()


class VideoFileSource(_VideoCaptureSource):
    """A video file played in a loop, on the wall clock: at 1 frame/s the frames sent
    are one second of the video apart, as a camera filming it would give.

    At each loop the file is opened again, so a file removed or truncated
    mid-session is reported (as a camera that disappeared) instead of
    replaying frames still buffered from the old file.
    """

    def __init__(self, path: Path) -> None:
        self.label = str(path)
        self._path = path
        self._open()
        self._started = time.monotonic()
        self._last_index = -1

    def _open(self) -> None:
        cv2 = cv2_module()
        if not self._path.is_file():
            raise DeviceError(f"the video file {self._path} is gone", kind="videoinput")
        cap = cv2.VideoCapture(str(self._path))
        if not cap.isOpened():
            cap.release()
            raise DeviceError(f"cannot decode the video {self._path}", kind="videoinput")
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        ok, first = cap.read()
        if not ok or first is None:
            cap.release()
            raise DeviceError(f"the video {self._path} has no readable frame", kind="videoinput")
        self.close()
        self._cap = cap
        self._frames = max(1, frames)
        self._fps = fps if fps > 0 else 25.0
        self._first: Any = first

    def read(self) -> RGBImage:
        cv2 = cv2_module()
        index = int((time.monotonic() - self._started) * self._fps) % self._frames
        if index < self._last_index:  # looped: open the file again
            self._open()
        self._last_index = index
        if index == 0:
            bgr = self._first
        else:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, bgr = self._cap.read()
            if not ok or bgr is None:  # a frame count that overstated the file
                self._frames = max(1, index)
                bgr = self._first
        return bgr_to_rgb(bgr)


class CameraSource(_VideoCaptureSource):
    """A real camera through OpenCV's capture backend (V4L2 on Linux)."""

    def __init__(self, index: int, label: str) -> None:
        cv2 = cv2_module()
        self.label = label
        cap = cv2.VideoCapture(index)
        if not cap.isOpened():
            cap.release()
            raise DeviceError(
                f"cannot open the camera {label!r}: it is busy (another app uses it) or gone",
                device_id=f"cam-{index}",
                kind="videoinput",
            )
        self._cap = cap
        self._index = index

    def read(self) -> RGBImage:
        if self._cap is None:
            raise DeviceError(f"the camera {self.label!r} is closed", kind="videoinput")
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            raise DeviceError(
                f"the camera {self.label!r} stopped delivering pictures (unplugged?)",
                device_id=f"cam-{self._index}",
                kind="videoinput",
            )
        return bgr_to_rgb(bgr)


_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def open_file_source(path: str | Path) -> FrameSource:
    """A still image (PNG, JPEG) or a video file; a clear DeviceError for anything else."""
    p = Path(path)
    if not p.exists():
        raise DeviceError(f"camera file {p} does not exist", kind="videoinput")
    if not p.is_file() or not os.access(p, os.R_OK):
        raise DeviceError(f"camera file {p} is not a readable file", kind="videoinput")
    if p.suffix.lower() in _IMAGE_SUFFIXES:
        return StillImageSource(p)
    try:
        return VideoFileSource(p)
    except DeviceError:
        raise DeviceError(
            f"camera file {p} is neither a PNG/JPEG image nor a video OpenCV can decode",
            kind="videoinput",
        ) from None


@dataclass(frozen=True, slots=True)
class SystemCamera:
    """A camera the OS lists: OpenCV opens it by ``index``."""

    index: int
    name: str


def system_cameras() -> list[SystemCamera]:
    """The machine's cameras; ``[]`` without OpenCV or without cameras.

    OpenCV has no listing API. On Linux the V4L2 nodes in sysfs name every
    camera without opening it (a node with ``index`` 0 captures; others are
    metadata). Elsewhere the first indexes are probed, which opens each one
    briefly.
    """
    if not video_available():
        return []
    if sys.platform.startswith("linux"):
        return _linux_cameras(Path("/sys/class/video4linux"))
    cameras: list[SystemCamera] = []
    cv2 = cv2_module()
    for index in range(4):
        cap = cv2.VideoCapture(index)
        try:
            if cap.isOpened():
                cameras.append(SystemCamera(index, f"camera {index}"))
        finally:
            cap.release()
    return cameras


def _linux_cameras(root: Path) -> list[SystemCamera]:
    cameras: list[SystemCamera] = []
    if not root.is_dir():
        return cameras
    for node in sorted(root.glob("video*")):
        try:
            index = int(node.name.removeprefix("video"))
            name = (node / "name").read_text().strip() or node.name
            stream = (node / "index").read_text().strip() if (node / "index").exists() else "0"
        except (OSError, ValueError):
            continue
        if stream == "0":
            cameras.append(SystemCamera(index, name))
    return cameras
