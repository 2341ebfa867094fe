"""The user's transcript deltas, gathered into one final ``user-transcription`` per utterance.

Kept apart from the reply rules in :mod:`.core` because the user's words follow
none of them: a provider's speech recognition runs beside the conversation
(OpenAI's transcript of a turn can complete after the bot has answered it), so
an utterance is keyed by the wire's item id and ends whenever its final comes;
an id-less one ends at the latest when the user speaks again.
"""

from __future__ import annotations

from .. import rtvi
from .output import Output
from .text import TextBuffer

#: User utterances with open deltas kept at once (keyed by the wire's item id).
UTTERANCES_KEPT = 8


class UserTranscripts:
    """The utterances whose deltas no final transcript has covered yet, oldest first."""

    __slots__ = ("_open", "_out")

    def __init__(self, output: Output) -> None:
        self._out = output
        self._open: dict[str | None, TextBuffer] = {}

    @property
    def pending(self) -> bool:
        return bool(self._open)

    def add(self, text: str, final: bool = False, item_id: str | None = None) -> None:
        """A delta (shown as a non-final transcript), or the final of utterance ``item_id``."""
        if final:
            self.finish(item_id, text)
            return
        utterance = self._open.get(item_id)
        if utterance is None:
            utterance = self._open[item_id] = TextBuffer()
            while len(self._open) > UTTERANCES_KEPT:
                del self._open[next(iter(self._open))]
        utterance.add(text)
        if text.strip() and self._out.wants("user-transcription"):
            self._out.emit(rtvi.user_transcription(utterance.text.strip(), final=False))

    def finish(self, item_id: str | None, text: str = "") -> None:
        """The utterance is over: one final transcript, ``text`` or else what its deltas said."""
        utterance = self._open.pop(item_id, None)
        full = (text or (utterance.text if utterance else "")).strip()
        if full:
            self._out.emit(rtvi.user_transcription(full, final=True))

    def clear(self) -> None:
        self._open.clear()
