"""The conformance kit, second half: the conversation a user hears, and a clean session end.

The first half (:mod:`.suite`) checks the transport contract: states, hooks,
audio both ways, one interruption. These checks catch the mistakes a provider
author makes next, each seen in a real provider: a reply id reused for every
reply (every reply after the first barge-in silently dropped), audio in flight
refilling the speaker after a flush, an end-of-audio signal ignored (a short
reply never plays), a keepalive task never cancelled, a typed message or a
function result never sent, a server error swallowed, a refused key retried.

Most of these checks need one optional server action, a capability mixin of
:mod:`.harness` (:class:`~rtws.testing.LateAudioHarness`, ...); a check whose
mixin the harness does not inherit is skipped, naming it.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, TypeVar

import pytest

from .. import rtvi
from ..errors import AuthenticationError
from ..media.file import FileMediaManager
from ..state import TransportState
from ..transport import RealTimeWebsocketTransport
from .harness import (
    BadCredentialsHarness,
    FunctionCallHarness,
    LateAudioHarness,
    ProviderHarness,
    ServerErrorHarness,
    TypedTextHarness,
)
from .probes import EventLog, session_tasks, wait_for
from .signals import audible_span, dominant_frequency, tone
from .suite import DEVICE_RATE, ContractChecks

S = TransportState
Capability = TypeVar("Capability")


def _needs(harness: ProviderHarness, capability: type[Capability]) -> Capability:
    """``harness`` as the capability mixin a check needs, or skip the check, naming the mixin.

    A harness written for the first kit defines the action but not the mixin (the
    actions were methods of :class:`ProviderHarness` then): that check fails with the
    one-line migration instead of being skipped, so no check silently stops running.
    """
    if isinstance(harness, capability):
        return harness
    name = f"rtws.testing.{capability.__name__}"
    actions: frozenset[str] = getattr(capability, "__abstractmethods__", frozenset())
    defined = sorted(n for n in actions if hasattr(harness, n))
    if defined:
        pytest.fail(
            f"{type(harness).__name__} defines {', '.join(defined)} but does not inherit "
            f"{name}: add {capability.__name__} to its bases (the kit's opt-in since v2)"
        )
    pytest.skip(f"{type(harness).__name__} does not inherit {name}")


class ProviderConformance(ContractChecks):
    """Inherit as ``class TestMyProviderConformance(ProviderConformance)``; see :mod:`.suite`.

    Works with pytest-asyncio in its default (strict) mode: every check carries
    the ``asyncio`` mark, so no ``asyncio_mode = "auto"`` is needed.
    """

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.asyncio]

    # ------------------------------------------------------------------ replies
    async def test_a_short_reply_plays_out(self, harness: ProviderHarness) -> None:
        """A reply shorter than the prebuffer plays only if the end of its audio is signalled."""
        media = self.fast_media()
        transport = self.new_transport(harness, media)
        await self.connect(transport)
        seconds = max(0.02, transport.options.prebuffer_ms / 2000)
        await harness.server_say(tone(seconds, transport.output_sample_rate, 440.0))
        await wait_for(
            lambda: audible_span(media.output_audio()) is not None,
            self.timeout,
            "a reply shorter than the prebuffer to play (is the end of its audio signalled?)",
        )
        await transport.disconnect()

    async def test_the_reply_after_a_barge_in_is_audible(self, harness: ProviderHarness) -> None:
        """Each reply gets its own id: one reused for every reply mutes all after a barge-in."""
        transport, media, cut = await self._cut_a_reply_short(harness)
        await harness.server_say(tone(0.5, transport.output_sample_rate, 880.0))
        await self._heard_after(media, cut, "the reply after a barge-in")
        await transport.disconnect()
        after = media.output_audio()[cut:]
        span = audible_span(after)
        assert span is not None, "the reply after a barge-in was never heard"
        heard = after[span[0] : span[1] + 1]
        assert abs(dominant_frequency(heard, DEVICE_RATE) - 880.0) < 10
        assert len(heard) >= 0.4 * DEVICE_RATE, f"only {len(heard) / DEVICE_RATE:.2f} s heard"

    async def test_late_audio_of_an_interrupted_reply_is_never_played(
        self, harness: ProviderHarness
    ) -> None:
        server = _needs(harness, LateAudioHarness)
        transport, media, cut = await self._cut_a_reply_short(harness)
        rate = transport.output_sample_rate
        await server.server_late_audio(tone(0.5, rate, 660.0))
        await asyncio.sleep(0.3)  # time for late audio to reach the speaker, if it wrongly did
        late = media.output_audio()[cut:]
        assert audible_span(late) is None, "audio of the interrupted reply was played"
        await harness.server_say(tone(0.5, rate, 880.0))  # and the next reply still is
        await self._heard_after(media, cut, "the reply after the late audio")
        await transport.disconnect()
        heard = media.output_audio()[cut:]
        assert abs(dominant_frequency(heard, DEVICE_RATE) - 880.0) < 10
        assert transport.stats.late_audio_dropped > 0

    # ------------------------------------------------------------------ client messages
    async def test_send_text_reaches_the_server(self, harness: ProviderHarness) -> None:
        server = _needs(harness, TypedTextHarness)
        transport = self.new_transport(harness, self.fast_media())
        await self.connect(transport)
        before = len(server.received_texts())
        text = "rtws conformance: hello"
        await transport.send_message(rtvi.SendText(data=rtvi.SendTextData(content=text)))
        await wait_for(
            lambda: text in server.received_texts()[before:], self.timeout, "the typed text"
        )
        await transport.disconnect()

    async def test_function_call_round_trip_in_the_documented_order(
        self, harness: ProviderHarness
    ) -> None:
        server = _needs(harness, FunctionCallHarness)
        transport = self.new_transport(harness, self.fast_media())
        log = EventLog(transport)
        answer = {"temperature_c": 21}

        async def reply(message: rtvi.RTVIMessage) -> None:
            assert isinstance(message, rtvi.LLMFunctionCallInProgress)
            data = rtvi.LLMFunctionCallResultData(
                function_name=message.data.function_name or "",
                tool_call_id=message.data.tool_call_id,
                arguments=message.data.arguments or {},
                result=answer,
            )
            await transport.send_message(rtvi.LLMFunctionCallResult(data=data))

        transport.on("llm-function-call-in-progress", reply)
        await self.connect(transport)
        await server.server_call_function("get_weather", {"city": "Oslo"})
        await wait_for(server.function_results, self.timeout, "the function result")
        await transport.disconnect()
        calls = [m for m in log.events if m.type.startswith("llm-function-call")]
        assert [m.type for m in calls] == [
            "llm-function-call-started",
            "llm-function-call-in-progress",
            "llm-function-call-stopped",
        ]
        started, progress, stopped = calls
        assert isinstance(started, rtvi.LLMFunctionCallStarted)
        assert isinstance(progress, rtvi.LLMFunctionCallInProgress)
        assert isinstance(stopped, rtvi.LLMFunctionCallStopped)
        assert started.data.function_name == progress.data.function_name == "get_weather"
        assert progress.data.arguments == {"city": "Oslo"}
        assert stopped.data.tool_call_id == progress.data.tool_call_id
        assert stopped.data.cancelled is False
        assert stopped.data.result == answer
        [(call_id, result)] = server.function_results()
        assert call_id == progress.data.tool_call_id
        assert result in (answer, _json(answer))

    # ------------------------------------------------------------------ errors
    async def test_a_server_error_becomes_an_error_event(self, harness: ProviderHarness) -> None:
        server = _needs(harness, ServerErrorHarness)
        transport = self.new_transport(harness, self.fast_media())
        log = EventLog(transport)
        await self.connect(transport)
        await server.server_error("rtws conformance: a refused request")
        await wait_for(lambda: log.of_type("error"), self.timeout, "an error event")
        [error] = log.of_type("error")
        assert isinstance(error, rtvi.Error)
        assert not error.data.fatal
        assert "rtws conformance" in error.data.error
        assert transport.state is S.READY  # a non-fatal error leaves the session up
        await transport.disconnect()

    async def test_refused_credentials_are_not_retried(self, harness: ProviderHarness) -> None:
        server = _needs(harness, BadCredentialsHarness)
        transport = self.remember(server.make_transport_with_bad_credentials(self.fast_media()))
        log = EventLog(transport)
        try:
            await self.connect(transport)
        except Exception as exc:
            error = exc
        else:
            pytest.fail("connect() succeeded with credentials the server refuses")
        assert isinstance(error, AuthenticationError), (
            f"refused credentials raised {type(error).__name__}, not AuthenticationError"
        )
        assert error.retryable is False
        assert transport.state is S.ERROR
        assert not log.of_type("reconnecting")
        errors = [e for e in log.of_type("error") if isinstance(e, rtvi.Error)]
        assert errors, "no error event for the refused credentials"
        assert all(e.data.fatal for e in errors)
        await transport.disconnect()

    # ------------------------------------------------------------------ cleanup
    async def test_session_tasks_and_keepalives_end_with_the_session(
        self, harness: ProviderHarness
    ) -> None:
        """Every task the session started ends with it, named ``rtws-*`` or not."""
        media = self.fast_media()
        transport = self.new_transport(harness, media)
        before = set(asyncio.all_tasks())
        await self.connect(transport)
        await asyncio.sleep(0.3)  # long enough for a keepalive to have started beating
        during = session_tasks(transport, before)
        await transport.disconnect()
        await wait_for(
            lambda: not session_tasks(transport, before),
            1.0,
            f"the session's tasks to end: {session_tasks(transport, before)}",
        )
        assert during, "no session task was seen while connected (the probe is blind)"

    async def _cut_a_reply_short(
        self, harness: ProviderHarness
    ) -> tuple[RealTimeWebsocketTransport, FileMediaManager, int]:
        """A session whose first reply (a 2 s tone) the user barged into after 200 ms;
        returns it with its media and the output sample where the interruption fell."""
        media = self.realtime_media()
        transport = self.new_transport(harness, media)
        await self.connect(transport)
        await harness.server_say(tone(2.0, transport.output_sample_rate, 440.0))
        await wait_for(lambda: media.mark().played_ms >= 200, self.timeout, "the first reply")
        await harness.server_interrupt()
        await wait_for(lambda: not transport.is_bot_speaking, self.timeout, "the interruption")
        return transport, media, media.output_samples

    async def _heard_after(self, media: FileMediaManager, start: int, what: str) -> None:
        """Wait until audio is heard after output sample ``start``, then for the speaker
        to fall idle (the reply played out)."""
        await wait_for(
            lambda: audible_span(media.output_audio()[start:]) is not None,
            self.timeout,
            f"{what} to be heard",
        )
        await media.wait_output_idle(timeout=self.timeout)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


__all__ = ["DEVICE_RATE", "ProviderConformance"]
