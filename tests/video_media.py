"""Pictures and videos made on the spot for the video tests (no camera, no data files)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2", reason="the video tests need rtws[video] (OpenCV)")

RGB = tuple[int, int, int]
RED: RGB = (220, 30, 30)
GREEN: RGB = (30, 180, 30)
BLUE: RGB = (30, 60, 220)


def image(path: Path, colour: RGB, size: tuple[int, int] = (1280, 720)) -> Path:
    """A plain picture of ``colour`` (width, height), written as PNG or JPEG by its suffix."""
    pixels = np.zeros((size[1], size[0], 3), np.uint8)
    pixels[:] = colour[::-1]  # OpenCV writes BGR
    assert cv2.imwrite(str(path), pixels)
    return path


def video(
    path: Path, colours: Sequence[RGB], seconds_each: float = 0.5, fps: int = 10,
    size: tuple[int, int] = (640, 480),
) -> Path:  # fmt: skip
    """An MJPEG AVI showing each colour in turn for ``seconds_each``."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for colour in colours:
        pixels = np.zeros((size[1], size[0], 3), np.uint8)
        pixels[:] = colour[::-1]
        for _ in range(round(seconds_each * fps)):
            writer.write(pixels)
    writer.release()
    return path


def colour_of(jpeg: bytes) -> RGB:
    """The median colour of a JPEG, as RGB."""
    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    b, g, r = (int(v) for v in np.median(bgr.reshape(-1, 3), axis=0))
    return (r, g, b)


def close_to(a: RGB, b: RGB, tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def size_of(jpeg: bytes) -> tuple[int, int]:
    """(width, height) of a JPEG."""
    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return int(bgr.shape[1]), int(bgr.shape[0])
