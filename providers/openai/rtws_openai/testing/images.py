"""Pictures in the fake: checking ``input_image`` data URLs, and saying what one shows.

The real server takes PNG or JPEG as a base64 data URL; anything else is an
``invalid_value`` error, which is what the fake answers too. The demo bot
"sees" by naming the dominant colour of the last picture, which is true of
any picture and needs no model (OpenCV, from ``rtws[video]``, decodes it).
"""

from __future__ import annotations

import binascii
import re

from .schema import InvalidRequest

_DATA_URL = re.compile(r"^data:(image/(?:jpeg|png));base64,(.*)$", re.DOTALL)
_MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}


def decode_image_url(url: str) -> tuple[str, bytes]:
    """``(mime type, bytes)`` of a ``data:image/...;base64,`` URL, or an InvalidRequest."""
    match = _DATA_URL.match(url)
    problem = "expected a base64 data URL of a PNG or JPEG image"
    if match is not None:
        mime = match.group(1)
        try:
            data = binascii.a2b_base64(match.group(2), strict_mode=True)
        except (binascii.Error, ValueError):
            data = b""
        if data.startswith(_MAGIC[mime]):
            return mime, data
        problem = f"the data is not {mime}"
    raise InvalidRequest(
        f"Invalid 'item.content.image_url': {problem}.",
        code="invalid_value",
        param="item.content.image_url",
    )


def describe_picture(data: bytes) -> str:
    """A sentence that is true of the picture: its size and dominant colour."""
    try:
        from rtws.video.frame import decode_jpeg, dominant_colour

        rgb = decode_jpeg(data)
    except Exception:  # no OpenCV, or a PNG the JPEG path cannot read
        return "I got a picture from your camera, but I cannot look at it here."
    height, width = rgb.shape[:2]
    return f"I see a picture of {width} by {height} pixels, mostly {dominant_colour(rgb)}."
