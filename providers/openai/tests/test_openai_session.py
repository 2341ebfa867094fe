"""End to end on files: the provider against the fake GA server, through real websockets.

Each test drives a whole session (mic from a WAV or array, speaker into
memory) and checks the RTVI events a user sees and the client events the
server received. ``openai_fake`` also validates every client event against
the ``openai`` SDK when the test ends.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from rtws_openai import FunctionTool, OpenAIRealtimeTransport
from rtws_openai.testing import FakeRealtimeServer, Reply, ScriptedBot
from rtws_openai.testing import events as ev

from providers.openai.tests.support import (
    BLOCK,
    RATE,
    SPEECH_WAV,
    EventLog,
    mid_reply,
    played_tone_ms,
    speech,
    steady_tone,
    transport,
)
from rtws import (
    AuthenticationError,
    FileMediaManager,
    ProviderError,
    TransportState,
    UnsupportedMessage,
    rtvi,
)

WEATHER = FunctionTool(
    name="get_weather",
    description="Current weather in a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def received(server: FakeRealtimeServer, *, audio: bool = False) -> list[dict[str, Any]]:
    events = server.received
    return events if audio else [e for e in events if e["type"] != "input_audio_buffer.append"]


def received_types(server: FakeRealtimeServer) -> list[str]:
    return [e["type"] for e in received(server)]


# ====================================================================== a spoken turn
async def test_spoken_turn_gives_user_transcript_and_a_heard_reply(
    openai_fake: FakeRealtimeServer,
) -> None:
    tone = steady_tone(0.6)
    openai_fake.bot = ScriptedBot(
        [Reply.say("Hello there. Nice to meet you!", audio=tone)],
        transcripts=["hi bot, how are you"],
    )
    media = FileMediaManager(SPEECH_WAV, realtime=False)
    t = transport(openai_fake, media)
    log = EventLog(t)
    await t.connect()
    try:
        final = await log.wait("user-transcription", where=lambda d: d["final"])
        await log.wait("bot-stopped-speaking")
        await media.wait_output_idle(timeout=5)
    finally:
        await t.disconnect()

    assert final.to_dict()["data"]["text"] == "hi bot, how are you"
    partials = [d for d in log.data("user-transcription") if not d["final"]]
    assert partials and all("hi bot, how are you".startswith(d["text"].strip()) for d in partials)
    # Heard: every sample of the reply left the virtual speaker.
    assert played_tone_ms(media.output_audio()) == pytest.approx(600, abs=1)
    # The whole WAV reached the server as input_audio_buffer.append.
    assert len(openai_fake.audio_in) >= len(speech()) * 2
    order = [
        "bot-ready", "user-started-speaking", "user-stopped-speaking", "bot-llm-started",
        "bot-tts-started", "bot-started-speaking", "bot-output", "bot-tts-stopped",
        "bot-llm-stopped", "bot-stopped-speaking",
    ]  # fmt: skip
    positions = [log.index(kind) for kind in order]
    assert positions == sorted(positions), log.types()
    # One bot-output per reply (options.bot_output="reply", the default).
    assert [d["text"] for d in log.data("bot-output")] == ["Hello there. Nice to meet you!"]
    assert all(d["spoken"] for d in log.data("bot-output"))
    assert "".join(d["text"] for d in log.data("bot-tts-text")) == "Hello there. Nice to meet you!"
    metrics = log.data("metrics")
    ttfb = [m for d in metrics for m in d.get("ttfb", [])]
    assert len(ttfb) == 1 and ttfb[0]["processor"] == "openai" and ttfb[0]["value"] >= 0
    tokens = [m for d in metrics for m in d.get("tokens", []) if m["processor"] == "openai"]
    assert len(tokens) == 1 and tokens[0]["model"] == "gpt-realtime"
    usage = tokens[0]["value"]
    assert set(usage) >= {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert received_types(openai_fake)[0] == "session.update"
    assert not log.of("error")


async def test_muting_mid_sentence_ends_the_turn_for_server_vad(
    openai_fake: FakeRealtimeServer,
) -> None:
    """A muted mic sends silence (as a browser's muted track does), so the server's VAD
    hears the end of a turn the user muted in the middle of, and answers it."""
    openai_fake.bot = ScriptedBot([Reply.say("I heard you.")], transcripts=["hello"])
    media = FileMediaManager(np.tile(speech(), 4), input_rate=RATE, realtime=True)
    t = transport(openai_fake, media)
    log = EventLog(t)
    await t.connect()
    try:
        await log.wait("user-started-speaking", timeout=5)
        await asyncio.sleep(0.3)
        t.enable_mic(False)
        muted_at = len(openai_fake.audio_in)
        await log.wait("user-stopped-speaking", timeout=3)
        await log.wait("bot-output", timeout=3)
        assert not t.is_mic_enabled
    finally:
        await t.disconnect()
    after = np.frombuffer(bytes(openai_fake.audio_in[muted_at:]), np.int16)
    assert len(after) >= RATE * 4 // 10  # the stream went on while muted (VAD: 500 ms) ...
    # ... with nothing of the speech in it (a chunk or two was already on its way).
    assert not np.any(after[RATE // 20 :])
    assert [d["text"] for d in log.data("bot-output")] == ["I heard you."]


async def test_turn_latency_matches_the_recording() -> None:
    """turn_latency is measured from the end of the user's speech in the mic audio to the
    first reply sample handed to the speaker: on a real-time file device (one input and
    one output block per 20 ms tick) the same figure can be read off the two recordings.
    The tolerance is scheduling jitter of the shared test machine, not a speed limit."""
    speech_s = 1.0
    mic = np.concatenate([steady_tone(speech_s), np.zeros(RATE * 3, np.int16)])
    bot = ScriptedBot([Reply.say("Heard.", audio=steady_tone(0.5))], transcripts=["hi"])
    async with FakeRealtimeServer(bot=bot, pace=1.0, latency=0.25) as server:
        media = FileMediaManager(mic, input_rate=RATE, realtime=True)
        t = transport(server, media)
        log = EventLog(t)
        await t.connect()
        try:
            metric = await log.wait("metrics", where=lambda d: "turn_latency" in d, timeout=10)
        finally:
            await t.disconnect()
    played = media.output_audio()
    first_bot_s = int(np.flatnonzero(played)[0]) / media.output_rate
    heard = first_bot_s - speech_s  # the recording: end of speech → first bot sample
    [value] = metric.to_dict()["data"]["turn_latency"]
    print(f"[turn latency] emitted {value['value'] * 1000:.0f} ms, recording {heard * 1000:.0f} ms")
    assert value["processor"] == "openai"
    assert abs(value["value"] - heard) < 0.06
    # ttfb starts when speech_stopped arrives: it misses the 500 ms the server's VAD waited.
    ttfb = [m["value"] for d in log.data("metrics") for m in d.get("ttfb", [])]
    assert len(ttfb) == 1 and value["value"] > ttfb[0] + 0.4


# ====================================================================== barge-in
async def test_barge_in_silences_at_once_and_truncates_at_the_played_position(
    openai_fake: FakeRealtimeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    story = "Once upon a time, a long story."
    async with mid_reply(openai_fake, story, ask="Tell me a story", into_s=0.5) as (_, media, log):
        flushed_at: list[int] = []
        log.hooks["user-started-speaking"] = lambda _: flushed_at.append(media.output_samples)
        media.feed(speech(), RATE)  # the user talks over the bot
        truncate = await openai_fake.wait_received("conversation.item.truncate")
        await log.wait("bot-interrupted")
        after = media.output_samples
        await asyncio.sleep(0.3)  # the speaker keeps ticking: it must stay silent
        output = media.output_audio()

    (flush,) = flushed_at
    heard_ms = played_tone_ms(output[:flush])
    leaked = int(np.count_nonzero(output[flush : after + round(0.3 * RATE)]))
    assert leaked <= BLOCK, f"{leaked} samples of bot audio played after the barge-in"
    assert truncate["audio_end_ms"] == pytest.approx(heard_ms, abs=BLOCK * 1000 / RATE)
    audio_items = {
        e["item_id"] for e in openai_fake.sent if e["type"] == "response.output_audio.delta"
    }
    assert truncate["item_id"] in audio_items and truncate["content_index"] == 0
    (accepted,) = openai_fake.truncations
    assert accepted.audio_end_ms <= accepted.audio_ms
    # Server VAD with interrupt_response cancels the response itself: the client only
    # truncates (a response.cancel would race the server's own and fail as not active).
    assert not [e for e in received(openai_fake) if e["type"] == "response.cancel"]
    done = next(e for e in openai_fake.sent if e["type"] == "response.done")
    assert done["response"]["status"] == "cancelled"
    i = log.index("user-started-speaking")
    assert log.index("bot-interrupted", i) < log.index("bot-stopped-speaking", i)
    assert not log.of("error")
    with capsys.disabled():
        print(
            f"\n[openai barge-in] heard {heard_ms:.0f} ms, truncate audio_end_ms "
            f"{truncate['audio_end_ms']} (error {truncate['audio_end_ms'] - heard_ms:+.0f} ms), "
            f"server had {accepted.audio_ms:.0f} ms; bot samples after flush: {leaked}"
        )


# ====================================================================== function calls
async def test_function_call_round_trip(openai_fake: FakeRealtimeServer) -> None:
    bot = ScriptedBot(
        [Reply.call("get_weather", {"city": "Paris"}, call_id="call_1"), Reply.say("It is sunny.")]
    )
    openai_fake.bot = bot
    t = transport(openai_fake, tools=[WEATHER])
    log = EventLog(t)
    await t.connect()
    try:
        await t.send_message(rtvi.SendText(data=rtvi.SendTextData(content="Weather in Paris?")))
        progress = await log.wait("llm-function-call-in-progress")
        result = {"sky": "sunny", "celsius": 21}
        await t.send_message(
            rtvi.LLMFunctionCallResult(
                data=rtvi.LLMFunctionCallResultData(
                    function_name="get_weather", tool_call_id="call_1", arguments={"city": "Paris"},
                    result=result,
                )
            )
        )  # fmt: skip
        await log.wait("bot-output", where=lambda d: d["text"] == "It is sunny.")
    finally:
        await t.disconnect()

    assert log.data("llm-function-call-started") == [{"function_name": "get_weather"}]
    assert progress.to_dict()["data"] == {
        "tool_call_id": "call_1", "function_name": "get_weather", "arguments": {"city": "Paris"},
    }  # fmt: skip
    (stopped,) = log.data("llm-function-call-stopped")
    assert stopped == {
        "tool_call_id": "call_1", "cancelled": False, "function_name": "get_weather",
        "result": result,
    }  # fmt: skip
    started, in_progress = (
        log.index("llm-function-call-started"),
        log.index("llm-function-call-in-progress"),
    )
    assert started < in_progress < log.index("llm-function-call-stopped")
    sent = received(openai_fake)
    output = next(
        i
        for i, e in enumerate(sent)
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    )
    assert sent[output]["item"]["call_id"] == "call_1"
    assert json.loads(sent[output]["item"]["output"]) == result
    assert sent[output + 1]["type"] == "response.create"
    assert bot.turns[1].function_outputs[0].name == "get_weather"
    assert [tool["name"] for tool in bot.turns[0].tools] == ["get_weather"]


async def test_a_call_cut_off_by_the_user_is_reported_cancelled(
    openai_fake: FakeRealtimeServer,
) -> None:
    openai_fake.bot = ScriptedBot(
        [Reply.call("get_weather", {"city": "Oslo"}, call_id="call_9", drop_after=2)]
    )
    t = transport(
        openai_fake, tools=[WEATHER], reconnect={"max_attempts": 2, "initial_delay": 0.05}
    )
    log = EventLog(t)
    await t.connect()
    try:
        await t.send_text("Weather in Oslo?")
        await log.wait("reconnected")
    finally:
        await t.disconnect()
    assert log.data("llm-function-call-started") == [{"function_name": "get_weather"}]
    assert not log.of("llm-function-call-in-progress")
    assert log.data("llm-function-call-stopped") == [
        {"tool_call_id": "call_9", "cancelled": True, "function_name": "get_weather"}
    ]
    assert log.index("bot-llm-stopped") < log.index("reconnected")


# ====================================================================== errors
async def test_server_error_event_is_reported_and_the_session_goes_on(
    openai_fake: FakeRealtimeServer, allowed_server_errors: set[str]
) -> None:
    allowed_server_errors.add("invalid_value")
    openai_fake.bot = ScriptedBot(
        [Reply.fail("The model is overloaded."), Reply.say("Back again.")]
    )
    t = transport(openai_fake)
    log = EventLog(t)
    await t.connect()
    try:
        await t.send_text("Hello?")
        await log.wait("error", count=2)  # the error event, then the failed response
        await t.send_event({"type": "conversation.item.delete", "item_id": "item_missing"})
        refused = await log.wait("error", count=3)
        await t.send_text("Hello again?")
        await log.wait("bot-output", where=lambda d: d["text"] == "Back again.")
        assert t.state is TransportState.READY
    finally:
        await t.disconnect()
    errors = log.data("error")
    assert not any(e["fatal"] for e in errors)
    assert "The model is overloaded." in errors[0]["error"]
    assert errors[1]["error"].startswith("OpenAI could not finish a response")
    assert "refused conversation.item.delete" in refused.to_dict()["data"]["error"]
    assert "item_missing" in refused.to_dict()["data"]["error"]
    assert len(openai_fake.handshakes) == 1


async def test_handshake_401_is_an_authentication_error_without_retries(
    openai_fake: FakeRealtimeServer,
) -> None:
    wrong = "sk-wrong-key-000000000000000000"
    t = transport(openai_fake, api_key=wrong)
    log = EventLog(t)
    with pytest.raises(AuthenticationError) as info:
        await t.connect()
    await asyncio.sleep(0.2)  # a retry, if there were one, would start now
    assert len(openai_fake.handshakes) == 1 and openai_fake.handshakes[0].status == 401
    assert t.state is TransportState.ERROR
    assert wrong not in str(info.value) and "Incorrect API key" in str(info.value)
    assert str(info.value).endswith(
        "/account/api-keys. Check the API key (or token) in the options or environment."
    )
    assert ".." not in str(info.value)
    (error,) = log.data("error")
    assert error["fatal"] and wrong not in error["error"]
    assert not log.of("reconnecting")
    await t.disconnect()


async def test_invalid_key_error_event_ends_the_session_without_retries(
    openai_fake: FakeRealtimeServer,
) -> None:
    t = transport(openai_fake)
    log = EventLog(t)
    await t.connect()
    try:
        await openai_fake.send_event(
            ev.error("Incorrect API key provided.", code="invalid_api_key")
        )
        await openai_fake.close(1008, "invalid api key")
        await log.wait("transport-state-changed", where=lambda d: d["state"] == "error")
        await asyncio.sleep(0.2)
    finally:
        await t.disconnect()
    fatal = [e for e in log.data("error") if e["fatal"]]
    assert len(fatal) == 1 and "Incorrect API key" in fatal[0]["error"]
    assert ".." not in fatal[0]["error"]
    assert not log.of("reconnecting") and len(openai_fake.handshakes) == 1


async def test_a_refused_session_update_fails_connect(
    openai_fake: FakeRealtimeServer, allowed_server_errors: set[str]
) -> None:
    allowed_server_errors.add("invalid_value")
    openai_fake.silent = True  # the test plays the server: refuse the session.update

    async def refuse() -> None:
        update = await openai_fake.wait_received("session.update")
        await openai_fake.send_event(
            {"type": "error", "error": {"type": "invalid_request_error", "code": "invalid_value",
             "message": "Invalid value: 'nova'.", "param": "session.audio.output.voice",
             "event_id": update["event_id"]}}
        )  # fmt: skip

    t = transport(openai_fake)
    log = EventLog(t)
    refusal = asyncio.create_task(refuse())
    with pytest.raises(ProviderError, match="refused the session: Invalid value: 'nova'"):
        await t.connect()
    await refusal
    assert len(openai_fake.handshakes) == 1 and log.data("error")[0]["fatal"]
    await t.disconnect()


# ====================================================================== reconnection
async def test_dropped_socket_mid_turn_reconnects_and_the_session_goes_on(
    openai_fake: FakeRealtimeServer,
) -> None:
    openai_fake.pace = 1.0
    bot = ScriptedBot(
        [
            Reply.say("Hello Ada.", audio=steady_tone(0.2)),
            Reply.say("A reply that never ends.", audio=steady_tone(2.0), drop_after=5),
            Reply.say("Still here."),
        ]
    )
    openai_fake.bot = bot
    t = transport(openai_fake)
    log = EventLog(t)
    await t.connect()
    try:
        await t.send_text("My name is Ada.")
        await log.wait("bot-llm-stopped")
        await t.send_text("Tell me more.")
        await log.wait("bot-started-speaking", count=2)
        reconnected = await log.wait("reconnected")
        await openai_fake.wait_connection(2)
        await t.send_text("Are you there?")
        await log.wait("bot-output", where=lambda d: d["text"] == "Still here.")
        await openai_fake.wait_until(lambda: len(openai_fake.connections[1].audio_in) > 0 or None)
    finally:
        await t.disconnect()

    types = log.types()
    lost = types.index("reconnecting")
    assert types.index("bot-stopped-speaking", lost) < types.index("reconnected")
    assert "bot-llm-stopped" in types[lost:]  # the dangling reply is closed in events
    (warning,) = [e for e in log.data("error") if "reconnecting" in e["error"]]
    assert not warning["fatal"]
    assert reconnected.to_dict()["data"] == {"attempt": 1, "resumed": True}
    states = [d["state"] for d in log.data("transport-state-changed")]
    assert states[-5:] == ["connecting", "connected", "ready", "disconnecting", "disconnected"]
    second = openai_fake.connections[1].received
    assert second[0]["type"] == "session.update"
    # The conversation so far is replayed as text; the reply cut by the drop was never heard.
    replayed = [(e["item"]["role"], e["item"]["content"]) for e in second[1:4]]
    assert replayed == [
        ("user", [{"type": "input_text", "text": "My name is Ada."}]),
        ("assistant", [{"type": "output_text", "text": "Hello Ada."}]),
        ("user", [{"type": "input_text", "text": "Tell me more."}]),
    ]
    assert bot.turns[-1].text == "My name is Ada.\nTell me more.\nAre you there?"


async def test_session_expiry_is_a_planned_reconnect(openai_fake: FakeRealtimeServer) -> None:
    t = transport(openai_fake)
    log = EventLog(t)
    await t.connect()
    try:
        await openai_fake.send_event(
            ev.error("Your session hit the maximum duration of 60 minutes.", code="session_expired")
        )
        await log.wait("reconnected")
    finally:
        await t.disconnect()
    assert not log.of("error")
    assert "maximum duration" in log.data("reconnecting")[0]["reason"]
    assert len(openai_fake.connections) == 2


# ====================================================================== turn control
async def test_manual_turns_commit_and_request_a_reply(openai_fake: FakeRealtimeServer) -> None:
    bot = ScriptedBot([Reply.say("Got it.")], transcripts=["push to talk works"])
    openai_fake.bot = bot
    media = FileMediaManager(SPEECH_WAV, realtime=False, tail_silence_ms=200)
    t = transport(openai_fake, media, turn_detection="none")
    log = EventLog(t)
    await t.connect()
    try:
        await t.start_turn()
        await media.wait_input_done()
        await openai_fake.wait_until(lambda: len(openai_fake.audio_in) >= len(speech()) * 2 or None)
        await t.commit_turn()
        await log.wait("bot-output", where=lambda d: d["text"] == "Got it.")
        final = await log.wait("user-transcription", where=lambda d: d["final"])
    finally:
        await t.disconnect()
    assert openai_fake.connections[0].session["audio"]["input"]["turn_detection"] is None
    types = received_types(openai_fake)
    assert types[types.index("input_audio_buffer.commit") + 1] == "response.create"
    assert "input_audio_buffer.clear" in types
    assert not [e for e in openai_fake.sent if e["type"].startswith("input_audio_buffer.speech")]
    assert final.to_dict()["data"]["text"] == "push to talk works"
    assert bot.turns[0].audio_seconds >= len(speech()) / RATE
    assert log.index("user-started-speaking") < log.index("user-stopped-speaking")
    assert log.of("metrics") and any("ttfb" in d for d in log.data("metrics"))


async def test_typed_text_cuts_off_the_bot_and_waits_for_its_cancel(
    openai_fake: FakeRealtimeServer,
) -> None:
    """Issue 17 item 7: the truncate of the still-streaming reply is accepted, as by the
    service (its reference client sends response.cancel then the truncate)."""
    sure = Reply.say("Sure.")
    async with mid_reply(openai_fake, "A long answer.", sure, ask="Talk to me.", into_s=0.3) as (
        t,
        _,
        log,
    ):
        await t.send_message(rtvi.SendText(data=rtvi.SendTextData(content="Stop, say sure.")))
        await log.wait("bot-output", where=lambda d: d["text"] == "Sure.")
    types = received_types(openai_fake)
    cancel, truncate = types.index("response.cancel"), types.index("conversation.item.truncate")
    second = [i for i, kind in enumerate(types) if kind == "response.create"][1]
    assert cancel < second and truncate < second  # no response.create over a running one
    assert log.index("bot-interrupted") < log.index("bot-output")
    assert not log.of("user-started-speaking")  # typing is not speaking
    assert not log.of("error")
    [cut] = openai_fake.truncations
    assert 0 < cut.audio_end_ms <= cut.audio_ms


async def test_with_barge_in_off_the_bot_keeps_talking(openai_fake: FakeRealtimeServer) -> None:
    openai_fake.pace = 1.0
    openai_fake.bot = ScriptedBot([Reply.say("I will not stop.", audio=steady_tone(1.5))])
    media = FileMediaManager(realtime=True)
    t = transport(
        openai_fake, media, turn_detection={"type": "server_vad", "interrupt_response": False}
    )
    log = EventLog(t)
    await t.connect()
    try:
        await t.send_text("Go on.")
        await log.wait("bot-started-speaking")
        media.feed(speech()[: RATE // 2], RATE)
        await log.wait("user-started-speaking")
        await log.wait("user-stopped-speaking")
        await log.wait("bot-stopped-speaking", timeout=5)
        output = media.output_audio()
    finally:
        await t.disconnect()
    assert played_tone_ms(output) == pytest.approx(1500, abs=1)  # heard to the end
    types = received_types(openai_fake)
    assert "conversation.item.truncate" not in types and "response.cancel" not in types
    assert not log.of("bot-interrupted")


async def test_text_only_replies_and_text_responses_on_request(
    openai_fake: FakeRealtimeServer,
) -> None:
    openai_fake.bot = ScriptedBot(
        [Reply.say("Plain text. Two sentences."), Reply.say("Also text.")]
    )
    t = transport(openai_fake, output_modalities=["text"], bot_output="sentence")
    log = EventLog(t)
    await t.connect()
    try:
        await t.send_text("Write to me.")
        await log.wait("bot-llm-stopped")
        await t.send_message(
            rtvi.SendText(
                data=rtvi.SendTextData(
                    content="Queue this.", options=rtvi.SendTextOptions(run_immediately=False)
                )
            )
        )
        await t.send_text("And answer.", audio_response=False)
        await log.wait("bot-llm-stopped", count=2)
    finally:
        await t.disconnect()
    assert [d["text"] for d in log.data("bot-output")] == [
        "Plain text.",
        "Two sentences.",
        "Also text.",
    ]
    assert not any(d["spoken"] for d in log.data("bot-output"))
    assert "".join(d["text"] for d in log.data("bot-llm-text")).startswith(
        "Plain text. Two sentences."
    )
    assert not log.of("bot-tts-text") and not log.of("bot-started-speaking")
    creates = [e for e in received(openai_fake) if e["type"] == "response.create"]
    assert len(creates) == 2  # "Queue this." did not run the model
    assert openai_fake.connections[0].session["output_modalities"] == ["text"]


async def test_client_messages_and_unsupported_ones(openai_fake: FakeRealtimeServer) -> None:
    t = transport(openai_fake, turn_detection=None)
    await t.connect()
    try:
        await t.send_message(rtvi.ClientMessage(data=rtvi.ClientMessageData(t="start-turn")))
        await openai_fake.wait_received("input_audio_buffer.clear")
        await t.send_message(rtvi.ClientMessage(data=rtvi.ClientMessageData(t="interrupt")))
        with pytest.raises(
            UnsupportedMessage, match="openai cannot send RTVI messages of type 'client-message'"
        ):
            await t.send_message(rtvi.ClientMessage(data=rtvi.ClientMessageData(t="dance")))
        await t.send_message(rtvi.ClientReady())
    finally:
        await t.disconnect()


async def test_disconnect_cancels_a_running_reply(openai_fake: FakeRealtimeServer) -> None:
    openai_fake.pace = 1.0
    openai_fake.bot = ScriptedBot([Reply.say("Long.", audio=steady_tone(3.0))])
    t = transport(openai_fake)
    log = EventLog(t)
    await t.connect()
    await t.send_text("Speak.")
    await log.wait("bot-started-speaking")
    await t.disconnect()
    response_id = next(
        e["response"]["id"] for e in openai_fake.sent if e["type"] == "response.created"
    )
    cancel = await openai_fake.wait_received("response.cancel")
    assert cancel["response_id"] == response_id
    await openai_fake.wait_closed()
    assert openai_fake.connections[0].close_code == 1000


async def test_transcription_failure_is_a_non_fatal_error(openai_fake: FakeRealtimeServer) -> None:
    t = transport(openai_fake)
    log = EventLog(t)
    await t.connect()
    try:
        await openai_fake.send_event(
            {"type": "conversation.item.input_audio_transcription.failed", "item_id": "item_1",
             "content_index": 0, "error": {"type": "transcription_error",
             "code": "audio_unintelligible", "message": "Audio is unintelligible.", "param": None}}
        )  # fmt: skip
        error = await log.wait("error")
    finally:
        await t.disconnect()
    assert error.to_dict()["data"] == {
        "error": "OpenAI could not transcribe the user's audio: "
        "Audio is unintelligible. (audio_unintelligible)",
        "fatal": False,
    }


def test_the_entry_point_finds_the_provider() -> None:
    from rtws import load_provider

    assert load_provider("openai") is OpenAIRealtimeTransport


async def test_update_session_mid_conversation(openai_fake: FakeRealtimeServer) -> None:
    bot = ScriptedBot([Reply.say("Fine.")])
    openai_fake.bot = bot
    t = transport(openai_fake)
    log = EventLog(t)
    await t.connect()
    try:
        with pytest.raises(ValidationError, match="speed"):
            await t.update_session(speed=9.0)
        await t.update_session(instructions="Answer in French.", tools=[WEATHER])
        await openai_fake.wait_received("session.update", count=2)
        await openai_fake.wait_sent("session.updated", count=2)
        await t.send_text("Hello")
        await log.wait("bot-llm-stopped")
    finally:
        await t.disconnect()
    session = openai_fake.connections[0].session
    assert session["instructions"] == "Answer in French."
    assert [tool["name"] for tool in session["tools"]] == ["get_weather"]
    assert bot.turns[0].instructions == "Answer in French."
    assert t.options.instructions == "Answer in French." and t.options.speed is None
    assert len([e for e in received(openai_fake) if e["type"] == "session.update"]) == 2
