"""The Gemini Live provider end to end: real websockets to the fake, audio through file media."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr
from rtws_gemini import GeminiLiveOptions, GeminiLiveTransport, ManualActivity
from rtws_gemini.testing import Reply, ToolCall, running_fake, speech_like_tone

from providers.gemini.tests.conftest import SPEECH_16K, Events, FakeSession
from providers.gemini.tests.genai_check import check_client_frame
from rtws import FileMediaManager, TransportState, rtvi
from rtws.audio import read_wav
from rtws.errors import AuthenticationError, ConfigurationError, ConnectionFailed, RateLimited

S = TransportState


def speech() -> np.ndarray[Any, np.dtype[np.int16]]:
    pcm, rate = read_wav(SPEECH_16K)
    assert rate == 16000
    return pcm


def distinct(seconds: float, start: int = 1000) -> np.ndarray[Any, np.dtype[np.int16]]:
    """Audio whose every sample is non-zero and whose order is visible (a slow ramp)."""
    n = int(seconds * 24000)
    return ((np.arange(n) * 3 % 28000) + start).astype(np.int16)


def skipped_before_ready(received: np.ndarray[Any, Any], source: np.ndarray[Any, Any]) -> int:
    """Samples of ``source`` the base dropped while the session was not yet ``ready``.

    Mic audio captured between the media start and ``bot-ready`` is dropped
    (and counted) by the core; at most a couple of 20 ms chunks. Everything
    after that must arrive exactly once and in order, which the callers check.
    """
    for skipped in range(0, 5 * 320, 320):
        if np.array_equal(received[: len(source) - skipped], source[skipped:]):
            return skipped
    raise AssertionError("the received audio is not the input (minus at most 100 ms at the start)")


def say(text: str) -> rtvi.SendText:
    return rtvi.SendText(data=rtvi.SendTextData(content=text))


def silent_media(realtime: bool = False) -> FileMediaManager:
    return FileMediaManager(None, input_rate=16000, realtime=realtime)


# ---------------------------------------------------------------- a whole voice turn
async def test_spoken_wav_gives_a_transcript_and_an_audible_reply(
    fake: FakeSession, tmp_path: Path
) -> None:
    reply_audio = speech_like_tone(1.0)
    fake.server.script(
        Reply(text="Hi! Nice to hear you.", heard="hello from rtws", audio=reply_audio)
    )
    out = tmp_path / "bot.wav"
    media = FileMediaManager(SPEECH_16K, output=out, realtime=False)
    transport = GeminiLiveTransport(fake.options, media)
    events = Events(transport)
    async with transport:
        await events.wait_replies(1)
        await media.wait_output_idle()
        await events.wait_for("bot-stopped-speaking")
    finals = [e.data.text for e in events.of("user-transcription") if e.data.final]
    assert finals == ["hello from rtws"]
    [output] = events.of("bot-output")
    assert output.data.text == "Hi! Nice to hear you." and output.data.spoken is True
    played = media.output_audio()
    assert np.array_equal(played[np.flatnonzero(played)], reply_audio[np.flatnonzero(reply_audio)])
    assert float(np.sqrt(np.mean(played.astype(float) ** 2))) > 1000  # audible, not a whisper
    wav, rate = read_wav(out)
    assert rate == 24000 and len(wav) == len(played)
    turn = [t for t in events.types() if t.startswith(("bot-", "user-transcription"))]
    # The user's words may still arrive after the reply started (wild mode): one final.
    assert turn[:2] == ["bot-ready", "user-transcription"]
    assert turn.index("bot-llm-started") < turn.index("bot-tts-started") < turn.index("bot-output")
    assert turn.index("bot-output") < turn.index("bot-llm-stopped")
    [metrics] = [m for m in events.of("metrics") if m.data.tokens]
    tokens = metrics.data.tokens[0].value  # wild mode adds thinking tokens to the 25
    assert tokens["completion_tokens"] >= 25
    assert tokens["prompt_tokens"] + tokens["completion_tokens"] == tokens["total_tokens"]
    assert not events.of("error")
    # What the fake heard is the WAV, sample for sample, in 20 ms chunks of 16 kHz PCM16.
    record = fake.server.connections[0]
    heard = fake.server.received_audio()
    skipped = skipped_before_ready(heard, speech())
    assert np.array_equal(heard[: len(speech()) - skipped], speech()[skipped:])
    assert {len(m["audio"]["data"]) for m in record.of_kind("realtimeInput")} == {640}
    # Every frame the provider sent is a valid LiveClientMessage (google-genai's model).
    for frame in record.raw:
        check_client_frame(frame)


async def test_multi_part_audio_turns_play_completely_and_in_order(fake: FakeSession) -> None:
    first, second = distinct(0.73), distinct(0.41, start=2000)  # not a whole number of parts
    fake.server.script(
        Reply(text="first", audio=first, parts_per_message=3, chunk_ms=40),
        Reply(text="second", audio=second, parts_per_message=4, chunk_ms=20),
    )
    media = silent_media()
    transport = GeminiLiveTransport(fake.options, media)
    events = Events(transport)
    async with transport:
        await transport.send_message(say("one"))
        await events.wait_for("bot-llm-stopped")
        await transport.send_message(say("two"))
        await events.wait_for("bot-llm-stopped", 2)
        await media.wait_output_idle()
    parts = [
        len(m["serverContent"]["modelTurn"]["parts"])
        for m in fake.server.connections[0].sent
        if "modelTurn" in m.get("serverContent", {})
    ]
    assert max(parts) == 4 and 3 in parts  # several inlineData parts per message really occurred
    played = media.output_audio()
    assert np.array_equal(played[np.flatnonzero(played)], np.concatenate([first, second]))
    assert [e.data.text for e in events.of("bot-output")] == ["first", "second"]


async def test_text_turns_the_text_modality_and_text_frames() -> None:
    fake_kw: dict[str, Any] = {"playback_wait": 0.0, "text_frames": True}
    async with running_fake({"response_modalities": ["TEXT"]}, **fake_kw) as (
        server,
        options,
    ):
        server.script(Reply(text="Plain words only."))
        media = silent_media()
        transport = GeminiLiveTransport(options, media)
        events = Events(transport)
        async with transport:
            await transport.send_message(say("write to me"))
            await events.wait_for("bot-llm-stopped")
        assert "".join(e.data.text for e in events.of("bot-llm-text")) == "Plain words only."
        [output] = events.of("bot-output")
        assert output.data.spoken is False
        assert not events.of("bot-tts-started") and len(media.output_audio()) == 0
        [content] = server.latest.of_kind("clientContent")
        assert content == {
            "turns": [{"role": "user", "parts": [{"text": "write to me"}]}],
            "turnComplete": True,
        }


async def test_muting_mid_sentence_ends_the_turn_for_server_vad() -> None:
    """A muted mic sends silence, so the fake's VAD hears the end of a turn the user
    muted in the middle of (a mic that sent nothing would leave it open)."""
    async with running_fake(playback_wait=0.0, voice_activity=True) as (server, options):
        server.script(Reply(text="I heard you.", heard="hello"))
        media = FileMediaManager(np.tile(speech(), 4), input_rate=16000, realtime=True)
        transport = GeminiLiveTransport(options, media)
        events = Events(transport)
        async with transport:
            await events.wait_for("user-started-speaking")
            await asyncio.sleep(0.3)
            transport.enable_mic(False)
            muted_at = len(server.received_audio())
            await events.wait_for("user-stopped-speaking", timeout=3)
            await events.wait_for("bot-output", timeout=3)
            assert not transport.is_mic_enabled
            after = server.received_audio()[muted_at:]
    assert len(after) >= 6400  # the stream went on while muted (VAD needs 500 ms) ...
    assert not np.any(after[800:])  # ... with nothing of the speech in it
    assert [e.data.text for e in events.of("bot-output")] == ["I heard you."]


# ---------------------------------------------------------------- interruption
async def test_interruption_flushes_the_speaker_at_once() -> None:
    async with running_fake(playback_wait=1.0) as (server, options):
        server.script(
            Reply(text="A long answer that the user will cut short.", audio=speech_like_tone(3.0))
        )
        media = silent_media(realtime=True)
        transport = GeminiLiveTransport(options, media)
        events = Events(transport)
        async with transport:
            await transport.send_message(say("tell me a story"))
            await events.wait_for("bot-started-speaking")
            await asyncio.sleep(0.4)
            media.feed(speech())  # the user talks over the bot: the fake's VAD hears it
            await events.wait_for("bot-interrupted")
            interrupted_at = len(media.output_audio())
            await asyncio.sleep(0.3)
            after = media.output_audio()[interrupted_at:]
            await events.wait_for("bot-llm-stopped")
        mark = transport.last_interruption
        assert mark is not None and mark.item_id == "reply-1"
        assert 200 <= mark.played_ms <= 1500 and mark.dropped_ms > 1000
        # Within one 20 ms block of the flush the speaker is silent, and stays so.
        assert not np.any(after[480:])
        types_ = events.types()
        assert types_.index("user-started-speaking") < types_.index("bot-interrupted")
        assert "bot-stopped-speaking" in types_[types_.index("bot-interrupted") :]
        # Generation finished (generationComplete) long before playback did: the reply's
        # bot-output came then, in full, without waiting for the held-back turnComplete.
        [output] = events.of("bot-output")
        assert output.data.text == "A long answer that the user will cut short."
        assert types_.index("bot-output") < types_.index("user-started-speaking")
        assert server.conversation().turns[1]["text"].endswith("[interrupted]")


async def test_audio_after_a_barge_in_is_never_played(fake: FakeSession) -> None:
    media = silent_media()
    transport = GeminiLiveTransport(fake.options, media)
    events = Events(transport)
    tone = distinct(0.2)
    part = pcm_part(tone)
    start = {"voiceActivity": {"voiceActivityType": "ACTIVITY_START"}}
    async with transport:
        await fake.server.push({"serverContent": {"modelTurn": {"parts": [part]}}})
        await fake.server.push(start)  # the user talks over it: the reply is cut
        await fake.server.push({"serverContent": {"modelTurn": {"parts": [part, part]}}})
        await fake.server.push({"serverContent": {"turnComplete": True}})
        await events.wait_for("bot-llm-stopped")
        await asyncio.sleep(0.1)
    assert len(np.flatnonzero(media.output_audio())) <= len(tone)
    assert events.of("bot-interrupted") and events.of("bot-tts-stopped")
    assert transport.stats.late_audio_dropped == 2


async def test_the_reply_after_a_bare_interrupted_is_audible(fake: FakeSession) -> None:
    """``interrupted`` with no ``turnComplete`` after it (the live service does that)."""
    media = silent_media()
    transport = GeminiLiveTransport(fake.options, media)
    events = Events(transport)
    first, second = distinct(0.2), distinct(0.3, start=3000)
    parts = [pcm_part(first), pcm_part(second)]
    async with transport:
        await fake.server.push({"serverContent": {"modelTurn": {"parts": [parts[0]]}}})
        await fake.server.push({"serverContent": {"interrupted": True}})
        await events.wait_for("bot-llm-stopped")
        await fake.server.push({"serverContent": {"modelTurn": {"parts": [parts[1]]}}})
        await fake.server.push({"serverContent": {"generationComplete": True}})
        await events.wait_for("bot-llm-stopped", 2)
        await media.wait_output_idle()
    played = media.output_audio()
    assert np.array_equal(played[np.flatnonzero(played)][-len(second) :], second)
    assert len(events.of("bot-llm-started")) == 2


async def test_a_late_transcript_tail_joins_its_reply_and_turn_complete_is_not_awaited(
    fake: FakeSession,
) -> None:
    """Issue 17: transcripts are an independent stream, and turnComplete is held back."""
    transport = GeminiLiveTransport(fake.options, silent_media())
    events = Events(transport)
    part = pcm_part(distinct(0.1))
    async with transport:
        await fake.server.push({"serverContent": {"modelTurn": {"parts": [part]}}})
        await fake.server.push({"serverContent": {"outputTranscription": {"text": "Hello"}}})
        await fake.server.push({"serverContent": {"generationComplete": True}})
        await fake.server.push({"serverContent": {"outputTranscription": {"text": " there."}}})
        said = await events.wait_replies(1)  # no turnComplete at all
        await fake.server.push({"serverContent": {"turnComplete": True}})
        await fake.server.push({"serverContent": {"outputTranscription": {"text": " Late."}}})
        await asyncio.sleep(0.1)
    assert said == ["Hello there."]
    assert events.said() == ["Hello there."]  # words after the turn: no second output
    assert len(events.of("bot-llm-started")) == 1  # ... and no phantom reply


async def test_an_unfinished_input_transcript_after_the_reply_started_is_one_final(
    fake: FakeSession,
) -> None:
    """Issue 17: input transcription keeps coming after modelTurn and is never finished."""
    transport = GeminiLiveTransport(fake.options, silent_media())
    events = Events(transport)
    part = pcm_part(distinct(0.1))
    async with transport:
        for content in (
            {"inputTranscription": {"text": "what is"}},
            {"modelTurn": {"parts": [part]}},
            {"inputTranscription": {"text": " the weather"}},
            {"generationComplete": True},
            {"turnComplete": True},
        ):
            await fake.server.push({"serverContent": content})
        await events.wait_for("user-transcription", 3)
        await asyncio.sleep(0.1)
    finals = [e.data.text for e in events.of("user-transcription") if e.data.final]
    assert finals == ["what is the weather"]


# ---------------------------------------------------------------- tools
async def test_tool_call_round_trip(fake: FakeSession) -> None:
    fake.server.script(
        Reply(
            text="The weather: {results}", tool_calls=[ToolCall("get_weather", {"city": "Paris"})]
        )
    )
    transport = GeminiLiveTransport(fake.options, silent_media())
    events = Events(transport)

    async def answer(message: rtvi.RTVIMessage) -> None:
        assert isinstance(message, rtvi.LLMFunctionCallInProgress)
        data = message.data
        await transport.send_message(
            rtvi.LLMFunctionCallResult(
                data=rtvi.LLMFunctionCallResultData(
                    function_name=data.function_name or "",
                    tool_call_id=data.tool_call_id,
                    arguments=data.arguments or {},
                    result={"temperature": 21, "sky": "clear"},
                )
            )
        )

    transport.on("llm-function-call-in-progress", answer)
    async with transport:
        await transport.send_message(say("weather in Paris?"))
        [output] = await events.wait_for("bot-output")
    [started] = events.of("llm-function-call-started")
    [progress] = events.of("llm-function-call-in-progress")
    [stopped] = events.of("llm-function-call-stopped")
    assert started.data.function_name == "get_weather"
    assert progress.data.arguments == {"city": "Paris"}
    assert stopped.data.cancelled is False and stopped.data.result == {
        "temperature": 21,
        "sky": "clear",
    }
    assert output.data.text == 'The weather: [{"temperature":21,"sky":"clear"}]'
    [response] = fake.server.latest.of_kind("toolResponse")
    assert response["functionResponses"] == [
        {
            "id": progress.data.tool_call_id,
            "name": "get_weather",
            "response": {"temperature": 21, "sky": "clear"},
        }
    ]
    for frame in fake.server.latest.raw:
        check_client_frame(frame)


async def test_non_object_results_are_wrapped_and_barge_in_cancels_a_pending_call(
    fake: FakeSession,
) -> None:
    fake.server.script(
        Reply(text="ok {results}", tool_calls=[ToolCall("roll_die")]),
        Reply(text="never", tool_calls=[ToolCall("slow_lookup")]),
    )
    media = silent_media()
    transport = GeminiLiveTransport(fake.options, media)
    events = Events(transport)
    async with transport:
        await transport.send_message(say("roll"))
        [call] = await events.wait_for("llm-function-call-in-progress")
        result = rtvi.LLMFunctionCallResultData(
            function_name="roll_die", tool_call_id=call.data.tool_call_id, result=4
        )
        await transport.send_message(rtvi.LLMFunctionCallResult(data=result))
        await events.wait_for("bot-output")
        await transport.send_message(say("look it up"))
        calls = await events.wait_for("llm-function-call-in-progress", 2)
        # The user speaks before the result (the fake cancels the call), then is silent: the
        # media's tail silence follows only the input it started with.
        media.feed(np.concatenate([speech(), np.zeros(16000, np.int16)]))
        stopped = await events.wait_for("llm-function-call-stopped", 2)
        late = rtvi.LLMFunctionCallResultData(
            function_name="slow_lookup", tool_call_id=calls[1].data.tool_call_id, result="late"
        )
        await transport.send_message(rtvi.LLMFunctionCallResult(data=late))
        await events.wait_for("bot-llm-stopped", 2)
    assert fake.server.conversation().tool_results[0]["response"] == {"output": 4}
    assert (
        stopped[1].data.cancelled is True
        and stopped[1].data.tool_call_id == calls[1].data.tool_call_id
    )
    assert len(fake.server.latest.of_kind("toolResponse")) == 1  # the late result was not sent
    assert any("toolCallCancellation" in m for m in fake.server.latest.sent)


# ---------------------------------------------------------------- staying connected
async def test_go_away_reconnects_at_once_and_resumes_the_same_conversation(
    fake: FakeSession,
) -> None:
    transport = GeminiLiveTransport(fake.options, silent_media())
    events = Events(transport)
    async with transport:
        await transport.send_message(say("first"))
        await events.wait_for("bot-output")
        handle = transport.resumption_handle
        await fake.server.go_away(3.0)
        await events.wait_for("reconnected")
        await transport.send_message(say("second"))
        outputs = await events.wait_for("bot-output", 2)
    assert [o.data.text for o in outputs] == [
        "This is reply 1. You said: first.",
        "This is reply 2. You said: second.",  # the fake's count came back with the handle
    ]
    first, second = fake.server.connections
    assert second.resumed_from == handle and first.conversation_id == second.conversation_id
    assert first.closed_by == "client" and fake.server.forced_closes == 0
    [reconnecting] = events.of("reconnecting")
    assert reconnecting.data.reason == "goAway" and reconnecting.data.delay_s == 0
    assert events.of("reconnected")[0].data.resumed is True
    assert not events.of("error")  # a planned reconnect is not an error
    assert transport.go_aways == 1 and transport.resumptions == 1
    assert fake.server.conversation().transcript()[:2] == [
        "user: first",
        "model: This is reply 1. You said: first.",
    ]


async def test_go_away_mid_reply_waits_for_the_turn_then_moves_before_the_deadline() -> None:
    async with running_fake(playback_wait=1.0) as (server, options):
        server.script(Reply(text="finishing my sentence", audio=speech_like_tone(0.8)))
        media = silent_media(realtime=True)
        transport = GeminiLiveTransport(options, media)
        events = Events(transport)
        async with transport:
            await transport.send_message(say("talk"))
            await events.wait_for("bot-started-speaking")
            await server.go_away(4.0)
            await events.wait_for("reconnected", timeout=4.0)
        first = server.connections[0]
        kinds = [next(iter(m)) for m in first.sent]
        # The turn completed and its handle arrived before the client moved on.
        assert kinds[-2:] == ["serverContent", "sessionResumptionUpdate"]
        assert (
            server.connections[1].resumed_from
            == first.sent[-1]["sessionResumptionUpdate"]["newHandle"]
        )
        assert server.conversation().turns[-1] == {"role": "model", "text": "finishing my sentence"}
        assert server.forced_closes == 0 and not events.of("error")


async def test_a_dropped_socket_resumes_the_same_conversation(fake: FakeSession) -> None:
    transport = GeminiLiveTransport(fake.options, silent_media())
    events = Events(transport)
    async with transport:
        await transport.send_message(say("before"))
        await events.wait_for("bot-output")
        await fake.server.drop()
        await events.wait_for("reconnected")
        await transport.send_message(say("after"))
        outputs = await events.wait_for("bot-output", 2)
        assert transport.state is S.READY
    assert outputs[1].data.text == "This is reply 2. You said: after."
    assert fake.server.connections[1].resumed_from is not None
    assert events.of("reconnected")[0].data.resumed is True
    assert all(not e.data.fatal for e in events.of("error"))


def numbered(n: int) -> np.ndarray[Any, np.dtype[np.int16]]:
    """Loud mic audio whose every sample value names its position (never 0, never repeated)."""
    return ((np.arange(n) * 7 % 30000) + 1000).astype(np.int16)


@dataclasses.dataclass
class Accounting:
    first: int  # index of the first sample the server got (the core drops pre-ready chunks)
    lost: int  # samples after ``first`` that never arrived
    duplicated: int
    in_order: bool


def account(received: np.ndarray[Any, Any], n: int) -> Accounting:
    lookup = np.full(32768, -1)
    lookup[numbered(n)] = np.arange(n)
    index = lookup[received[received != 0]]  # zeros are the mic's tail silence
    assert np.all(index >= 0), "the server got samples the mic never produced"
    unique = np.unique(index)
    first = int(index[0])
    return Accounting(
        first=first,
        lost=n - first - len(unique),
        duplicated=len(index) - len(unique),
        in_order=bool(np.all(np.diff(index) > 0)),
    )


async def measure_reconnect(kind: str, at: float) -> tuple[Accounting, float, Any]:
    """Talk through a goAway or a dropped socket; account for every mic sample."""
    n = 30000  # 1.9 s of continuous, loud "speech"
    async with running_fake(playback_wait=0.0) as (server, options):
        media = FileMediaManager(numbered(n), input_rate=16000, realtime=True, tail_silence_ms=200)
        transport = GeminiLiveTransport(options, media)
        events = Events(transport)
        loop = asyncio.get_running_loop()
        marks: list[float] = []
        transport.on("reconnecting", lambda m: marks.append(loop.time()))
        transport.on("reconnected", lambda m: marks.append(loop.time()))
        async with transport:
            await asyncio.sleep(at)
            await (server.go_away(1.0) if kind == "goAway" else server.drop())
            await events.wait_for("reconnected", timeout=3.0)
            await media.wait_input_done()
            last = numbered(n)[-1]
            await server.wait_for(lambda: bool(np.any(server.received_audio() == last)))
            stats = dataclasses.replace(transport.stats)
        assert server.forced_closes == 0 and server.connections[1].resumed_from is not None
        assert stats.chunks_dropped_reconnecting == 0
        result = account(server.received_audio(), n)
        assert result.first == stats.chunks_dropped_not_ready * 320 <= 2 * 320
        return result, marks[1] - marks[0], server


async def test_go_away_while_the_user_talks_loses_and_repeats_no_audio(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result, gap, server = await measure_reconnect("goAway", at=0.4)
    assert result.lost == 0 and result.duplicated == 0 and result.in_order
    # The user never paused, so the move waited until shortly before the 1 s deadline.
    go_away_at = next(i for i, m in enumerate(server.connections[0].sent) if "goAway" in m)
    assert go_away_at > 0 and server.connections[0].closed_by == "client"
    with capsys.disabled():
        print(f"\n[gemini goAway] reconnect gap {gap * 1000:.1f} ms; audio lost 0, duplicated 0")


async def test_a_dropped_socket_loses_at_most_the_audio_in_flight(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result, gap, _ = await measure_reconnect("drop", at=0.6)
    assert result.duplicated == 0 and result.in_order
    # What was written to the socket just before it died cannot be known to have arrived.
    assert result.lost <= 2 * 320
    with capsys.disabled():
        print(
            f"\n[gemini drop] reconnect gap {gap * 1000:.1f} ms; audio lost "
            f"{result.lost / 16:.0f} ms (in flight), duplicated 0"
        )


async def test_go_away_waits_for_the_user_to_finish_and_the_reply() -> None:
    utterance = speech()[: 16000 * 6 // 5]
    async with running_fake(playback_wait=0.0) as (server, options):
        server.script(Reply(text="Got it.", heard="the first words"))
        media = FileMediaManager(utterance, input_rate=16000, realtime=True, tail_silence_ms=2500)
        transport = GeminiLiveTransport(options, media)
        events = Events(transport)
        async with transport:
            await asyncio.sleep(0.3)
            await server.go_away(6.0)  # mid-utterance
            await events.wait_for("reconnected", timeout=5.0)
        first = server.connections[0]
        kinds = [next(iter(m)) for m in first.sent]
        reply = next(
            i for i, m in enumerate(first.sent) if "modelTurn" in m.get("serverContent", {})
        )
        assert kinds.index("goAway") < reply  # the goAway came mid-utterance
        assert kinds[-2:] == ["serverContent", "sessionResumptionUpdate"]  # moved after the reply
        assert server.conversation().transcript()[:2] == ["user: the first words", "model: Got it."]
        assert (
            server.connections[1].resumed_from
            == first.sent[-1]["sessionResumptionUpdate"]["newHandle"]
        )
        assert server.forced_closes == 0 and not events.of("error")


async def test_an_expired_handle_starts_a_new_conversation_instead_of_failing(
    fake: FakeSession,
) -> None:
    transport = GeminiLiveTransport(fake.options, silent_media())
    events = Events(transport)
    async with transport:
        await transport.send_message(say("remember me"))
        await events.wait_for("bot-output")
        fake.server.handles.clear()  # handles expire (after hours, on the real service)
        await fake.server.drop()
        await events.wait_for("reconnected")
        await transport.send_message(say("who am I"))
        outputs = await events.wait_for("bot-output", 2)
    assert outputs[1].data.text == "This is reply 1. You said: who am I."  # a new conversation
    refused, fresh = fake.server.connections[1:]
    assert refused.close_code == 1007 and fresh.resumed_from is None
    assert events.of("reconnected")[0].data.resumed is False
    assert any("could not resume" in e.data.error for e in events.of("error"))
    assert all(not e.data.fatal for e in events.of("error"))


@pytest.mark.parametrize(
    ("code", "reason", "kind", "retryable"),
    [
        (1008, "API key not valid. Please pass a valid API key.", AuthenticationError, False),
        (1008, "", AuthenticationError, False),
        (1008, "Unauthenticated: the ephemeral token is invalid.", AuthenticationError, False),
        (1008, "models/x is not found for API version v1beta", ConnectionFailed, False),
        (1008, "The input token count exceeds the maximum", ConnectionFailed, False),
        (1007, "Invalid JSON payload received.", ConnectionFailed, False),
        (1011, "You exceeded your current quota.", RateLimited, True),
        (1011, "Internal error encountered.", ConnectionFailed, True),
        (None, "", ConnectionFailed, True),
    ],
)
def test_close_codes_map_to_errors(
    code: int | None, reason: str, kind: type[Exception], retryable: bool
) -> None:
    transport = GeminiLiveTransport(GeminiLiveOptions(api_key=SecretStr("k" * 39)))
    error = transport.close_error(code, reason)
    assert isinstance(error, kind) and error.retryable is retryable
    if kind is ConnectionFailed:
        assert not isinstance(error, AuthenticationError | RateLimited)
    assert reason in str(error)


# ---------------------------------------------------------------- errors
async def test_invalid_key_is_an_authentication_error_and_is_not_retried(
    fake: FakeSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    options = fake.options.model_copy(
        update={"api_key": SecretStr("AIza-not-the-right-key-000"), "key_in": "query"}
    )
    transport = GeminiLiveTransport(options, silent_media())
    events = Events(transport)
    with pytest.raises(AuthenticationError, match="API key not valid") as info:
        await transport.connect()
    assert info.value.retryable is False
    assert transport.state is S.ERROR
    assert len(fake.server.connections) == 1
    [error] = events.of("error")
    assert error.data.fatal is True and "API key not valid" in error.data.error
    secret = "AIza-not-the-right-key-000"
    assert secret not in str(info.value) and secret not in repr(transport)
    assert all(secret not in str(e.model_dump()) for e in events.all)
    client_logs = [r.getMessage() for r in caplog.records if r.name.startswith("rtws")]
    assert any("key=***" in line for line in client_logs)  # the handshake was logged, masked
    assert all(secret not in line for line in client_logs)
    assert fake.server.connections[0].query["key"] == secret  # it did travel, in the URL


async def test_rejected_setup_is_a_clear_non_retryable_error(fake: FakeSession) -> None:
    options = fake.options.model_copy(update={"voice": "NoSuchVoice"})
    transport = GeminiLiveTransport(options, silent_media())
    events = Events(transport)
    with pytest.raises(
        ConnectionFailed, match="1007: Request contains an invalid argument"
    ) as info:
        await transport.connect()
    assert info.value.retryable is False and not isinstance(info.value, AuthenticationError)
    assert len(fake.server.connections) == 1
    assert events.of("error")[0].data.fatal is True


async def test_a_policy_close_mid_session_ends_it_without_retry(fake: FakeSession) -> None:
    transport = GeminiLiveTransport(fake.options, silent_media())
    events = Events(transport)
    async with transport:
        await fake.server.close(1008, "API key expired. Please renew the API key.")
        await events.until(lambda: transport.state is S.ERROR)
    [error] = events.of("error")
    assert error.data.fatal is True and "API key expired" in error.data.error
    assert len(fake.server.connections) == 1 and not events.of("reconnecting")


async def test_unknown_model_is_refused_without_retry() -> None:
    async with running_fake({"model": "gemini-nope"}, known_models=["models/gemini-yes"]) as (
        server,
        options,
    ):
        transport = GeminiLiveTransport(options, silent_media())
        with pytest.raises(ConnectionFailed, match="is not found for API version v1beta"):
            await transport.connect()
        assert len(server.connections) == 1


# ---------------------------------------------------------------- activity signals
async def test_voice_activity_messages_become_user_speaking_events() -> None:
    async with running_fake(playback_wait=0.0, voice_activity=True) as (_, options):
        media = FileMediaManager(SPEECH_16K, realtime=False)
        transport = GeminiLiveTransport(options, media)
        events = Events(transport)
        async with transport:
            await events.wait_for("bot-output")
        order = [
            t
            for t in events.types()
            if t in ("user-started-speaking", "user-stopped-speaking", "bot-started-speaking")
        ]
        assert order == ["user-started-speaking", "user-stopped-speaking", "bot-started-speaking"]
        assert [m for m in events.of("metrics") if m.data.ttfb]


async def test_manual_activity_push_to_talk() -> None:
    async with running_fake({"activity_detection": ManualActivity()}, playback_wait=0.0) as (
        server,
        options,
    ):
        media = silent_media()
        transport = GeminiLiveTransport(options, media)
        events = Events(transport)
        async with transport:
            await transport.start_activity()
            media.feed(speech())
            await media.wait_input_done()
            await transport.end_activity()
            [output] = await events.wait_for("bot-output")
        seconds = len(speech()) / 16000 + media.tail_silence_ms / 1000  # the fake timed it
        said = output.data.text.removeprefix("This is reply 1. You said: (")
        assert abs(float(said.split(" ")[0]) - seconds) <= 0.15
        kinds = [
            next(iter(body)) for kind, body in server.latest.messages if kind == "realtimeInput"
        ]
        start, end = kinds.index("activityStart"), kinds.index("activityEnd")
        assert kinds[start + 1 : end].count("audio") >= len(speech()) // 320
        assert events.types().index("user-started-speaking") < events.types().index(
            "user-stopped-speaking"
        )
    async with (
        running_fake(playback_wait=0.0) as (_, options),
        GeminiLiveTransport(options, silent_media()) as transport,
    ):
        with pytest.raises(ConfigurationError, match="ManualActivity"):
            await transport.start_activity()


def pcm_part(pcm: np.ndarray[Any, np.dtype[np.int16]]) -> dict[str, Any]:
    """A ``modelTurn`` part with ``pcm`` in it, as Gemini sends the bot's audio."""
    import base64

    data = base64.b64encode(pcm.tobytes()).decode()
    return {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}
