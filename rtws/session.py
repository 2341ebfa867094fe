"""A transport's sessions: open one, keep it alive through drops, end it cleanly.

One :class:`Sessions` object per transport runs the documented sequence
(authenticate → ``connect_llm`` → media → connected → ``send_ready_message``
→ ready), the teardown (media, ``disconnect_llm``, socket, session tasks),
and reconnection with backoff. It owns every background task of a session,
and applies one rule to all of them: a task that dies of an unexpected
exception is logged once with its traceback and becomes an RTVI ``error``
event and the ``error`` state, never a silent hole (issue 16).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import rtvi
from .errors import ConnectionFailed, ConnectTimeout, RateLimited, RTWSError
from .redact import get_logger, redact
from .state import TransportState

if TYPE_CHECKING:
    from .transport import RealTimeWebsocketTransport

S = TransportState
log = get_logger("rtws.session")


@dataclass(slots=True)
class ReconnectPlan:
    """How one reconnect runs: decided once, when it is asked for, not on every attempt.

    A *planned* reconnect (the server asked us to move) starts at once with no
    error; one after a *loss* waits with backoff, reports the error, and keeps
    counting attempts when the last resume did not hold (``stable_after``).
    """

    attempts: int
    first: int
    immediate: str | None  # the reason of an immediate first attempt, or None
    error: RTWSError | None
    counts_attempts: bool


class Sessions:
    """Lifecycle and reconnection of ``transport``'s sessions (one at a time)."""

    def __init__(self, transport: RealTimeWebsocketTransport) -> None:
        self._t = transport
        self.tasks: set[asyncio.Task[Any]] = set()
        self.lost: asyncio.Future[RTWSError] | None = None
        self.ready = asyncio.Event()
        self.reconnect_task: asyncio.Task[None] | None = None
        self._failure_task: asyncio.Task[None] | None = None
        self._detached: set[asyncio.Future[None]] = set()
        self._provider_opened = False
        # Attempts used by the last unplanned reconnect, and when it succeeded: a
        # session lost again within ``reconnect.stable_after`` keeps counting.
        self._recent_attempts = 0
        self._reconnected_at = -float("inf")

    @property
    def reconnecting(self) -> bool:
        task = self.reconnect_task
        return task is not None and not task.done()

    # ------------------------------------------------------------------ tasks
    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """A session task: cancelled at the session's end; a crash fails the session."""
        t = self._t
        task = asyncio.create_task(coro, name=f"rtws-{t.provider_name}-{name}")
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.crashed(task.get_name(), exc)

    def crashed(self, what: str, exc: BaseException) -> None:
        """A session task died of a bug: say so once, with the traceback, and end the session."""
        t = self._t
        log.error("%s: %s failed", t.provider_name, what, exc_info=exc)
        detail = redact(str(exc)) or type(exc).__name__
        self.fail(ConnectionFailed(f"{what} failed: {detail}", retryable=False))

    def detached(self, coro: Coroutine[Any, Any, None]) -> None:
        """Work that must outlive the task that asked for it (e.g. disconnect-bot)."""
        task = asyncio.ensure_future(self._guarded(coro, "rtws-detached"))
        self._detached.add(task)
        task.add_done_callback(self._detached.discard)

    async def _guarded(self, coro: Awaitable[None], what: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.crashed(what, exc)

    async def cancel_tasks(self) -> None:
        current = asyncio.current_task()
        tasks = [task for task in self.tasks if task is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ opening
    async def open(self) -> None:
        """authenticate → connect_llm → media → connected → bot-ready → ready."""
        t = self._t
        self.lost = asyncio.get_running_loop().create_future()
        if t.wants_authentication():
            t._move(S.AUTHENTICATING)  # pyright: ignore[reportPrivateUsage]
            await t.authenticate()
            t._move(S.AUTHENTICATED)  # pyright: ignore[reportPrivateUsage]
        t._move(S.CONNECTING)  # pyright: ignore[reportPrivateUsage]
        await self.unless_lost(t.connect_llm())
        self._provider_opened = True
        media = t.media
        if not media.is_running:
            await media.start(t.media_format())
            uplink = t._uplink  # pyright: ignore[reportPrivateUsage]
            self.spawn(uplink.run(media, t.handle_user_audio_stream), "mic-pump")  # pyright: ignore[reportPrivateUsage]
            if t.supports_video:
                self.spawn(t.video.run(media.cameras, t.handle_user_video_frame), "video")
            t._monitor.start(media)  # pyright: ignore[reportPrivateUsage]
        t._move(S.CONNECTED)  # pyright: ignore[reportPrivateUsage]
        await self.unless_lost(t.send_ready_message())
        if t.state is not S.READY:
            await self.unless_lost(self.ready.wait())

    async def unless_lost(self, step: Coroutine[Any, Any, Any]) -> None:
        """Run a connect step, but fail it at once if the connection dies meanwhile.

        A provider's ``connect_llm`` typically waits for a "session ready" message;
        when the server closes instead (bad key as a close code, refused setup),
        waiting for the timeout would hide the real reason.
        """
        lost = self.lost
        assert lost is not None, "unless_lost() outside open()"
        task = asyncio.ensure_future(step)
        try:
            await asyncio.wait({task, lost}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise
        if task.done():
            task.result()
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise lost.result()

    # ------------------------------------------------------------------ failing and ending
    def fail(self, exc: BaseException) -> None:
        """A fatal error found by a handler or task: report it and tear down (once)."""
        if self._failure_task is not None and not self._failure_task.done():
            return
        if self._t.state in (S.DISCONNECTING, S.DISCONNECTED, S.ERROR):
            return
        self._failure_task = asyncio.ensure_future(self._guarded(self.fail_now(exc), "teardown"))

    async def fail_now(self, exc: BaseException) -> None:
        """Any failure: error event, ``error`` state, and every resource released."""
        if isinstance(exc, asyncio.CancelledError):
            return
        t = self._t
        log.warning(
            "%s session failed: %s", t.provider_name, redact(str(exc)) or type(exc).__name__
        )
        self.mark_failed(exc)
        await self.cleanup()

    def mark_failed(self, exc: BaseException) -> None:
        t = self._t
        if t.state not in (S.ERROR, S.DISCONNECTING):
            t.emit_error(str(exc) or type(exc).__name__, fatal=True)
            t._move(S.ERROR)  # pyright: ignore[reportPrivateUsage]

    async def cleanup(self) -> None:
        """Stop media, say goodbye to the LLM, close the socket, cancel session tasks."""
        t = self._t
        self.ready.set()
        t._uplink.close()  # pyright: ignore[reportPrivateUsage]
        media = t._media  # pyright: ignore[reportPrivateUsage]
        if media is not None:
            try:
                await media.stop()
            except Exception as exc:
                log.warning("error stopping media: %s", redact(str(exc)))
        await self.say_goodbye()
        await t._close_websocket()  # pyright: ignore[reportPrivateUsage]
        t._monitor.stop()  # pyright: ignore[reportPrivateUsage]
        await self.cancel_tasks()
        t.conversation.end_session()
        t.conversation.reset_speaking()

    def connection_opened(self) -> None:
        """``open_websocket`` succeeded: ``disconnect_llm`` is owed even if the setup fails."""
        self._provider_opened = True

    async def say_goodbye(self) -> None:
        """``disconnect_llm()`` once per opened session, whoever owns the connection."""
        if not self._provider_opened:
            return
        self._provider_opened = False
        t = self._t
        try:
            async with asyncio.timeout(2.0):
                await t.disconnect_llm()
        except Exception as exc:
            log.warning(
                "%s disconnect_llm failed: %s",
                t.provider_name,
                redact(str(exc)) or type(exc).__name__,
            )

    # ------------------------------------------------------------------ reconnection
    def planned(self, reason: str) -> None:
        """Reconnect now, on the provider's request (no error; one attempt at least)."""
        t = self._t
        if self.reconnecting or t.state not in (S.CONNECTED, S.READY):
            return
        policy = t.options.reconnect
        self._start(ReconnectPlan(max(1, policy.max_attempts), 1, reason, None, False))

    def lost_connection(self, exc: RTWSError) -> None:
        """The connection died under a live session: retry per policy, or fail."""
        lost = self.lost
        if lost is not None and not lost.done():
            lost.set_result(exc)
        t = self._t
        if t.state not in (S.CONNECTED, S.READY) or self.reconnecting:
            return
        policy = t.options.reconnect
        if not exc.retryable or policy.max_attempts == 0:
            self.fail(exc)
            return
        first = 1
        if time.monotonic() - self._reconnected_at < policy.stable_after:
            first = self._recent_attempts + 1  # the last resume did not hold
        self._start(ReconnectPlan(policy.max_attempts, first, None, exc, True))

    def _start(self, plan: ReconnectPlan) -> None:
        self._t._uplink.hold()  # pyright: ignore[reportPrivateUsage]
        self.reconnect_task = asyncio.ensure_future(
            self._guarded(self._reconnect(plan), "reconnect")
        )

    async def _reconnect(self, plan: ReconnectPlan) -> None:
        """Retry with backoff and jitter until a session is ready or the plan runs out."""
        t = self._t
        policy = t.options.reconnect
        last = plan.error
        for attempt in range(plan.first, plan.attempts + 1):
            if plan.immediate is not None and attempt == plan.first:
                delay, reason = 0.0, plan.immediate
            else:
                delay = policy.delay(attempt, random.random())
                if isinstance(last, RateLimited) and last.retry_after is not None:
                    delay = max(delay, last.retry_after)
                reason = redact(str(last)) if last is not None else "reconnecting"
                t.emit_error(
                    f"{reason}; reconnecting (attempt {attempt} of {plan.attempts})", fatal=False
                )
            data = rtvi.ReconnectingData(
                attempt=attempt, max_attempts=plan.attempts, delay_s=round(delay, 3), reason=reason
            )
            t.emit(rtvi.Reconnecting(data=data))
            await self._end_connection()
            await asyncio.sleep(delay)
            try:
                async with asyncio.timeout(t.options.connect_timeout):
                    self.ready = asyncio.Event()
                    await self.open()
            except TimeoutError:
                last = ConnectTimeout(f"reconnecting to {t.provider_name} timed out")
                continue
            except RTWSError as err:
                last = err
                if not err.retryable:
                    break
                continue
            t.stats.reconnects += 1
            self._recent_attempts = attempt if plan.counts_attempts else 0
            self._reconnected_at = time.monotonic()
            t.emit(
                rtvi.Reconnected(data=rtvi.ReconnectedData(attempt=attempt, resumed=t.can_resume()))
            )
            return
        await self.fail_now(last or ConnectionFailed(f"could not reconnect to {t.provider_name}"))

    async def _end_connection(self) -> None:
        """Between attempts: the old connection, its tasks and its open reply end here."""
        t = self._t
        # What was queued for the speaker belongs to a reply the new session may not
        # continue: stop it rather than play it late.
        t.media.flush()
        t.conversation.bot_stopped()
        if t.state is not S.CONNECTING:
            t._move(S.CONNECTING)  # pyright: ignore[reportPrivateUsage]
        self._provider_opened = False  # a lost connection gets no goodbye
        await t._close_websocket()  # pyright: ignore[reportPrivateUsage]
        await self.cancel_provider_tasks()
        t.conversation.end_session()

    async def cancel_provider_tasks(self) -> None:
        """Session tasks of the provider (keepalives, readers) die with their connection;
        the mic pump and the camera path live on (they wait for the next one)."""
        current = asyncio.current_task()
        tasks = [
            task
            for task in self.tasks
            if task is not current and not task.get_name().endswith(("-mic-pump", "-video"))
        ]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
