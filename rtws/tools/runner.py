"""The runner: answers the model's function calls with the declared tools.

It is a layer on the transport's public API, the same one a user writing
tools by hand uses: it listens to ``llm-function-call-in-progress`` and
answers with ``send_message(rtvi.LLMFunctionCallResult(...))``, so every
provider that emits the one and understands the other gets tools for free,
and a call to a function the runner does not know is left to the user's own
handlers (manual mode).

What a call can end in, and what the model then reads:

* the function's return value (made JSON-able by pydantic);
* ``{"error": "..."}`` for invalid arguments, an exception or a timeout, so
  the model can apologise or retry; the user gets an RTVI ``error`` event and
  a log line, the session goes on;
* nothing at all when the call was cancelled: by the server
  (``llm-function-call-stopped`` with ``cancelled``, e.g. Gemini's
  ``toolCallCancellation``), by the user talking over it (barge-in, see
  :meth:`ToolRunner._on_user_speaking`), or because the session ended or
  reconnected (a new session does not know the call: neither OpenAI nor
  Gemini accepts a result for a call of an earlier connection).

Async tools run on the event loop; sync tools run in a thread of their own
(daemon, so a stuck tool cannot keep the process alive), so a blocking tool
never delays the microphone. Calls run concurrently; each result is sent as
soon as it is ready, and the provider orders what its protocol needs (OpenAI
asks for the next response once every open call is answered).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python

from .. import rtvi
from ..errors import ConfigurationError
from ..redact import get_logger, redact
from .declare import InvalidArguments, Tool

if TYPE_CHECKING:
    from ..transport import RealTimeWebsocketTransport

log = get_logger("rtws.tools")

#: Transport states in which a running call can no longer be answered.
_SESSION_OVER = frozenset({"connecting", "disconnecting", "disconnected", "error"})


@dataclass(eq=False)
class _Call:
    call_id: str
    tool: Tool
    arguments: dict[str, Any]
    epoch: int
    task: asyncio.Task[None] | None = None
    dropped: bool = False


class ToolRunner:
    """Runs a transport's function tools: ``transport.tool_runner``, one per transport."""

    def __init__(self, transport: RealTimeWebsocketTransport) -> None:
        self._transport = transport
        self._calls: dict[str, _Call] = {}
        self._epoch = 0  # +1 whenever the session ends or reconnects
        transport.on("llm-function-call-in-progress", self._on_call)
        transport.on("llm-function-call-stopped", self._on_stopped)
        transport.on("user-started-speaking", self._on_user_speaking)
        transport.on("transport-state-changed", self._on_state)
        #: Calls answered, failed (error result sent) and dropped; for tests and the CLI.
        self.answered = 0
        self.failed = 0
        self.dropped = 0

    # ---- registration
    @property
    def tools(self) -> list[Tool]:
        """The transport's function tools (its options' ``tools`` that are :class:`Tool`)."""
        declared: list[Any] = self._transport.options.tools  # providers add their own types
        return [t for t in declared if isinstance(t, Tool)]

    def add(self, tool: Tool) -> Tool:
        """Declare ``tool`` on the transport: it goes into ``options.tools``.

        Declarations reach the model when a session is configured: add tools
        before ``connect()`` (or they take effect at the next connect).
        """
        declared: list[Any] = self._transport.options.tools
        if any(t is tool for t in declared):
            return tool
        if any(getattr(t, "name", None) == tool.name for t in declared):
            raise ConfigurationError(f"a tool named {tool.name!r} is already declared")
        declared.append(tool)
        if self._transport.state not in ("disconnected", "initializing", "initialized", "error"):
            log.warning(
                "tool %s was added to a %s session: the model learns of it at the next connect",
                tool.name,
                self._transport.state,
            )
        return tool

    def register(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        **settings: Any,
    ) -> Any:
        """``transport.tool``: ``@transport.tool`` or ``@transport.tool(timeout=5)``."""

        def decorate(f: Callable[..., Any]) -> Tool:
            if isinstance(f, Tool):  # already declared (``@tool``): keep it, or re-declare
                return self.add(Tool(f.fn, **settings) if settings else f)
            return self.add(Tool(f, **settings))

        return decorate(fn) if fn is not None else decorate

    # ---- events
    def _on_call(self, msg: rtvi.LLMFunctionCallInProgress) -> None:
        data = msg.data
        tool = next((t for t in self.tools if t.name == data.function_name), None)
        if tool is None or data.tool_call_id in self._calls:
            return  # not ours: a handler of the user's answers it (manual mode)
        call = _Call(data.tool_call_id, tool, dict(data.arguments or {}), self._epoch)
        self._calls[call.call_id] = call
        call.task = asyncio.get_running_loop().create_task(
            self._run(call), name=f"rtws-tool-{tool.name}-{call.call_id}"
        )

    def _on_stopped(self, msg: rtvi.LLMFunctionCallStopped) -> None:
        call = self._calls.get(msg.data.tool_call_id)
        if call is not None and msg.data.cancelled:
            self._drop(call, "cancelled by the server")

    def _on_user_speaking(self, msg: rtvi.UserStartedSpeaking) -> None:
        """A barge-in cancels the calls whose tool allows it.

        ``user-started-speaking``, not ``bot-interrupted``: while a tool runs
        the bot is usually silent (it waits for the result), so there is
        nothing to interrupt, but the user moving on makes the pending answer
        stale. Gemini's server also cancels the calls of a turn the user
        interrupts (``toolCallCancellation``); OpenAI's never does, so for
        OpenAI this is the only way a barge-in ends a call. Either way the
        transport's call ledger emits the one ``llm-function-call-stopped``
        (cancelled), now, and refuses the call's result should one still come.
        """
        for call in list(self._calls.values()):
            if call.tool.cancel_on_interruption:
                self._drop(call, "the user interrupted")
                self._transport.function_call_cancelled(call.call_id)

    def _on_state(self, msg: rtvi.TransportStateChanged) -> None:
        if msg.data.state in _SESSION_OVER:
            self._epoch += 1
            # The transport's ledger stops every call a closed connection left open.
            self._drop_all(f"the session is {msg.data.state}")

    # ---- running one call
    async def _run(self, call: _Call) -> None:
        tool = call.tool
        failed = True
        try:
            try:
                kwargs = tool.validate(call.arguments)
                async with asyncio.timeout(tool.timeout):
                    value = await self._invoke(tool, kwargs)
                result: Any = to_jsonable_python(value)
                failed = False
            except asyncio.CancelledError:
                raise
            except InvalidArguments as exc:
                result = self._failure(call, str(exc))
            except TimeoutError:
                result = self._failure(
                    call, f"{tool.name} took longer than {tool.timeout:g} s and was stopped"
                )
            except Exception as exc:
                log.warning("tool %s raised", tool.name, exc_info=True)
                result = self._failure(call, f"{tool.name} failed: {type(exc).__name__}: {exc}")
            if not call.dropped and await self._answer(call, result) and not failed:
                self.answered += 1
        finally:
            self._calls.pop(call.call_id, None)

    @staticmethod
    async def _invoke(tool: Tool, kwargs: dict[str, Any]) -> Any:
        if tool.is_async:
            return await tool.fn(**kwargs)
        return await _in_thread(tool, kwargs)

    def _failure(self, call: _Call, text: str) -> dict[str, str]:
        self.failed += 1
        text = redact(text)
        self._transport.emit_error(f"tool call {call.call_id}: {text}", fatal=False)
        return {"error": text}

    async def _answer(self, call: _Call, result: Any) -> bool:
        """Send the result; False when it could not go (the user was told)."""
        if call.epoch != self._epoch:
            self._count_drop(call, "the session reconnected")
            return False
        data = rtvi.LLMFunctionCallResultData(
            function_name=call.tool.name,
            tool_call_id=call.call_id,
            arguments=call.arguments,
            result=result,
        )
        try:
            await self._transport.send_message(rtvi.LLMFunctionCallResult(data=data))
        except Exception as exc:
            message = redact(str(exc)) or type(exc).__name__
            log.warning("result of tool call %s not sent: %s", call.call_id, message)
            self._transport.emit_error(
                f"the result of {call.tool.name} ({call.call_id}) could not be sent: {message}"
            )
            return False
        return True

    # ---- cancelling
    def _drop(self, call: _Call, reason: str) -> None:
        """Cancel a running call; its result, if it comes, is never sent."""
        if call.dropped:
            return
        call.dropped = True
        self._calls.pop(call.call_id, None)
        self._count_drop(call, reason)
        if call.task is not None:
            call.task.cancel()  # a sync tool's thread finishes on its own; its result is ignored

    def _drop_all(self, reason: str) -> None:
        for call in list(self._calls.values()):
            self._drop(call, reason)

    def _count_drop(self, call: _Call, reason: str) -> None:
        self.dropped += 1
        log.info("tool call %s (%s) dropped: %s", call.call_id, call.tool.name, reason)


def _in_thread(tool: Tool, kwargs: dict[str, Any]) -> asyncio.Future[Any]:
    """Run a sync tool in a daemon thread of its own; the future holds its outcome.

    Not the loop's default executor: a tool that never returns would hold one
    of its few workers for ever, and make interpreter exit wait for it.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():  # timed out or cancelled meanwhile: nobody wants it
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def work() -> None:
        try:
            value, error = context.run(tool.fn, **kwargs), None
        except BaseException as exc:  # delivered to the awaiting task, not lost on the thread
            value, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed while the tool ran
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=work, name=f"rtws-tool-{tool.name}", daemon=True).start()
    return future
