"""Event delivery: callbacks, decorators and async iterators over RTVI messages.

A voice session emits dozens of events a second. A user's handler is their
code, not ours: if it raises or is slow, the session must go on. So sync
handlers run inline with their exceptions logged, async handlers run as
tracked tasks (awaited or cancelled on close, never leaked), and iterators
get a bounded queue that drops the oldest events rather than stall the
audio path when nobody reads it.

Async handlers get the same bound: at most :data:`MAX_PENDING_HANDLER_CALLS`
unfinished calls per handler. One more cancels the oldest (counted in
:attr:`EventBus.handler_calls_dropped`, and logged). Without it, an async
handler that never returns, on a server streaming 1,200 events a second,
left 6,150 pending tasks after 6 s, growing for as long as the session ran.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

from .redact import get_logger
from .rtvi import RTVIMessage

log = get_logger("rtws.events")

Handler = Callable[[RTVIMessage], Awaitable[None] | None]
H = TypeVar("H", bound=Callable[..., Any])

#: Subscribe to every event type.
ALL = "*"
#: Unfinished calls one async handler may have; ``events()``'s default queue size.
MAX_PENDING_HANDLER_CALLS = 1000
#: Seconds between two warnings about the same slow handler.
_DROP_WARNING_INTERVAL = 5.0


class _Subscription:
    """One ``events()`` iterator's queue; drops the oldest event when full."""

    def __init__(self, types: frozenset[str] | None, maxsize: int) -> None:
        self.types = types
        self.queue: asyncio.Queue[RTVIMessage | None] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, msg: RTVIMessage | None) -> None:
        if msg is not None and self.types is not None and msg.type not in self.types:
            return
        while True:
            try:
                self.queue.put_nowait(msg)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()
                self.dropped += 1


class EventBus:
    """Fan-out of RTVI messages to handlers and iterators, on the event loop thread."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        self._subscriptions: list[_Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()
        #: id(handler) -> its unfinished calls, oldest first (the bound's bookkeeping)
        self._pending: dict[int, collections.deque[tuple[asyncio.Task[None], Awaitable[None]]]] = {}
        self._warned_at: dict[int, float] = {}
        #: Async handler calls cancelled because the handler had too many unfinished.
        self.handler_calls_dropped = 0
        self.max_pending_handler_calls = MAX_PENDING_HANDLER_CALLS
        #: Called whenever a handler or iterator comes or goes (the transport's
        #: monitor runs level meters only while someone listens).
        self.on_listeners_changed: Callable[[], None] | None = None

    def _listeners_changed(self) -> None:
        if self.on_listeners_changed is not None:
            self.on_listeners_changed()

    def on(self, event_type: str, handler: Handler) -> Callable[[], None]:
        """Call ``handler(msg)`` on each ``event_type`` event ("*": all); returns an unsubscribe."""
        self._handlers.setdefault(event_type, []).append(handler)
        self._listeners_changed()

        def unsubscribe() -> None:
            handlers = self._handlers.get(event_type, [])
            if handler in handlers:
                handlers.remove(handler)
                self._listeners_changed()

        return unsubscribe

    def event_handler(self, event_type: str) -> Callable[[H], H]:
        """Decorator form of :meth:`on`."""

        def register(handler: H) -> H:
            self.on(event_type, handler)
            return handler

        return register

    def has_listeners(self, event_type: str) -> bool:
        """Whether anyone would receive an event of this type (so it is worth building)."""
        if self._handlers.get(event_type) or self._handlers.get(ALL):
            return True
        return any(s.types is None or event_type in s.types for s in self._subscriptions)

    def emit(self, msg: RTVIMessage) -> None:
        """Deliver ``msg`` to every matching handler and iterator. Never raises."""
        for sub in self._subscriptions:
            sub.offer(msg)
        for handler in (*self._handlers.get(msg.type, ()), *self._handlers.get(ALL, ())):
            try:
                result = handler(msg)
            except Exception:
                log.exception("event handler %r for %r failed", handler, msg.type)
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(self._guard(result, handler, msg.type))
                self._track(task, result, handler)

    def _track(self, task: asyncio.Task[None], call: Awaitable[None], handler: Handler) -> None:
        """Keep the task (so it is drained or cancelled at close), within the handler's bound."""
        self._tasks.add(task)
        key = id(handler)  # the list entry itself: stable while subscribed, even if unhashable
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = collections.deque()
        entry = (task, call)
        pending.append(entry)

        def finished(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            if pending and pending[0] is entry:
                pending.popleft()  # the usual case: calls finish in order
            elif entry in pending:
                pending.remove(entry)
            if not pending and self._pending.get(key) is pending:
                del self._pending[key]

        task.add_done_callback(finished)
        if len(pending) > self.max_pending_handler_calls:
            oldest, oldest_call = pending.popleft()
            oldest.cancel()
            if inspect.iscoroutine(oldest_call) and (
                inspect.getcoroutinestate(oldest_call) == inspect.CORO_CREATED
            ):
                oldest_call.close()  # never started: closed, not "never awaited"
            self.handler_calls_dropped += 1
            self._warn_dropped(key, handler)

    def _warn_dropped(self, key: int, handler: Handler) -> None:
        now = time.monotonic()
        if now - self._warned_at.get(key, -_DROP_WARNING_INTERVAL) < _DROP_WARNING_INTERVAL:
            return
        self._warned_at[key] = now
        log.warning(
            "async event handler %r is too slow: it has %d unfinished calls, so the oldest "
            "are cancelled (%d so far); make it faster or hand the work to a queue",
            handler,
            self.max_pending_handler_calls,
            self.handler_calls_dropped,
        )

    @staticmethod
    async def _guard(result: Awaitable[None], handler: Handler, event_type: str) -> None:
        try:
            await result
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("async event handler %r for %r failed", handler, event_type)

    async def events(
        self, types: Iterable[str] | None = None, maxsize: int = 1000
    ) -> AsyncIterator[RTVIMessage]:
        """Iterate over events (optionally only ``types``) until :meth:`end_iterators` is called."""
        sub = _Subscription(frozenset(types) if types is not None else None, maxsize)
        self._subscriptions.append(sub)
        self._listeners_changed()
        try:
            while (msg := await sub.queue.get()) is not None:
                yield msg
        finally:
            self._subscriptions.remove(sub)
            self._listeners_changed()
            if sub.dropped:
                log.warning("events() iterator dropped %d events it did not read", sub.dropped)

    def end_iterators(self) -> None:
        """Make every ``events()`` iterator finish once it has drained what it holds."""
        for sub in self._subscriptions:
            sub.offer(None)

    async def drain(self, grace: float = 2.0) -> None:
        """Let running async handlers finish (up to ``grace`` s), then cancel the rest."""
        pending = {t for t in self._tasks if not t.done()}
        if not pending:
            return
        _done, still = await asyncio.wait(pending, timeout=grace)
        for task in still:
            task.cancel()
        if still:
            await asyncio.gather(*still, return_exceptions=True)
            log.warning("cancelled %d event handlers still running at disconnect", len(still))
