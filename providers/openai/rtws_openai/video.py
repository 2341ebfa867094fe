"""Camera frames for OpenAI Realtime: one picture per user turn, not a stream.

OpenAI Realtime has no video stream: a picture is a user message with an
``input_image`` content part (a JPEG data URL). Sending one every second
would fill the conversation (and the bill) with images nobody asked about,
so the transport keeps only the latest frame from the camera path and adds
it to the conversation when the user starts speaking (``speech_started``):
the picture then sits just before the user's words in the conversation, and
is there before the server's VAD commits the turn and starts the reply, so
"what am I holding up?" is answered about what the camera saw as the
question began. A ``client-message`` ``{"t": "snapshot"}`` adds a fresh
picture at once (for push-to-talk, or "look now").
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from rtws.video import VideoFrame

from .wire import Event, message


def image_item(frame: VideoFrame, detail: str = "auto") -> Event:
    """A user message holding one picture (``conversation.item.create``)."""
    return message("user", {"type": "input_image", "image_url": frame.data_url(), "detail": detail})


class TurnImages:
    """The latest camera frame, and when it goes into the conversation."""

    def __init__(self, send: Callable[[Event], Awaitable[None]]) -> None:
        self._send = send
        self.latest: VideoFrame | None = None
        self._sent_seq = 0
        self._snapshot_after: float | None = None  # perf_counter() of a snapshot request
        #: pictures added to the conversation this transport's life.
        self.images_sent = 0

    async def frame(self, frame: VideoFrame) -> None:
        """A frame from the camera path: kept; sent at once when a snapshot was asked for."""
        self.latest = frame
        wanted = self._snapshot_after
        if wanted is not None and frame.captured_at >= wanted:
            self._snapshot_after = None
            await self._send_latest()

    def want_snapshot(self) -> None:
        """The first frame taken from now on goes into the conversation (a frame already
        being taken may show the previous camera, or the scene a moment ago)."""
        self._snapshot_after = time.perf_counter()

    async def turn_started(self, camera_on: bool) -> bool:
        """The user started speaking: add the latest picture. True when there is none
        not sent yet (the camera just came on): the caller takes one now, and it is
        added as soon as it is taken."""
        if not camera_on:
            self.camera_off()
            return False
        if self.latest is not None and self.latest.seq != self._sent_seq:
            await self._send_latest()
            return False
        self.want_snapshot()
        return True

    def camera_off(self) -> None:
        """A picture from before the camera went off must not be sent at a later turn."""
        self.latest = None
        self._snapshot_after = None

    async def _send_latest(self) -> None:
        frame = self.latest
        if frame is None:
            return
        await self._send(image_item(frame))
        self._sent_seq = frame.seq
        self.images_sent += 1
