"""The part of a fake server each accepted socket carries: its record, its tasks, its end.

A provider's connection class (its protocol) builds on :class:`ServedConnection`
and adds ``run`` (reading the client) and ``send`` (its framing); what is the
same for every fake, how background work is started and stopped and how a
close or a drop is recorded, is here once. :mod:`.fakeserver` is the server
side.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from .records import ClosedBy, ConnectionRecord

__all__ = ["ServedConnection", "Tasks"]

R = TypeVar("R", bound=ConnectionRecord)
#: A close frame's reason is at most 123 bytes of UTF-8.
MAX_CLOSE_REASON = 123


class Tasks:
    """A connection's background work (replies, timed actions), cancelled together at its end.

    The client may leave while a reply is still being sent: the
    ``ConnectionClosed`` that ends such work is the end of it, not an error.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(_guarded(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # A task cancelled before it ran never awaited ``coro``: close it (no warning).
        task.add_done_callback(lambda _: coro.close())
        return task

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def finish(self) -> None:
        """Cancel every task and wait until each has ended."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _guarded(coro: Coroutine[Any, Any, None]) -> None:
    with contextlib.suppress(ConnectionClosed):
        await coro


class ServedConnection(Generic[R]):
    """What each accepted socket of a fake carries: its record, its tasks, how it ends.

    A provider's connection class adds ``run`` (its protocol) and ``send``
    (its framing).
    """

    def __init__(self, ws: ServerConnection, record: R, notify: Callable[[], None]) -> None:
        self.ws = ws
        self.record = record
        self.notify = notify
        self.tasks = Tasks()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self.tasks.spawn(coro)

    def stop(self) -> None:
        self.tasks.cancel()

    async def close(self, code: int, reason: str, by: ClosedBy = "server") -> None:
        """Close with ``code`` and ``reason`` (cut to what a close frame holds); recorded."""
        reason = reason.encode("utf-8")[:MAX_CLOSE_REASON].decode("utf-8", "ignore")
        self.record.closing(code, reason, by)
        # Shielded: a reply task cancelled mid-close still completes the close.
        await asyncio.shield(self.ws.close(code, reason))

    async def drop(self) -> None:
        """Cut the connection without a close frame, as a network failure does."""
        self.record.closing(None, "", "drop")
        self.ws.transport.abort()

    def ended(self) -> None:
        """The socket is closed: what the record says about the close, if nothing did yet."""
        self.record.closing(self.ws.close_code, self.ws.close_reason or "", "client")
        self.notify()
