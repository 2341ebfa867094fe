"""Streaming text → whole sentences, and user transcripts → one final per utterance.

Both run on every transcript delta, so both are linear in the total text: a
delta is scanned once (plus two characters of look-behind), and a sentence
that never ends is cut at :data:`MAX_SENTENCE` characters rather than
re-scanned forever (issue 16: 1,000 deltas of 200 bytes with no full stop
used to re-split the whole transcript each time and block the loop for
seconds).
"""

from __future__ import annotations

import re

#: A sentence longer than this is emitted anyway, at its last space (or cut hard).
MAX_SENTENCE = 1000
#: A user utterance's (or reply's) text beyond this is dropped (a transcript, not a book).
MAX_UTTERANCE = 20_000

#: Where a sentence ends: whitespace after . ! ? or an ellipsis (a closing quote or bracket
#: may come between), or right after a CJK full stop, exclamation or question mark.
_SENTENCE_END = re.compile(
    r"(?:(?<=[.!?\u2026])|(?<=[.!?\u2026][\"')\]\u201d\u2019]))\s+|(?<=[\u3002\uff01\uff1f])\s*"
)
#: Characters of look-behind the pattern needs before a new delta.
_LOOKBEHIND = 2


class SentenceSplitter:
    """Feed deltas, get complete sentences; :meth:`flush` returns the unfinished rest."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, delta: str) -> list[str]:
        old = len(self._buffer)
        text = self._buffer + delta  # bounded by MAX_SENTENCE + len(delta)
        out: list[str] = []
        start = 0
        for match in _SENTENCE_END.finditer(text, max(0, old - _LOOKBEHIND)):
            if match.end() == match.start() and match.start() == start:
                continue  # an empty CJK match at a sentence's very start
            sentence = text[start : match.start()].strip()
            if sentence:
                out.append(sentence)
            start = match.end()
        rest = text[start:]
        while len(rest) > MAX_SENTENCE:
            cut = rest.rfind(" ", 0, MAX_SENTENCE)
            cut = cut if cut > 0 else MAX_SENTENCE
            head, rest = rest[:cut].strip(), rest[cut:].lstrip()
            if head:
                out.append(head)
        self._buffer = rest
        return out

    @property
    def rest(self) -> str:
        """The unfinished sentence so far (what :meth:`flush` would return)."""
        return self._buffer.strip()

    def flush(self) -> str:
        rest, self._buffer = self._buffer.strip(), ""
        return rest


class TextBuffer:
    """Text deltas (capped at :data:`MAX_UTTERANCE` characters), joined on demand.

    A user utterance, or a reply's words: appending is O(1), reading joins once.
    """

    __slots__ = ("_gap", "_parts", "_size")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._gap = False  # a part ended: the next text is a new word

    def add(self, delta: str) -> None:
        room = MAX_UTTERANCE - self._size
        if room > 0 and delta:
            if self._gap and self._parts and not delta[0].isspace():
                delta = " " + delta
            self._gap = False
            piece = delta[:room]
            self._parts.append(piece)
            self._size += len(piece)

    def end_part(self) -> None:
        """A part of the text is complete (a reply's item): what follows is joined to it
        with a space, unless either side already has one ("Let me check. It is sunny.",
        not "check.It")."""
        self._gap = bool(self._parts) and not self._parts[-1][-1:].isspace()

    @property
    def text(self) -> str:
        if len(self._parts) > 1:
            self._parts[:] = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def flush(self) -> str:
        """The text so far, stripped; the buffer starts over."""
        text = self.text.strip()
        self._parts.clear()
        self._size = 0
        self._gap = False
        return text

    def __bool__(self) -> bool:
        return self._size > 0


#: The older name of :class:`TextBuffer`.
Utterance = TextBuffer
