"""Wild mode: the fake behaves the way the live Gemini service does, not in one tidy order.

The Live API reference and google-genai's field docs promise less than a tidy
fake shows: input and output transcriptions are "independent to the model
turn", with no ordering between them (so an ``outputTranscription`` may come
after ``turnComplete``); the live service never sets ``finished`` on a
transcription (js-genai issue 1429, dotnet-genai issue 264); ``interrupted``
may come alone (livekit agents-js PR 989 handles "interrupted-only server
messages"); ``turnComplete`` is held until the server thinks playback ended,
seconds after ``generationComplete`` (the field's docs, livekit-agents PR
6431; tens of seconds in cookbook issue 1346); and newer servers add
``interactionStatus`` and ``usageMetadata.thoughtsTokenCount``.

A :class:`Wild` makes those choices from a seeded random generator, so a
failing run is replayed exactly by its seed (``RTWS_WILD_SEED``).
"""

from __future__ import annotations

from dataclasses import dataclass

from rtws.testing.wild import SEED_ENV, SeededWild, seed_from_env

__all__ = ["SEED_ENV", "Wild", "seed_from_env", "words_in_pieces"]


@dataclass
class Wild(SeededWild):
    """Seeded disorder within what the Live protocol allows.

    Args:
        seed: the random seed; the same seed gives the same choices.
        late_input: chance that part of the user's ``inputTranscription``
            comes after the model's first ``modelTurn``.
        late_output: chance that the tail of the ``outputTranscription``
            comes after ``turnComplete``.
        bare_interrupt: chance that ``interrupted`` has no ``turnComplete`` after it.
        transcript_first: chance that a transcription piece comes before its audio.
        thoughts: chance that ``usageMetadata`` counts thinking tokens.
        max_delay_s: the longest pause between two messages of a turn.
    """

    late_input: float = 0.6
    late_output: float = 0.5
    bare_interrupt: float = 0.5
    transcript_first: float = 0.3
    thoughts: float = 0.5
    max_delay_s: float = 0.01

    def split(self, pieces: list[str]) -> tuple[list[str], list[str]]:
        """Cut ``pieces`` in two at a random point (the second part may be empty)."""
        if len(pieces) < 2:
            return pieces, []
        cut = self.rng.randint(1, len(pieces) - 1)
        return pieces[:cut], pieces[cut:]

    def thoughts_tokens(self) -> int:
        return self.rng.randint(5, 60) if self.chance(self.thoughts) else 0


def words_in_pieces(text: str, count: int) -> list[str]:
    """``text`` as about ``count`` streamed deltas whose concatenation is ``text``."""
    words = text.split(" ") if text else []
    if not words:
        return []
    count = max(1, min(count, len(words)))
    pieces: list[str] = []
    said = 0
    for index in range(count):
        upto = len(words) * (index + 1) // count
        piece = " ".join(words[said:upto])
        pieces.append((" " if said else "") + piece)
        said = upto
    return [p for p in pieces if p.strip()]
