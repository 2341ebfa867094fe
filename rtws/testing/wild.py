"""The seeded-randomness core both fakes' wild modes share.

A fake server in wild mode breaks the tidy message order the way its live
service does; what it breaks is the provider's business (its own ``Wild``
subclass), but how a run is made replayable is the same everywhere: one seed,
from ``RTWS_WILD_SEED`` or fresh, drives every choice, so a failing test that
prints its seed is replayed exactly.
"""

from __future__ import annotations

import asyncio
import os
import random
from dataclasses import dataclass, field
from typing import Self

#: The environment variable that fixes the seed (a failing test prints the one it used).
SEED_ENV = "RTWS_WILD_SEED"


def seed_from_env() -> int:
    """``RTWS_WILD_SEED`` when set, else a fresh random seed (printed by the test on failure)."""
    value = os.environ.get(SEED_ENV, "").strip()
    return int(value) if value else random.SystemRandom().randrange(2**32)


@dataclass
class SeededWild:
    """A seed and the random generator it drives; subclasses add the chances.

    Args:
        seed: the random seed; the same seed gives the same choices.
        max_delay_s: the longest pause between two messages.
    """

    seed: int
    max_delay_s: float = 0.01
    rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    @classmethod
    def coerce(cls, value: Self | int | bool | None) -> Self | None:
        """``True`` = a seed from the environment; an int = that seed; ``None``/``False`` = tidy."""
        if value is None or value is False:
            return None
        if value is True:
            return cls(seed_from_env())
        if isinstance(value, int):
            return cls(seed=value)
        return value

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    async def pause(self) -> None:
        """A short, random gap between two messages (the streams are not in lockstep)."""
        await asyncio.sleep(self.rng.uniform(0.0, self.max_delay_s))
