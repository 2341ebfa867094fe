"""Wild mode: the fake behaves the way the OpenAI Realtime service does, not in one tidy order.

What the service really does that a tidy fake hides (OpenAI Realtime API
reference; openai-agents' and pipecat's realtime code, which handle each):

* the user's ``input_audio_transcription.completed`` is produced by a separate
  ASR model and may arrive after the assistant's whole reply;
* after ``input_audio_buffer.speech_started`` cancels a reply, deltas the
  server had already produced still arrive (the client must not play them);
* transcript and audio deltas are separate streams: a transcript piece may
  come before its audio;
* deltas come in bursts, not at an even pace;
* ``rate_limits.updated`` is informational and not sent with every response.

A :class:`Wild` makes those choices from a seeded random generator, so a
failing run is replayed exactly by its seed (``RTWS_WILD_SEED``).
"""

from __future__ import annotations

import asyncio
import os
import random
from dataclasses import dataclass, field

#: The environment variable that fixes the seed (a failing test prints the one it used).
SEED_ENV = "RTWS_WILD_SEED"


def seed_from_env() -> int:
    """``RTWS_WILD_SEED`` when set, else a fresh random seed (printed by the test on failure)."""
    value = os.environ.get(SEED_ENV, "").strip()
    return int(value) if value else random.SystemRandom().randrange(2**32)


@dataclass
class Wild:
    """Seeded disorder within what the Realtime protocol allows.

    Args:
        seed: the random seed; the same seed gives the same choices.
        late_transcript: chance that a user transcript completes after the reply's
            ``response.done``.
        in_flight: the most audio deltas still sent after speech cancelled a reply.
        transcript_first: chance that a transcript delta comes before its audio.
        max_delay_s: the longest pause between two deltas.
    """

    seed: int
    late_transcript: float = 0.5
    in_flight: int = 2
    transcript_first: float = 0.3
    max_delay_s: float = 0.005
    rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    @classmethod
    def coerce(cls, value: Wild | int | bool | None) -> Wild | None:
        """``True`` = a seed from the environment; an int = that seed; ``None``/``False`` = tidy."""
        if value is None or value is False:
            return None
        if value is True:
            return cls(seed_from_env())
        if isinstance(value, Wild):
            return value
        return cls(seed=value)

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def deltas_in_flight(self) -> int:
        return self.rng.randint(0, self.in_flight)

    async def pause(self) -> None:
        await asyncio.sleep(self.rng.uniform(0.0, self.max_delay_s))
