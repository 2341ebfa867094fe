"""Observers the conformance checks attach to a live transport.

They watch, they never replace: each probe wraps a real method or
subscribes to real events and records what happened (and in which state),
so what the kit verifies is the provider's real behaviour over a real socket.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from .. import rtvi
from ..audio import PlaybackMark
from ..media.base import MediaManager
from ..state import TransportState
from ..transport import HOOKS, RealTimeWebsocketTransport


async def wait_for(condition: Callable[[], object], within: float, what: str) -> None:
    """Poll ``condition`` every 10 ms; fail naming ``what`` if it stays false ``within`` s."""
    try:
        async with asyncio.timeout(within):
            while not condition():  # noqa: ASYNC110 - any condition, no event to await
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out after {within:g} s waiting for {what}") from None


def rtws_tasks() -> list[asyncio.Task[Any]]:
    """Tasks rtws started and has not finished (the transport names them all ``rtws-*``)."""
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("rtws-") and not t.done()]


def session_tasks(
    transport: RealTimeWebsocketTransport, before: set[asyncio.Task[Any]]
) -> list[asyncio.Task[Any]]:
    """Unfinished tasks started since ``before`` that belong to ``transport``'s session.

    Not only the ``rtws-*`` ones the base names: a task whose coroutine runs a
    method of the transport (``asyncio.create_task(self._keepalive())``) or
    code from the provider's module counts too — exactly the task a provider
    forgets to cancel.
    """
    module = type(transport).__module__
    found: list[asyncio.Task[Any]] = []
    for task in asyncio.all_tasks():
        if task in before or task.done() or task is asyncio.current_task():
            continue
        coro = task.get_coro()
        frame = getattr(coro, "cr_frame", None)
        owner = frame.f_locals.get("self") if frame is not None else None
        code_module = frame.f_globals.get("__name__") if frame is not None else None
        if (
            task.get_name().startswith("rtws-")
            or owner is transport
            or (code_module == module and module != __name__)
        ):
            found.append(task)
    return found


def foreign_threads(before: set[int | None]) -> list[threading.Thread]:
    """Live threads that did not exist in ``before`` (a ``threading.enumerate()`` id snapshot).

    The event loop's default executor (threads named ``asyncio_N``) is left
    out: it belongs to the loop, lives as long as the loop does, and asyncio
    itself starts it (e.g. for DNS lookups).
    """
    return [
        t
        for t in threading.enumerate()
        if t.ident not in before and t.is_alive() and not t.name.startswith("asyncio_")
    ]


def thread_ids() -> set[int | None]:
    return {t.ident for t in threading.enumerate()}


@dataclass(slots=True)
class HookCall:
    hook: str
    #: The transport's state when the hook was called.
    state: TransportState


class HookRecorder:
    """Records every provider hook call (and the state it ran in) on one transport instance."""

    def __init__(self, transport: RealTimeWebsocketTransport) -> None:
        self.calls: list[HookCall] = []
        self._transport = transport
        for name in HOOKS:
            if name == "send_message":
                continue  # called by the user, not by the base: nothing to order
            setattr(transport, name, self._wrap(name, getattr(transport, name)))

    def _wrap(
        self, name: str, hook: Callable[..., Coroutine[Any, Any, None]]
    ) -> Callable[..., Coroutine[Any, Any, None]]:
        async def recorded(*args: Any, **kwargs: Any) -> None:
            self.calls.append(HookCall(name, self._transport.state))
            await hook(*args, **kwargs)

        return recorded

    def sequence(self) -> list[str]:
        """Hook names in call order, runs of ``handle_user_audio_stream`` collapsed to one."""
        names: list[str] = []
        for call in self.calls:
            if names and names[-1] == call.hook == "handle_user_audio_stream":
                continue
            names.append(call.hook)
        return names

    def states(self, hook: str) -> set[TransportState]:
        return {c.state for c in self.calls if c.hook == hook}


class EventLog:
    """Every event the transport emitted, in order, plus the state it was emitted in."""

    def __init__(self, transport: RealTimeWebsocketTransport) -> None:
        self.events: list[rtvi.RTVIMessage] = []
        self.states_at: list[TransportState] = []
        self._transport = transport
        transport.on("*", self._record)

    def _record(self, message: rtvi.RTVIMessage) -> None:
        self.events.append(message)
        self.states_at.append(self._transport.state)

    def of_type(self, *types: str) -> list[rtvi.RTVIMessage]:
        return [m for m in self.events if m.type in types]

    def types(self, *only: str) -> list[str]:
        return [m.type for m in self.events if not only or m.type in only]

    def states(self) -> list[str]:
        """The ``transport-state-changed`` sequence, as state names."""
        changes = self.of_type("transport-state-changed")
        return [m.data.state for m in changes if isinstance(m, rtvi.TransportStateChanged)]


@dataclass(slots=True)
class Interruption:
    mark: PlaybackMark
    #: Samples the speaker had played (``FileMediaManager.output_samples``) when it was flushed.
    output_position: int


@dataclass(slots=True)
class MarkRecorder:
    """Captures each :class:`PlaybackMark` the provider got from ``user_started_speaking()``."""

    transport: RealTimeWebsocketTransport
    media: MediaManager
    interruptions: list[Interruption] = field(default_factory=list[Interruption])

    def __post_init__(self) -> None:
        original = self.transport.user_started_speaking

        def recorded() -> PlaybackMark:
            mark = original()
            position = getattr(self.media, "output_samples", 0)
            self.interruptions.append(Interruption(mark, int(position)))
            return mark

        setattr(self.transport, "user_started_speaking", recorded)  # noqa: B010 - instance patch
