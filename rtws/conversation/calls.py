"""The tool-call ledger: which function calls are open, and the events that tell the user.

Every call goes through the same documented order, whatever the protocol:

``llm-function-call-started`` → ``llm-function-call-in-progress`` (arguments
complete) → ``llm-function-call-stopped`` (``cancelled=False`` with the
result the user sent, or ``cancelled=True`` when the server withdrew it, the
user talked over it (:class:`~rtws.tools.ToolRunner`), the reply ended before
its arguments were complete, or the session ended).

A call stops once: several parties may cancel the same call (the tool runner
at a barge-in, then Gemini's ``toolCallCancellation`` for the same turn), and
the ledger is the one place that knows it already said so.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import rtvi

#: Ended call ids remembered, so a late result for a cancelled one is recognised and not
#: sent, and a second cancellation of a call that already stopped emits nothing.
CANCELLED_KEPT = 64


@dataclass(slots=True)
class Call:
    call_id: str
    name: str
    reply_id: str | None
    arguments_done: bool = False


class CallLedger:
    """Open calls by id; emits the call events through ``emit``."""

    def __init__(self, emit: Callable[[rtvi.RTVIMessage], None]) -> None:
        self._emit = emit
        self.open: dict[str, Call] = {}
        self._cancelled: collections.deque[str] = collections.deque(maxlen=CANCELLED_KEPT)
        self._answered: collections.deque[str] = collections.deque(maxlen=CANCELLED_KEPT)

    @property
    def waiting(self) -> bool:
        """Whether a call with complete arguments still waits for its result."""
        return any(call.arguments_done for call in self.open.values())

    def started(self, call_id: str, name: str, reply_id: str | None = None) -> Call:
        if not isinstance(call_id, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            # A malformed server message: refused before it enters the ledger, where an
            # id that is not a string would break every later event about the call.
            raise TypeError(f"a function call id must be a string, not {type(call_id).__name__}")
        call = self.open.get(call_id)
        if call is None:
            # The event first: a name it refuses leaves no half-registered call behind.
            started = rtvi.LLMFunctionCallStarted(
                data=rtvi.LLMFunctionCallStartedData(function_name=name)
            )
            call = self.open[call_id] = Call(call_id, name, reply_id)
            self._emit(started)
        return call

    def arguments(
        self,
        call_id: str,
        name: str,
        arguments: dict[str, Any] | None,
        reply_id: str | None = None,
    ) -> None:
        call = self.started(call_id, name, reply_id)
        if call.arguments_done:
            return
        call.arguments_done = True
        call.name = call.name or name
        self._emit(
            rtvi.LLMFunctionCallInProgress(
                data=rtvi.LLMFunctionCallInProgressData(
                    tool_call_id=call_id, function_name=call.name, arguments=arguments
                )
            )
        )

    def result(self, call_id: str, result: Any, name: str | None = None) -> bool:
        """The user's result: False when the call was cancelled (do not send it)."""
        if call_id in self._cancelled:
            return False
        call = self.open.pop(call_id, None)
        function_name = call.name if call is not None else name
        self._answered.append(call_id)
        self._emit(_stopped(call_id, function_name, cancelled=False, result=result))
        return True

    def cancelled(self, call_id: str) -> bool:
        """Whether the server withdrew this call (its result must not be sent)."""
        return call_id in self._cancelled

    def name_of(self, call_id: str) -> str | None:
        call = self.open.get(call_id)
        return call.name if call is not None else None

    def cancel(self, call_id: str) -> None:
        """The call is over without a result; nothing when it had already stopped."""
        call = self.open.pop(call_id, None)
        if call is None and (call_id in self._cancelled or call_id in self._answered):
            return
        if call_id not in self._cancelled:
            self._cancelled.append(call_id)
        self._emit(_stopped(call_id, call.name if call else None, cancelled=True))

    def reply_ended(self, reply_id: str | None) -> None:
        """Calls of a reply that ended before their arguments were complete are cancelled."""
        for call in [c for c in self.open.values() if c.reply_id == reply_id]:
            if not call.arguments_done:
                self.cancel(call.call_id)

    def cancel_all(self) -> None:
        """The session ended: no open call can be answered any more."""
        for call_id in list(self.open):
            self.cancel(call_id)

    def clear(self) -> None:
        self.open.clear()
        self._cancelled.clear()
        self._answered.clear()


def _stopped(
    call_id: str, name: str | None, *, cancelled: bool, result: Any = None
) -> rtvi.LLMFunctionCallStopped:
    return rtvi.LLMFunctionCallStopped(
        data=rtvi.LLMFunctionCallStoppedData(
            tool_call_id=call_id, cancelled=cancelled, function_name=name, result=result
        )
    )
