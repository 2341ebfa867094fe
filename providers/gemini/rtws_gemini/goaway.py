"""When to move to a new connection after Gemini's ``goAway``: the session-resumption clock.

The server says ``goAway`` some seconds before it ends a connection. The
transport moves (a planned reconnect with the newest resumption handle) at
the first point the handle covers everything said — no reply or tool call
open, no user words pending, the user quiet for a moment — and at the latest
shortly before the deadline. This class keeps that clock, apart from the
translation table; the transport tells it when the conversation is settled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

#: A mic chunk louder than this (RMS, dBFS) means the user is talking.
VOICE_DBFS = -45.0
#: After a goAway, quiet time that ends the user's turn for the move: long enough for the
#: server's end-of-speech and its first reply (which then holds the move to the turn's end).
GO_AWAY_PAUSE_S = 1.5


class GoAway:
    """The pending move after a ``goAway`` (none until one arrives)."""

    def __init__(self, move: Callable[[], None], settled: Callable[[], bool]) -> None:
        """``settled()``: whether the handle now covers everything said (no reply, tool
        call or user words open: speech sent to the old connection after its last
        handle would be missing from the resumed session)."""
        self._move = move
        self._settled = settled
        self.deadline: float | None = None  # loop time the server ends the connection
        self._timer: asyncio.TimerHandle | None = None
        self._requested = False
        self._voice_at = float("-inf")

    def heard(self, samples: npt.NDArray[np.int16]) -> None:
        """One mic chunk: remember when the user last spoke (and move if they paused)."""
        if _voiced(samples):
            self._voice_at = time.monotonic()
        self.maybe_move()

    def announced(self, time_left: float) -> None:
        """A ``goAway``: move by ``time_left`` seconds (minus a margin) at the latest."""
        loop = asyncio.get_running_loop()
        self.deadline = loop.time() + time_left
        self._cancel_timer()
        margin = min(2.0, time_left * 0.25)
        self._timer = loop.call_later(max(0.0, time_left - margin), self.move_now)

    def maybe_move(self) -> None:
        """Move if one is pending, the conversation is settled and the user is quiet."""
        if self.deadline is None:
            return
        quiet = time.monotonic() - self._voice_at >= GO_AWAY_PAUSE_S
        if quiet and self._settled():
            self.move_now()

    def move_now(self) -> None:
        if self._requested:
            return
        self._requested = True
        self._cancel_timer()
        self._move()

    def reset(self) -> None:
        """A new connection: no move pending."""
        self._cancel_timer()
        self.deadline = None
        self._requested = False

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _voiced(samples: npt.NDArray[np.int16]) -> bool:
    level = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0
    return level > 32768.0 * 10 ** (VOICE_DBFS / 20)
