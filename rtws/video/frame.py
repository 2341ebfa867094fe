"""A video frame as a provider receives it, and how a picture becomes one.

Providers want small JPEGs: Gemini Live documents 1 frame/s at up to
768x768, OpenAI scales a "high detail" image so its short side is 768. A
camera picture (1280x720 or more) is therefore scaled down, keeping its
aspect ratio, so its long side is at most ``max_size``, then JPEG-encoded.
Both steps are CPU work (a few milliseconds), which is why
:class:`~rtws.video.uplink.VideoUplink` runs them in a worker thread.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import DeviceError

RGBImage = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One JPEG picture handed to ``handle_user_video_frame``."""

    jpeg: bytes = field(repr=False)
    width: int
    height: int
    #: ``time.perf_counter()`` when the picture was taken.
    captured_at: float
    #: running index within the session (1 = first frame sent).
    seq: int = 0
    #: the camera's id (``AudioDevice.id``) the frame came from.
    source: str = ""
    mime_type: str = "image/jpeg"

    def base64(self) -> str:
        """The JPEG as base64 text, as both providers' JSON carries it."""
        return base64.b64encode(self.jpeg).decode("ascii")

    def data_url(self) -> str:
        """``data:image/jpeg;base64,...``: OpenAI's ``input_image.image_url``."""
        return f"data:{self.mime_type};base64,{self.base64()}"


def cv2_module() -> Any:
    """OpenCV, or a :class:`DeviceError` that says how to install it."""
    try:
        import cv2  # pyright: ignore[reportMissingImports]
    except ImportError:
        raise DeviceError(
            "video needs OpenCV: pip install 'rtws[video]' (opencv-python-headless)",
            kind="videoinput",
        ) from None
    return cv2


def scaled_size(width: int, height: int, max_size: int) -> tuple[int, int]:
    """The size that fits ``max_size`` on the long side, aspect kept (never upscaled)."""
    longest = max(width, height)
    if longest <= max_size:
        return width, height
    factor = max_size / longest
    return max(1, round(width * factor)), max(1, round(height * factor))


def encode_frame(
    rgb: RGBImage,
    *,
    max_size: int,
    quality: int,
    captured_at: float,
    seq: int = 0,
    source: str = "",
) -> VideoFrame:
    """Scale an RGB picture (H x W x 3, uint8) to ``max_size`` and JPEG-encode it. Blocking."""
    cv2 = cv2_module()
    height, width = int(rgb.shape[0]), int(rgb.shape[1])
    w, h = scaled_size(width, height, max_size)
    if (w, h) != (width, height):
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise DeviceError(f"could not JPEG-encode a {width}x{height} frame", kind="videoinput")
    return VideoFrame(bytes(buf), w, h, captured_at, seq, source)


def decode_jpeg(jpeg: bytes) -> RGBImage:
    """A JPEG back to RGB pixels (for fakes and tests that check what was sent)."""
    cv2 = cv2_module()
    bgr = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("not a decodable JPEG")
    return bgr_to_rgb(bgr)


def bgr_to_rgb(bgr: Any) -> RGBImage:
    """OpenCV's pixels (blue, green, red) in the order the rest of rtws uses. Blocking."""
    cv2 = cv2_module()
    rgb: RGBImage = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return rgb


#: Names for the colours a demo bot (or a test) reports, as RGB.
COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "grey": (128, 128, 128),
    "red": (220, 30, 30),
    "green": (30, 180, 30),
    "blue": (30, 60, 220),
    "yellow": (240, 220, 30),
    "orange": (245, 140, 20),
    "purple": (140, 40, 180),
    "pink": (250, 150, 200),
    "cyan": (40, 210, 220),
    "brown": (130, 80, 40),
}


def dominant_colour(rgb: RGBImage) -> str:
    """The named colour closest to the picture's median pixel: what the demo bot "sees"."""
    median = np.median(rgb.reshape(-1, 3), axis=0)
    names = list(COLOURS)
    table = np.array([COLOURS[n] for n in names], dtype=np.float64)
    distances = np.sum((table - median) ** 2, axis=1)
    return names[int(np.argmin(distances))]
