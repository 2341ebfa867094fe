"""One bot reply as the conversation tracks it, and the bounded sets of cut ones."""

from __future__ import annotations

import collections
from dataclasses import dataclass

from .text import SentenceSplitter, TextBuffer

#: Cut reply and item ids remembered (late audio for older ones cannot arrive any more).
CUT_KEPT = 64


@dataclass(slots=True)
class Reply:
    """A reply from its start to its end. ``wire``: the id came from the protocol."""

    id: str
    wire: bool
    cut: bool = False
    audio_done: bool = False
    tts_started: bool = False
    tts_stopped: bool = False
    audio_bytes: int = 0
    last_item: str | None = None
    heard_ms: int = 0
    #: Its words not yet in a bot-output: spoken transcript, written text (per kind, a
    #: splitter in "sentence" mode, a buffer in "reply" mode); None until some arrive.
    spoken: SentenceSplitter | TextBuffer | None = None
    written: SentenceSplitter | TextBuffer | None = None
    unheard: TextBuffer | None = None  # its words once the user cut it off

    @property
    def item(self) -> str:
        """The playback item its audio is queued under."""
        return self.last_item or self.id


class CutSet:
    """The last :data:`CUT_KEPT` ids cut off by the user: a deque for order, a set for lookup."""

    __slots__ = ("_ids", "_order")

    def __init__(self) -> None:
        self._order: collections.deque[str] = collections.deque()
        self._ids: set[str] = set()

    def add(self, item: str) -> None:
        if item in self._ids:
            return
        self._order.append(item)
        self._ids.add(item)
        if len(self._order) > CUT_KEPT:
            self._ids.discard(self._order.popleft())

    def __contains__(self, item: object) -> bool:
        return item in self._ids

    def clear(self) -> None:
        self._order.clear()
        self._ids.clear()
