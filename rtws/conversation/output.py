"""Where the conversation core's decisions go.

The core never touches a socket or a sound card: it calls an :class:`Output`
(the transport in production, a recorder in tests). :func:`metrics` moved to
:mod:`.metrics` and is still importable from here.
"""

from __future__ import annotations

from typing import Protocol

from .. import rtvi
from ..audio import PlaybackMark
from .metrics import metrics as metrics


class Output(Protocol):
    """Where the conversation's decisions go: events for the user, commands for the speaker."""

    def emit(self, message: rtvi.RTVIMessage) -> None: ...

    def wants(self, event_type: str) -> bool: ...

    def play(self, pcm: bytes, item_id: str) -> bool:
        """Queue audio; False when nothing plays (media not running)."""
        ...

    def end_of_stream(self, item_id: str | None) -> None: ...

    def flush(self) -> PlaybackMark: ...

    def mark(self) -> PlaybackMark: ...

    def bot_started(self) -> None:
        """The bot became audible (the transport starts watching for its silence)."""
        ...

    def bot_stopped(self) -> None:
        """The bot fell silent, for any reason (played out, cut off, the connection ended),
        just before ``bot-stopped-speaking``: the last moment its reply's playback start
        can be measured (turn latency)."""
        ...

    def fail(self, message: str) -> None:
        """A fatal server error: the session must end."""
        ...


class Stats(Protocol):
    late_audio_dropped: int
