"""When a response's next output is due, and whether it was cancelled meanwhile.

A response streams at ``pace`` x real time so a client can barge in
mid-reply, and a cancel must stop it at the next delta, however long the
current wait. One :class:`Pacer` per response keeps that clock and that
cancel, apart from what the response sends (:mod:`.response`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from .wild import Wild

T = TypeVar("T")


@dataclass
class Streaming:
    """How fast responses stream: ``pace`` 0 = as fast as possible, 1.0 = real time."""

    pace: float = 0.0
    piece_ms: int = 40
    latency: float = 0.0  # seconds between response.created and the first output
    wild: Wild | None = None  # the service's disorder (see .wild); None = the tidy order


class Pacer:
    """One response's output clock and its cancel.

    Wild: a cancel by speech still lets ``in_flight`` deltas out, the ones
    the service had already produced when the user spoke.
    """

    def __init__(self, streaming: Streaming) -> None:
        self.streaming = streaming
        self._cancel = asyncio.Event()
        self._sleeper: asyncio.Future[None] | None = None  # what sleep() waits on
        self._clock: float | None = None
        self._in_flight = 0

    def cancel(self, in_flight: int = 0) -> None:
        self._in_flight = in_flight
        self._cancel.set()
        if self._sleeper is not None:
            _wake(self._sleeper)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def may_send(self) -> bool:
        """Whether the next delta goes out: not after a cancel, but for those in flight."""
        if not self.cancelled:
            return True
        if self._in_flight <= 0:
            return False
        self._in_flight -= 1
        return True

    async def pace(self, seconds: float) -> bool:
        """Wait until ``seconds`` more of output is due; False if cancelled meanwhile."""
        loop = asyncio.get_running_loop()
        wild = self.streaming.wild
        if wild is not None and self._in_flight <= 0:
            await wild.pause()
        if self._clock is None:
            self._clock = loop.time()
        self._clock += seconds * self.streaming.pace
        return await self.sleep(max(0.0, self._clock - loop.time()))

    async def sleep(self, seconds: float) -> bool:
        """Sleep unless cancelled meanwhile; False if cancelled.

        A future woken by a timer or by :meth:`cancel`: ``wait_for`` on the
        cancel event would start a task per audio delta, a fleet's worth of
        them every 40 ms.
        """
        if seconds <= 0 or self.cancelled:
            await asyncio.sleep(0)
            return not self.cancelled or self._in_flight > 0
        loop = asyncio.get_running_loop()
        self._sleeper = waiter = loop.create_future()
        timer = loop.call_later(seconds, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._sleeper = None
        return not self.cancelled

    async def until_cancelled(self, work: Awaitable[T]) -> T | None:
        """``work``'s result, or None if the response is cancelled first (work is abandoned)."""
        task: asyncio.Future[T] = asyncio.ensure_future(_as_coroutine(work))
        waiter = asyncio.ensure_future(self._cancel.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                return task.result()
            return None
        finally:
            for pending in (task, waiter):
                if not pending.done():
                    pending.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await pending


async def _as_coroutine(work: Awaitable[T]) -> T:
    return await work


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
