"""What the fake Gemini server keeps of each connection, for tests to inspect.

Gemini refuses a key only after the upgrade, so the query a client sent
(``?key=``, ``?access_token=``) is kept as is: tests check where a
credential travelled. Headers are masked like every fake's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rtws.testing.records import ConnectionRecord as BaseRecord


@dataclass
class ConnectionRecord(BaseRecord):
    """Everything one connection did, for tests to inspect."""

    query: dict[str, str] = field(default_factory=dict[str, str])
    raw: list[str | bytes] = field(default_factory=list[str | bytes])
    messages: list[tuple[str, dict[str, Any]]] = field(
        default_factory=list[tuple[str, dict[str, Any]]]
    )
    setup: dict[str, Any] | None = None
    audio: bytearray = field(default_factory=bytearray)
    audio_rate: int = 16000
    #: camera frames (``realtimeInput.video``): (mime type, image bytes), in order.
    video: list[tuple[str, bytes]] = field(default_factory=list[tuple[str, bytes]])
    resumed_from: str | None = None
    conversation_id: str | None = None

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [body for k, body in self.messages if k == kind]
