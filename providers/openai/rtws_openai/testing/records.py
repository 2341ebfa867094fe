"""What the fake saw and did on each connection, kept for tests to inspect."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rtws.testing.records import ConnectionRecord as BaseRecord

Json = dict[str, Any]


@dataclass(frozen=True)
class Truncation:
    """A ``conversation.item.truncate`` the fake accepted."""

    connection: int
    item_id: str
    content_index: int
    audio_end_ms: int
    audio_ms: float  # how much audio the item had when it was truncated


@dataclass(eq=False)
class ConnectionRecord(BaseRecord):
    """What happened on one connection, for tests (credentials in ``headers`` are masked).

    ``closed`` turns True once the socket is closed, with ``close_code`` as the
    client saw it (1006 when no close frame came).
    """

    model: str = ""
    session: Json = field(default_factory=dict[str, Any])
    received: list[Json] = field(default_factory=list[Json])
    audio_in: bytearray = field(default_factory=bytearray)
    #: pictures from ``input_image`` content parts: (mime type, image bytes), in order.
    images: list[tuple[str, bytes]] = field(default_factory=list[tuple[str, bytes]])
    truncations: list[Truncation] = field(default_factory=list[Truncation])
    closed: bool = False

    def sent_types(self) -> list[str]:
        return [str(e["type"]) for e in self.sent]
