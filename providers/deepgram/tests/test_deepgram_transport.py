"""The Deepgram transport end to end: real websockets to the fake, real WAV files, real events.

Every JSON message the provider sends is validated against the
``deepgram-sdk`` agent v1 send models (``check_client_message``), and every
message the fake answers with against the receive models.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr
from rtws_deepgram import AgentFunction, DeepgramVoiceAgentOptions, DeepgramVoiceAgentTransport
from rtws_deepgram.testing import FakeDeepgramAgent, FunctionCall, Reply, options_for, running_fake

from rtws import FileMediaManager, ReconnectPolicy, TransportState, rtvi
from rtws.errors import AuthenticationError, ConnectionFailed, ConnectTimeout
from rtws.testing.probes import EventLog, rtws_tasks, wait_for
from rtws.testing.signals import audible_span, dominant_frequency, tone

from .conftest import SPEECH_16K, SPEECH_24K, FakeSession
from .sdk_check import check_client_message, check_server_message

NO_RETRY = ReconnectPolicy(max_attempts=0)


def validate_wire(server: FakeDeepgramAgent) -> None:
    for record in server.connections:
        for message in record.received:
            check_client_message(message)
        for message in record.sent:
            check_server_message(message)


@pytest.fixture
async def fake(fake: FakeSession) -> AsyncIterator[FakeSession]:
    yield fake
    validate_wire(fake.server)


def silent_mic(rate: int = 16000) -> FileMediaManager:
    return FileMediaManager(None, input_rate=rate, realtime=False)


async def test_connect_sends_valid_settings_and_becomes_ready(fake: FakeSession) -> None:
    options = fake.options.model_copy(
        update={
            "prompt": "Be brief.",
            "greeting": "Hi!",
            "functions": [AgentFunction(name="get_weather", description="Weather by city")],
        }
    )
    transport = DeepgramVoiceAgentTransport(options, silent_mic())
    log = EventLog(transport)
    await transport.connect()
    record = fake.server.latest
    assert record.headers["authorization"].startswith("Token ")
    settings = check_client_message(record.received[0])
    assert settings.audio.input.sample_rate == 16000
    assert settings.audio.output.sample_rate == 24000
    assert settings.agent.think.functions[0].name == "get_weather"
    (ready,) = log.of_type("bot-ready")
    assert isinstance(ready, rtvi.BotReady)
    assert ready.data.about["request_id"] == transport.request_id is not None
    await wait_for(lambda: log.of_type("bot-output"), 5, "the greeting")
    await transport.disconnect()
    assert log.states()[-1] == "disconnected"


async def test_speech_in_reply_out_with_transcripts(fake: FakeSession) -> None:
    media = FileMediaManager(SPEECH_16K, realtime=False)
    transport = DeepgramVoiceAgentTransport(fake.options, media)
    log = EventLog(transport)
    await transport.connect()
    await wait_for(lambda: log.of_type("bot-stopped-speaking"), 10, "the reply")
    await transport.disconnect()
    heard = fake.server.latest.audio_in
    assert fake.server.latest.input_rate == 16000 and len(heard) > 16000 * 2 * 2
    assert np.frombuffer(bytes(heard), dtype=np.int16).std() > 100  # the speech, not silence
    (user,) = log.of_type("user-transcription")
    assert isinstance(user, rtvi.UserTranscription) and "seconds of speech" in user.data.text
    outputs = [m.data.text for m in log.of_type("bot-output") if isinstance(m, rtvi.BotOutput)]
    assert outputs == [f"You said: {user.data.text}."]
    assert audible_span(media.output_audio()) is not None
    assert log.types(
        "user-started-speaking",
        "user-stopped-speaking",
        "bot-llm-started",
        "bot-started-speaking",
        "bot-llm-stopped",
    ) == [
        "user-started-speaking",
        "user-stopped-speaking",
        "bot-llm-started",
        "bot-started-speaking",
        "bot-llm-stopped",
    ]
    assert log.of_type("metrics")


async def test_sample_rates_come_from_the_options(fake: FakeSession) -> None:
    options = options_for(fake.server, input_sample_rate=24000, output_sample_rate=16000)
    media = FileMediaManager(SPEECH_24K, realtime=False)
    transport = DeepgramVoiceAgentTransport(options, media)
    fake.server.script(Reply(text="Low rate.", audio=tone(0.5, 16000, freq=500)))
    log = EventLog(transport)
    await transport.connect()
    await wait_for(lambda: log.of_type("bot-stopped-speaking"), 10, "the reply to play")
    await transport.disconnect()
    record = fake.server.latest
    assert (record.input_rate, record.output_rate) == (24000, 16000)
    assert transport.media_format().input_sample_rate == 24000
    assert abs(dominant_frequency(media.output_audio(), media.output_rate) - 500) < 20


async def test_send_text_is_inject_user_message(fake: FakeSession) -> None:
    transport = DeepgramVoiceAgentTransport(fake.options, silent_mic())
    log = EventLog(transport)
    await transport.connect()
    await transport.send_message(rtvi.SendText(data=rtvi.SendTextData(content="Hello there")))
    await wait_for(lambda: log.of_type("bot-output"), 5, "the answer")
    await transport.disconnect()
    assert fake.server.latest.of_type("InjectUserMessage", sent=False) == [
        {"type": "InjectUserMessage", "content": "Hello there"}
    ]
    (output,) = log.of_type("bot-output")
    assert isinstance(output, rtvi.BotOutput) and output.data.text == "You said: Hello there."


async def test_barge_in_drops_late_audio_and_plays_the_next_reply(fake: FakeSession) -> None:
    server = fake.server
    server.pace, server.late_audio_ms = 1.0, 300  # real-time stream, 300 ms in flight at the cut
    media = FileMediaManager(None, input_rate=16000, realtime=True)
    transport = DeepgramVoiceAgentTransport(fake.options, media)
    log = EventLog(transport)
    await transport.connect()
    first = asyncio.ensure_future(server.say("First.", audio=tone(3.0, 24000, freq=440)))
    await wait_for(lambda: media.mark().played_ms >= 300, 5, "the first reply to play")
    await server.interrupt()
    await wait_for(lambda: log.of_type("bot-interrupted"), 5, "the barge-in")
    cut_at = media.output_samples
    await first
    await wait_for(lambda: transport.stats.late_audio_dropped > 0, 5, "late audio to arrive")
    await server.say("Second.", audio=tone(0.6, 24000, freq=880))
    await wait_for(lambda: log.of_type("bot-stopped-speaking")[1:], 5, "the second reply")
    await transport.disconnect()
    after = media.output_audio()[cut_at + media.output_rate // 50 :]  # one 20 ms block on
    span = audible_span(after)
    assert span is not None, "the reply after the barge-in was not played"
    heard = after[span[0] : span[1]]
    assert abs(dominant_frequency(heard, media.output_rate) - 880) < 20, "late 440 Hz audio played"
    assert len(heard) / media.output_rate == pytest.approx(0.6, abs=0.05)


async def ask_for_the_weather(
    options: DeepgramVoiceAgentOptions,
) -> tuple[DeepgramVoiceAgentTransport, EventLog, rtvi.LLMFunctionCallInProgress]:
    """A connected transport that typed "Weather?" and got the agent's function call."""
    transport = DeepgramVoiceAgentTransport(options, silent_mic())
    log = EventLog(transport)
    await transport.connect()
    await transport.send_message(rtvi.SendText(data=rtvi.SendTextData(content="Weather?")))
    await wait_for(lambda: log.of_type("llm-function-call-in-progress"), 5, "the call")
    (call,) = log.of_type("llm-function-call-in-progress")
    assert isinstance(call, rtvi.LLMFunctionCallInProgress)
    return transport, log, call


async def test_function_call_round_trip(fake: FakeSession) -> None:
    options = fake.options.model_copy(update={"functions": [AgentFunction(name="get_weather")]})
    fake.server.script(
        Reply(
            text="It is {results}.",
            think="The user wants the weather: call get_weather.",
            calls=[FunctionCall("get_weather", {"city": "Paris"})],
        )
    )
    transport, log, call = await ask_for_the_weather(options)
    assert call.data.function_name == "get_weather" and call.data.arguments == {"city": "Paris"}
    await transport.send_message(
        rtvi.LLMFunctionCallResult(
            data=rtvi.LLMFunctionCallResultData(
                function_name="get_weather",
                tool_call_id=call.data.tool_call_id,
                arguments={"city": "Paris"},
                result={"sky": "sunny"},
            )
        )
    )
    await wait_for(lambda: log.of_type("bot-output"), 5, "the answer")
    await transport.disconnect()
    (response,) = fake.server.latest.of_type("FunctionCallResponse", sent=False)
    assert response == {
        "type": "FunctionCallResponse",
        "id": call.data.tool_call_id,
        "name": "get_weather",
        "content": '{"sky": "sunny"}',
    }
    (output,) = log.of_type("bot-output")
    assert isinstance(output, rtvi.BotOutput) and output.data.text == 'It is {"sky": "sunny"}.'
    thoughts = [m.data.text for m in log.of_type("bot-llm-text") if isinstance(m, rtvi.BotLLMText)]
    assert thoughts == ["The user wants the weather: call get_weather."]  # AgentThinking
    assert log.types(
        "llm-function-call-started", "llm-function-call-in-progress", "llm-function-call-stopped"
    ) == ["llm-function-call-started", "llm-function-call-in-progress", "llm-function-call-stopped"]


async def test_keepalive_holds_an_idle_session_open() -> None:
    async with FakeDeepgramAgent(pace=0.0, idle_timeout=0.5) as server:
        options = options_for(server, keepalive_s=0.15, reconnect=NO_RETRY)
        transport = DeepgramVoiceAgentTransport(options, silent_mic())
        await transport.connect()
        await asyncio.sleep(1.2)
        assert transport.state is TransportState.READY
        assert server.latest.keepalives >= 4
        await transport.disconnect()
        validate_wire(server)


async def test_without_keepalive_the_server_times_the_session_out() -> None:
    async with FakeDeepgramAgent(pace=0.0, idle_timeout=0.3) as server:
        options = options_for(server, keepalive_s=None, reconnect=NO_RETRY)
        transport = DeepgramVoiceAgentTransport(options, silent_mic())
        log = EventLog(transport)
        await transport.connect()
        await wait_for(lambda: transport.state is TransportState.ERROR, 5, "the timeout")
        errors = [m.data.error for m in log.of_type("error") if isinstance(m, rtvi.Error)]
        assert any("CLIENT_MESSAGE_TIMEOUT" in e for e in errors)
        await transport.disconnect()


async def test_bad_key_is_a_non_retryable_authentication_error(fake: FakeSession) -> None:
    options = fake.options.model_copy(update={"api_key": SecretStr("dg-wrong-key-987654321")})
    transport = DeepgramVoiceAgentTransport(options, silent_mic())
    log = EventLog(transport)
    with pytest.raises(AuthenticationError) as caught:
        await transport.connect()
    assert "401" in str(caught.value) and "987654321" not in str(caught.value)
    assert fake.server.refusals == [401]  # tried once, never retried
    assert transport.state is TransportState.ERROR
    assert all("987654321" not in m.model_dump_json() for m in log.events)


async def test_invalid_settings_fail_the_connect_without_retrying() -> None:
    # Not the validating fixture: this Settings message is invalid on purpose.
    async with running_fake({"speak_provider": {"type": "no-such-tts"}}, pace=0.0) as (
        server,
        options,
    ):
        transport = DeepgramVoiceAgentTransport(options, silent_mic())
        log = EventLog(transport)
        with pytest.raises(ConnectionFailed) as caught:
            await transport.connect()
        assert "INVALID_SETTINGS" in str(caught.value) and not caught.value.retryable
        assert len(server.connections) == 1
        assert any(m.type == "error" for m in log.events)
        for message in server.latest.sent:
            check_server_message(message)


async def test_server_error_and_warning_become_rtvi_errors(fake: FakeSession) -> None:
    transport = DeepgramVoiceAgentTransport(fake.options, silent_mic())
    log = EventLog(transport)
    await transport.connect()
    await fake.server.warn("PROMPT_TOO_LONG", "The prompt was truncated.")
    await wait_for(lambda: log.of_type("error"), 5, "the warning")
    (warning,) = log.of_type("error")
    assert isinstance(warning, rtvi.Error) and not warning.data.fatal
    assert "PROMPT_TOO_LONG" in warning.data.error and transport.state is TransportState.READY
    await fake.server.error("INTERNAL_SERVER_ERROR", "Something broke.")
    await wait_for(lambda: log.of_type("reconnected"), 5, "the reconnect")
    errors = [m.data.error for m in log.of_type("error") if isinstance(m, rtvi.Error)]
    assert "INTERNAL_SERVER_ERROR" in errors[1]
    assert len(fake.server.connections) == 2 and transport.state is TransportState.READY
    await transport.disconnect()


async def test_inject_agent_message_and_update_prompt(fake: FakeSession) -> None:
    transport = DeepgramVoiceAgentTransport(fake.options, silent_mic())
    log = EventLog(transport)
    await transport.connect()
    for t, d in (("inject-agent-message", "Still there?"), ("update-prompt", "Be terse.")):
        await transport.send_message(rtvi.ClientMessage(data=rtvi.ClientMessageData(t=t, d=d)))
    await wait_for(lambda: log.of_type("bot-output") and log.of_type("server-message"), 5, "both")
    await transport.disconnect()
    (output,) = log.of_type("bot-output")
    assert isinstance(output, rtvi.BotOutput) and output.data.text == "Still there?"
    messages: list[Any] = [m.data for m in log.of_type("server-message")]
    assert {"type": "PromptUpdated"} in messages


async def test_clean_disconnect_leaves_nothing_running(fake: FakeSession) -> None:
    transport = DeepgramVoiceAgentTransport(fake.options, silent_mic())
    for _ in range(2):  # reusable
        await transport.connect()
        assert any(t.get_name() == "rtws-deepgram-keepalive" for t in rtws_tasks())
        await transport.disconnect()
        assert rtws_tasks() == []
    await fake.server.wait_until(lambda: fake.server.live_connections == 0)
    assert [c.closed_by for c in fake.server.connections] == ["client", "client"]


async def test_a_server_that_never_welcomes_fails_the_connect_clearly() -> None:
    async with running_fake({"settings_timeout": 0.3, "reconnect": NO_RETRY}, pace=0.0) as (
        server,
        options,
    ):
        server.welcome = False
        transport = DeepgramVoiceAgentTransport(options, silent_mic())
        with pytest.raises(ConnectTimeout, match=r"no Welcome within 0\.3 s"):
            await transport.connect()
        assert server.latest.received == []  # nothing sent before Welcome
        assert rtws_tasks() == []


async def test_a_dropped_connection_reconnects_with_fresh_settings(fake: FakeSession) -> None:
    transport = DeepgramVoiceAgentTransport(fake.options, silent_mic())
    log = EventLog(transport)
    await transport.connect()
    await fake.server.drop()
    await wait_for(lambda: log.of_type("reconnected"), 5, "the reconnect")
    (reconnected,) = log.of_type("reconnected")
    assert isinstance(reconnected, rtvi.Reconnected) and not reconnected.data.resumed
    await transport.send_message(rtvi.SendText(data=rtvi.SendTextData(content="Still here?")))
    await wait_for(lambda: log.of_type("bot-output"), 5, "an answer on the new connection")
    await transport.disconnect()
    first, second = fake.server.connections
    assert first.closed_by == "drop" and second.settings == first.settings


@pytest.mark.parametrize("text_first", [False, True])
async def test_one_reply_whichever_comes_first_text_or_agent_started(
    fake: FakeSession, text_first: bool
) -> None:
    fake.server.text_first = text_first
    transport = DeepgramVoiceAgentTransport(fake.options, silent_mic())
    log = EventLog(transport)
    await transport.connect()
    for count, text in enumerate(("One.", "Two."), 1):
        await transport.send_message(rtvi.SendText(data=rtvi.SendTextData(content=text)))
        await wait_for(lambda n=count: len(log.of_type("bot-llm-stopped")) == n, 5, "the answer")
    await wait_for(lambda: len(log.of_type("bot-output")) == 2, 5, "two answers")
    await transport.disconnect()
    assert [m.data.text for m in log.of_type("bot-output") if isinstance(m, rtvi.BotOutput)] == [
        "You said: One.",
        "You said: Two.",
    ]
    assert (
        log.types("bot-llm-started", "bot-tts-started", "bot-tts-stopped", "bot-llm-stopped")
        == ["bot-llm-started", "bot-tts-started", "bot-tts-stopped", "bot-llm-stopped"] * 2
    )


async def test_a_call_cut_off_by_the_user_is_cancelled_and_never_answered(
    fake: FakeSession,
) -> None:
    options = fake.options.model_copy(update={"functions": [AgentFunction(name="get_weather")]})
    fake.server.script(Reply(text="It is {results}.", calls=[FunctionCall("get_weather")]))
    transport, log, call = await ask_for_the_weather(options)
    await fake.server.interrupt()  # the user speaks: the turn, and its call, are void
    await wait_for(lambda: log.of_type("llm-function-call-stopped"), 5, "the cancellation")
    (stopped,) = log.of_type("llm-function-call-stopped")
    assert isinstance(stopped, rtvi.LLMFunctionCallStopped) and stopped.data.cancelled
    await transport.send_message(
        rtvi.LLMFunctionCallResult(
            data=rtvi.LLMFunctionCallResultData(
                function_name="get_weather", tool_call_id=call.data.tool_call_id, result="late"
            )
        )
    )
    await transport.disconnect()
    assert fake.server.latest.of_type("FunctionCallCancelled")
    assert fake.server.latest.of_type("FunctionCallResponse", sent=False) == []
    assert len(log.of_type("llm-function-call-stopped")) == 1


async def test_late_audio_after_the_cut_replys_audio_done_is_dropped_too(
    fake: FakeSession,
) -> None:
    media = FileMediaManager(None, input_rate=16000, realtime=True)
    transport = DeepgramVoiceAgentTransport(fake.options, media)
    await transport.connect()
    await fake.server.say("First.", audio=tone(2.0, 24000, freq=440))  # all sent, AgentAudioDone
    await wait_for(lambda: media.mark().played_ms >= 200, 5, "the first reply to play")
    await fake.server.interrupt()
    await wait_for(lambda: not transport.is_bot_speaking, 5, "the barge-in")
    cut_at = media.output_samples
    await fake.server.push_audio(tone(0.5, 24000, freq=660).tobytes())  # late: no new reply
    await wait_for(lambda: transport.stats.late_audio_dropped > 0, 5, "the late audio")
    await fake.server.say("Second.", audio=tone(0.5, 24000, freq=880))
    await wait_for(lambda: audible_span(media.output_audio()[cut_at:]) is not None, 5, "reply 2")
    await media.wait_output_idle()
    await transport.disconnect()
    after = media.output_audio()[cut_at:]
    span = audible_span(after)
    assert span is not None
    assert abs(dominant_frequency(after[span[0] : span[1]], media.output_rate) - 880) < 20
