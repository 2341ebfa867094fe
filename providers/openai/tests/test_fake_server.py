"""The fake OpenAI Realtime GA server, driven by a raw websockets client.

Fidelity is checked against the ``openai`` SDK: every event a test sends is
validated as a ``RealtimeClientEvent`` and every event the server sent during
a test (whether the client read it or not) as a ``RealtimeServerEvent``, with
no field the SDK does not declare at any depth.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from openai import AsyncOpenAI
from openai.types.realtime import (
    RealtimeClientEvent,
    RealtimeServerEvent,
    RealtimeSessionCreateResponse,
    ResponseAudioDeltaEvent,
    ResponseDoneEvent,
    SessionCreatedEvent,
)
from pydantic import BaseModel, TypeAdapter
from rtws_openai.testing import (
    DEFAULT_API_KEY,
    DemoBot,
    EnergyVAD,
    FakeRealtimeServer,
    Reply,
    ScriptedBot,
    Turn,
    mask_secret,
)
from rtws_openai.testing.demo import ECHO_SPEEDUP, espeak_available, recognizer_name
from rtws_openai.testing.events import AudioDeltas, audio_delta
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

Json = dict[str, Any]
DATA = Path(__file__).parents[3] / "tests" / "data"
SERVER_EVENT: TypeAdapter[RealtimeServerEvent] = TypeAdapter(RealtimeServerEvent)
CLIENT_EVENT: TypeAdapter[RealtimeClientEvent] = TypeAdapter(RealtimeClientEvent)
#: The live service sends these in its session objects, but the SDK's
#: SessionCreatedEvent/SessionUpdatedEvent type them as a session *request*,
#: which lacks them; those objects are checked against
#: RealtimeSessionCreateResponse (which declares them) instead.
SESSION_ONLY_FIELDS = {"id", "object", "expires_at"}


# ====================================================================== fidelity checks
def extras(model: object, path: str = "") -> list[str]:
    """Every field, at any depth, that the SDK model does not declare."""
    found: list[str] = []
    if isinstance(model, BaseModel):
        found += [f"{path}.{name}" for name in model.model_extra or {}]
        for name in type(model).model_fields:
            found += extras(getattr(model, name), f"{path}.{name}")
    elif isinstance(model, list):
        for i, item in enumerate(model):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
            found += extras(item, f"{path}[{i}]")
    return found


def check_server_event(event: Json) -> BaseModel:
    parsed = SERVER_EVENT.validate_python(event)
    assert isinstance(parsed, BaseModel)
    unknown = extras(parsed)
    if isinstance(parsed, SessionCreatedEvent) or event["type"] == "session.updated":
        allowed = {f".session.{name}" for name in SESSION_ONLY_FIELDS}
        assert set(unknown) <= allowed, unknown
        session = RealtimeSessionCreateResponse.model_validate(event["session"])
        unknown = extras(session)
    assert not unknown, f"{event['type']}: fields the SDK does not know: {unknown}"
    return parsed


def check_client_event(event: Json) -> None:
    parsed = CLIENT_EVENT.validate_python(event)
    assert not extras(parsed), f"{event['type']}: {extras(parsed)}"


def check_ids(server: FakeRealtimeServer) -> None:
    event_ids = [e["event_id"] for e in server.sent]
    assert len(event_ids) == len(set(event_ids)), "event ids repeat"
    assert all(i.startswith("event_") for i in event_ids)
    for event in server.sent:
        if "item_id" in event:
            assert event["item_id"].startswith("item_")
        if "response_id" in event:
            assert event["response_id"].startswith("resp_")
        if event["type"].startswith("response.") and "response" in event:
            assert event["response"]["id"].startswith("resp_")


def test_the_fidelity_check_catches_unknown_fields() -> None:
    good = {
        "type": "input_audio_buffer.speech_started",
        "event_id": "event_1",
        "audio_start_ms": 0,
        "item_id": "item_1",
    }
    check_server_event(good)
    with pytest.raises(AssertionError, match="extra"):
        check_server_event({**good, "extra": 1})
    nested = {
        "type": "conversation.item.added",
        "event_id": "event_2",
        "previous_item_id": None,
        "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "x": 1}]},
    }
    with pytest.raises(AssertionError, match=r"item\.content\[0\]\.x"):
        check_server_event(nested)
    with pytest.raises(AssertionError, match="voice"):
        check_client_event(
            {"type": "session.update", "session": {"type": "realtime", "voice": "x"}}
        )


# ====================================================================== helpers
def speech() -> bytes:
    """About 2.3 s of real espeak-ng speech, PCM16 24 kHz."""
    with wave.open(str(DATA / "speech_24k.wav")) as wav:
        assert wav.getframerate() == 24000
        return wav.readframes(wav.getnframes())


def silence(ms: int) -> bytes:
    return bytes(48 * ms)


def tone(seconds: float, hz: float = 220.0) -> np.ndarray[Any, np.dtype[np.int16]]:
    t = np.arange(int(24000 * seconds)) / 24000
    return (8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


class Client:
    """A raw GA client: every event it sends is checked against the SDK first."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[Json] = []

    async def send(self, event: Json) -> None:
        check_client_event(event)
        await self.ws.send(json.dumps(event))

    async def send_raw(self, frame: str | bytes) -> None:
        await self.ws.send(frame)

    async def append(self, pcm: bytes, chunk_ms: int = 20) -> None:
        step = 48 * chunk_ms
        for i in range(0, len(pcm), step):
            audio = base64.b64encode(pcm[i : i + step]).decode()
            await self.send({"type": "input_audio_buffer.append", "audio": audio})

    async def recv(self, timeout: float = 5.0) -> Json:
        event: Json = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        check_server_event(event)
        self.events.append(event)
        return event

    async def read_to_end(self) -> ConnectionClosed:
        """Read events until the connection ends; how it ended."""
        try:
            while True:
                await self.recv()
        except ConnectionClosed as closed:
            return closed

    async def until(self, type_: str, timeout: float = 5.0) -> list[Json]:
        """Events up to and including the next ``type_``."""
        got: list[Json] = []
        async with asyncio.timeout(timeout):
            while True:
                got.append(await self.recv())
                if got[-1]["type"] == type_:
                    return got

    async def update(self, **session: Any) -> Json:
        await self.send({"type": "session.update", "session": {"type": "realtime", **session}})
        return (await self.until("session.updated"))[-1]

    async def say_text(self, text: str, **response: Any) -> None:
        await self.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            }
        )
        await self.send({"type": "response.create", **({"response": response} if response else {})})


def types(events: list[Json]) -> list[str]:
    return [e["type"] for e in events]


def collapse(names: list[str]) -> list[str]:
    """Runs of the same event type collapsed into one: the protocol's shape."""
    out: list[str] = []
    for name in names:
        if not out or out[-1] != name:
            out.append(name)
    return out


AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}


@pytest.fixture
async def server() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer() as fake:
        yield fake
    # Everything the server sent in the test, read by the client or not.
    for event in fake.sent:
        check_server_event(event)
    check_ids(fake)


@pytest.fixture
def open_client(
    server: FakeRealtimeServer,
) -> Callable[..., Any]:
    async def opener(model: str = "gpt-realtime", manual: bool = False) -> Client:
        ws = await connect(f"{server.url}?model={model}", additional_headers=AUTH)
        client = Client(ws)
        created = await client.recv()
        assert created["type"] == "session.created"
        if manual:
            await client.update(audio={"input": {"turn_detection": None}})
        return client

    return opener


# ====================================================================== session
async def test_session_created_is_the_full_default_session(
    server: FakeRealtimeServer, open_client: Callable[..., Any]
) -> None:
    client: Client = await open_client(model="gpt-realtime-mini")
    session = client.events[0]["session"]
    assert session["type"] == "realtime"
    assert session["object"] == "realtime.session"
    assert session["id"].startswith("sess_")
    assert session["model"] == "gpt-realtime-mini"
    assert session["output_modalities"] == ["audio"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert session["audio"]["output"]["voice"] == "marin"
    assert server.connections[0].model == "gpt-realtime-mini"
    await client.ws.close()


async def test_session_update_merges_and_normalises(
    server: FakeRealtimeServer, open_client: Callable[..., Any]
) -> None:
    client: Client = await open_client()
    updated = await client.update(
        instructions="Be brief.",
        audio={
            "input": {
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
                "transcription": {"model": "gpt-4o-mini-transcribe"},
            },
            "output": {"voice": "cedar"},
        },
        tools=[{"type": "function", "name": "get_time", "parameters": {"type": "object"}}],
    )
    session = updated["session"]
    assert session["instructions"] == "Be brief."
    vad = session["audio"]["input"]["turn_detection"]
    assert vad["silence_duration_ms"] == 300
    assert vad["threshold"] == 0.5  # defaults filled in, as the service does
    assert vad["create_response"] is True
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["output"]["voice"] == "cedar"
    assert session["tools"][0]["name"] == "get_time"
    assert server.connections[0].session == session
    await client.ws.close()


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        ({"instructions": "x"}, "missing_required_parameter", "session.type"),
        ({"type": "realtime", "voice": "marin"}, "unknown_parameter", "session.voice"),
        ({"type": "realtime", "instructions": 5}, "invalid_type", "session.instructions"),
        (
            {"type": "realtime", "output_modalities": ["audio", "text"]},
            "invalid_value",
            "session.output_modalities",
        ),
        (
            {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "loud"}}}},
            "invalid_value",
            "session.audio.input.turn_detection.type",
        ),
        (
            {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 2}}},
            },
            "decimal_above_max_value",
            "session.audio.input.turn_detection.threshold",
        ),
        (
            {
                "type": "realtime",
                "audio": {"output": {"format": {"type": "audio/pcm", "rate": 16000}}},
            },
            "invalid_value",
            "session.audio.output.format.rate",
        ),
    ],
)
async def test_bad_session_update_is_an_error_event_and_changes_nothing(
    server: FakeRealtimeServer,
    open_client: Callable[..., Any],
    session: Json,
    code: str,
    param: str,
) -> None:
    client: Client = await open_client()
    before = server.connections[0].session
    await client.send_raw(
        json.dumps({"type": "session.update", "event_id": "evt_client_1", "session": session})
    )
    error = (await client.until("error"))[-1]["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == code
    assert error["param"] == param
    assert error["event_id"] == "evt_client_1"
    assert server.connections[0].session == before
    # The connection stays usable.
    assert (await client.update(instructions="still here"))["session"]["instructions"] == (
        "still here"
    )
    await client.ws.close()


# ====================================================================== handshake
async def test_wrong_key_is_refused_with_openais_401_body(server: FakeRealtimeServer) -> None:
    wrong = "sk-wrong-0123456789-very-secret"
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            f"{server.url}?model=gpt-realtime",
            additional_headers={"Authorization": f"Bearer {wrong}"},
        )
    response = refused.value.response
    assert response.status_code == 401
    body = json.loads(response.body)
    assert body["error"]["code"] == "invalid_api_key"
    assert body["error"]["type"] == "invalid_request_error"
    assert wrong not in response.body.decode()
    assert mask_secret(wrong) in body["error"]["message"]
    assert "very-secret" not in body["error"]["message"]
    with pytest.raises(InvalidStatus) as missing:
        await connect(f"{server.url}?model=gpt-realtime")
    assert missing.value.response.status_code == 401
    assert [h.status for h in server.handshakes] == [401, 401]
    assert wrong not in json.dumps([h.headers for h in server.handshakes])
    assert not server.connections


async def test_azure_api_key_header_and_deployment_query(server: FakeRealtimeServer) -> None:
    url = server.url.replace("/v1/realtime", "/openai/v1/realtime") + "?deployment=my-rt"
    async with connect(url, additional_headers={"api-key": DEFAULT_API_KEY}) as ws:
        created = json.loads(await ws.recv())
        assert created["session"]["model"] == "my-rt"
    assert server.connections[0].headers["api-key"] == mask_secret(DEFAULT_API_KEY)


async def test_handshake_needs_model_and_ga_interface(server: FakeRealtimeServer) -> None:
    with pytest.raises(InvalidStatus) as no_model:
        await connect(server.url, additional_headers=AUTH)
    assert no_model.value.response.status_code == 400
    assert json.loads(no_model.value.response.body)["error"]["param"] == "model"
    with pytest.raises(InvalidStatus) as beta:
        await connect(
            f"{server.url}?model=gpt-realtime",
            additional_headers={**AUTH, "OpenAI-Beta": "realtime=v1"},
        )
    assert json.loads(beta.value.response.body)["error"]["code"] == "beta_api_shape_disabled"


async def test_rejection_knobs(server: FakeRealtimeServer) -> None:
    url = f"{server.url}?model=gpt-realtime"
    server.reject(429, retry_after=2, times=1)
    with pytest.raises(InvalidStatus) as limited:
        await connect(url, additional_headers=AUTH)
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["retry-after"] == "2"
    assert json.loads(limited.value.response.body)["error"]["code"] == "rate_limit_exceeded"
    async with connect(url, additional_headers=AUTH) as ws:  # only once
        assert json.loads(await ws.recv())["type"] == "session.created"
    server.reject(500)
    for _ in range(2):
        with pytest.raises(InvalidStatus) as broken:
            await connect(url, additional_headers=AUTH)
        assert broken.value.response.status_code == 500
        assert json.loads(broken.value.response.body)["error"]["type"] == "server_error"
    server.accept()
    async with connect(url, additional_headers=AUTH):
        pass
    assert [h.status for h in server.handshakes] == [429, 101, 500, 500, 101]


async def test_handshake_that_never_answers_and_silent_server(server: FakeRealtimeServer) -> None:
    url = f"{server.url}?model=gpt-realtime"
    server.hang_handshake = True
    with pytest.raises(TimeoutError):
        await connect(url, additional_headers=AUTH, open_timeout=0.3)
    server.hang_handshake = False
    server.handshake_delay = 0.05
    server.silent = True
    async with connect(url, additional_headers=AUTH) as ws:
        await ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime"}}))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.3)
    assert server.received[-1]["type"] == "session.update"


def test_audio_delta_text_is_the_events_json() -> None:
    where = {"response_id": "resp_1", "item_id": "item_2", "output_index": 0}
    deltas = AudioDeltas(where)
    payload = base64.b64encode(bytes(range(256)) * 8).decode()
    first, text = deltas.build(payload)
    assert text == json.dumps(first)  # the same bytes the encoder gives
    assert first == {**audio_delta(where, payload), "event_id": first["event_id"]}
    check_server_event(first)
    second, _ = deltas.build(payload)
    assert second["event_id"] != first["event_id"]


# ====================================================================== audio in, VAD
def test_energy_vad_hysteresis() -> None:
    vad = EnergyVAD(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=200)
    blip = tone(0.02).tobytes()  # shorter than the 30 ms needed to start
    assert vad.feed(silence(500) + blip + silence(500)) == []
    loud, soft = tone(0.4).tobytes(), (tone(0.1) // 12).astype(np.int16).tobytes()
    events = vad.feed(loud + soft + loud + silence(300))  # a 22 dB dip: still speech
    assert len(events) == 2
    started, stopped = events
    assert started.onset_ms == 1020  # 1020 ms of audio came before the loud part
    assert started.audio_start_ms == 1020 - 300
    assert stopped.audio_end_ms == 1020 + 900 + 200


def test_energy_vad_same_events_whatever_the_chunking() -> None:
    speech = silence(400) + tone(0.3).tobytes() + silence(700)
    whole = EnergyVAD(silence_duration_ms=300).feed(speech)
    assert len(whole) == 2
    for size in (960, 962, 130):  # whole 20 ms chunks, then pieces splitting frames and samples
        vad = EnergyVAD(silence_duration_ms=300)
        found = [e for i in range(0, len(speech), size) for e in vad.feed(speech[i : i + size])]
        assert found == whole, size


async def test_vad_turn_from_real_speech(
    server: FakeRealtimeServer, open_client: Callable[..., Any]
) -> None:
    bot = ScriptedBot([Reply.say("Hi there!", tone(0.4))], transcripts=["hello there how are you"])
    server.bot = bot
    client: Client = await open_client()
    await client.update(audio={"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}})
    pcm = silence(500) + speech() + silence(1000)
    await client.append(pcm)
    events = await client.until("response.done")
    names = types(events)
    started = events[names.index("input_audio_buffer.speech_started")]
    stopped = events[names.index("input_audio_buffer.speech_stopped")]
    committed = events[names.index("input_audio_buffer.committed")]
    item_id = started["item_id"]
    assert stopped["item_id"] == committed["item_id"] == item_id
    assert 100 <= started["audio_start_ms"] <= 500  # onset at ~550 ms minus 300 ms padding
    assert 2500 <= stopped["audio_end_ms"] <= 3400  # speech end + 500 ms silence
    added = events[names.index("conversation.item.added")]
    assert added["item"]["id"] == item_id
    assert added["item"]["content"] == [{"type": "input_audio", "transcript": None}]
    completed = next(
        e for e in events if e["type"] == "conversation.item.input_audio_transcription.completed"
    )
    deltas = "".join(
        e["delta"] for e in events if e["type"].endswith("input_audio_transcription.delta")
    )
    assert completed["transcript"] == deltas == "hello there how are you"
    assert names.index("input_audio_buffer.committed") < names.index("response.created")
    turn = bot.turns[0]
    assert turn.transcript == "hello there how are you"
    heard_ms = stopped["audio_end_ms"] - started["audio_start_ms"]
    assert abs(turn.audio_seconds * 1000 - heard_ms) <= 10
    assert server.audio_in == pcm
    assert events[-1]["response"]["status"] == "completed"
    await client.ws.close()


async def test_vad_that_neither_answers_nor_interrupts(
    server: FakeRealtimeServer, open_client: Callable[..., Any]
) -> None:
    server.bot = ScriptedBot([Reply.say("I keep talking.", tone(1.2))])
    server.pace = 1.0
    client: Client = await open_client()
    vad = {"type": "server_vad", "create_response": False, "interrupt_response": False}
    await client.update(audio={"input": {"turn_detection": vad}})
    await client.say_text("go")
    await client.until("response.output_audio.delta")
    await client.append(speech() + silence(800))
    events = await client.until("response.done")
    assert "input_audio_buffer.committed" in types(events)  # the user's turn, mid-reply
    assert events[-1]["response"]["status"] == "completed"  # not interrupted
    # No automatic response was started, so this one is accepted.
    await client.send({"type": "response.create"})
    assert (await client.recv())["type"] == "response.created"
    await client.until("response.done")
    await client.ws.close()


async def test_semantic_vad(server: FakeRealtimeServer, open_client: Callable[..., Any]) -> None:
    client: Client = await open_client()
    updated = await client.update(
        audio={"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}}
    )
    assert updated["session"]["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "high",
        "create_response": True,
        "interrupt_response": True,
    }
    await client.append(speech() + silence(1000))
    events = await client.until("response.done")
    stopped = next(e for e in events if e["type"] == "input_audio_buffer.speech_stopped")
    assert stopped["audio_end_ms"] < 2500  # eagerness "high" waits only 300 ms
    await client.ws.close()


async def test_manual_turns_commit_clear(
    server: FakeRealtimeServer, open_client: Callable[..., Any]
) -> None:
    bot = ScriptedBot()
    server.bot = bot
    client: Client = await open_client(manual=True)
    await client.append(speech())
    await client.send({"type": "input_audio_buffer.clear"})
    assert (
        types(await client.until("input_audio_buffer.cleared"))[-1] == "input_audio_buffer.cleared"
    )
    await client.send({"type": "input_audio_buffer.commit", "event_id": "evt_commit"})
    error = (await client.until("error"))[-1]["error"]
    assert error["code"] == "input_audio_buffer_commit_empty"
    assert error["event_id"] == "evt_commit"
    pcm = speech()
    await client.append(pcm)
    await client.send({"type": "input_audio_buffer.commit"})
    events = await client.until("conversation.item.done")
    assert "input_audio_buffer.speech_started" not in types(events)  # no VAD
    assert types(events)[-3:] == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    await client.send({"type": "response.create"})
    await client.until("response.done")
    assert len(bot.turns[0].audio) * 2 == len(pcm)
    assert bot.turns[0].transcript is None  # transcription is off by default
    await client.ws.close()


# ====================================================================== responses
async def test_audio_response_streams_in_protocol_order(
    server: FakeRealtimeServer, open_client: Callable[..., Any]
) -> None:
    audio = tone(1.0)
    server.bot = ScriptedBot([Reply.say("one two three four five", audio)])
    client: Client = await open_client(manual=True)
    await client.say_text("count to five")
    events = await client.until("response.done")
    response = [
        e
        for e in events
        if e["type"].startswith("response.") or e["type"] in ("rate_limits.updated",)
    ]
    response_start = types(events).index("response.created")
    shape = collapse(
        [t for t in types(events[response_start:]) if t != "response.output_audio_transcript.delta"]
    )
    assert shape == [
        "response.created",
        "rate_limits.updated",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_audio.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    deltas = [e for e in response if e["type"] == "response.output_audio.delta"]
    assert len(deltas) == 25  # 1 s in 40 ms pieces
    pcm = b"".join(base64.b64decode(e["delta"]) for e in deltas)
    assert pcm == audio.tobytes()
    transcript = "".join(
        e["delta"] for e in response if e["type"] == "response.output_audio_transcript.delta"
    )
    assert transcript == "one two three four five"
    done = response[-1]["response"]
    assert done["status"] == "completed"
    assert done["usage"]["output_tokens"] > 0
    item = done["output"][0]
    assert item["status"] == "completed"
    assert item["content"] == [{"type": "output_audio", "transcript": "one two three four five"}]
    assert {e["item_id"] for e in deltas} == {item["id"]}
    assert {e["response_id"] for e in deltas} == {done["id"]}
    parsed = check_server_event(deltas[0])
    assert isinstance(parsed, ResponseAudioDeltaEvent)
    await client.ws.close()


async def test_text_only_responses(
    server: FakeRealtimeServer, open_client: Callable[..., Any]
) -> None:
    answer = "Here is a fairly short written answer."
    server.bot = ScriptedBot([Reply.say(answer, tone(2.0)), Reply.say("Text again.")])
    client: Client = await open_client(manual=True)
    await client.say_text("answer in text", output_modalities=["text"])  # this response only
    events = await client.until("response.done")
    names = types(events)
    assert not [n for n in names if "audio" in n]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == answer
    assert events[names.index("response.output_text.done")]["text"] == text
    assert events[-1]["response"]["output"][0]["content"] == [{"type": "output_text", "text": text}]
    assert events[-1]["response"]["output_modalities"] == ["text"]
    await client.update(output_modalities=["text"])  # every response from now on
    await client.say_text("and again")
    again = await client.until("response.done")
    assert "response.output_text.done" in types(again)
    assert not [n for n in types(again) if "audio" in n]
    await client.ws.close()


async def test_speech_cancels_a_streaming_reply_and_starts_the_next(
    server: FakeRealtimeServer, open_client: Callable[..., Any]
) -> None:
    bot = ScriptedBot([Reply.say("a long story " * 10, tone(3.0)), Reply.say("Go on.", tone(0.2))])
    server.bot = bot
    server.pace = 1.0
    client: Client = await open_client()
    await client.say_text("tell me a story")
    before = [await client.recv() for _ in range(4)]
    while types(before).count("response.output_audio.delta") < 3:
        before.append(await client.recv())
    await client.append(speech() + silence(700))
    events = before + await client.until("response.done")
    names = types(events)
    assert names.index("input_audio_buffer.speech_started") < len(names) - 1
    first_done = events[-1]["response"]
    assert first_done["status"] == "cancelled"
    assert first_done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    item = first_done["output"][0]
    assert item["status"] == "incomplete"
    heard = sum(
        len(base64.b64decode(e["delta"])) for e in events if e["type"].endswith("audio.delta")
    )
    assert 0 < heard < tone(3.0).nbytes
    # The speech that interrupted becomes the next turn, answered in full.
    after = await client.until("response.done")
    assert after[-1]["response"]["status"] == "completed"
    everything = types(events + after)
    second = len(events) + types(after).index("response.created")
    assert everything.index("input_audio_buffer.committed") < second
    assert bot.turns[1].audio_seconds > 1.5
    await client.ws.close()


async def test_response_cancel(server: FakeRealtimeServer, open_client: Callable[..., Any]) -> None:
    server.bot = ScriptedBot([Reply.say("long " * 20, tone(2.0))])
    server.pace = 1.0
    client: Client = await open_client(manual=True)
    await client.send({"type": "response.cancel", "event_id": "evt_nothing"})
    error = (await client.until("error"))[-1]["error"]
    assert (error["code"], error["event_id"]) == ("response_cancel_not_active", "evt_nothing")
    await client.say_text("talk")
    await client.until("response.output_audio.delta")
    await client.send({"type": "response.create", "event_id": "evt_again"})
    error = (await client.until("error"))[-1]["error"]
    assert error["code"] == "conversation_already_has_active_response"
    await client.send({"type": "response.cancel"})
    done = (await client.until("response.done"))[-1]["response"]
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    await client.send({"type": "response.cancel"})
    assert (await client.until("error"))[-1]["error"]["code"] == "response_cancel_not_active"
    await client.ws.close()


async def test_truncate(server: FakeRealtimeServer, open_client: Callable[..., Any]) -> None:
    server.bot = ScriptedBot([Reply.say("Something to cut short.", tone(1.0))])
    client: Client = await open_client(manual=True)
    await client.say_text("hi")
    events = await client.until("response.done")
    user_item = next(e for e in events if e["type"] == "conversation.item.added")["item"]["id"]
    item_id = events[-1]["response"]["output"][0]["id"]
    await client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": 400,
        }
    )
    truncated = (await client.until("conversation.item.truncated"))[-1]
    assert (truncated["item_id"], truncated["audio_end_ms"]) == (item_id, 400)
    assert [(t.item_id, t.audio_end_ms, t.audio_ms) for t in server.truncations] == [
        (item_id, 400, 1000.0)
    ]
    await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
    kept = (await client.until("conversation.item.retrieved"))[-1]["item"]["content"][0]
    assert len(base64.b64decode(kept["audio"])) == 400 * 48
    assert kept["transcript"] == ""  # unheard text is dropped
    bad: list[tuple[Json, str]] = [
        ({"item_id": item_id, "audio_end_ms": 5000}, "audio_end_ms"),
        ({"item_id": "item_nope", "audio_end_ms": 10}, "item_id"),
        ({"item_id": user_item, "audio_end_ms": 10}, "item_id"),
    ]
    for fields, param in bad:
        await client.send({"type": "conversation.item.truncate", "content_index": 0, **fields})
        error = (await client.until("error"))[-1]["error"]
        assert error["param"] == param
    assert "already shorter than 5000ms" in client.events[-3]["error"]["message"]
    assert len(server.truncations) == 1
    await client.ws.close()


async def test_function_call_round_trip(
    server: FakeRealtimeServer, open_client: Callable[..., Any]
) -> None:
    bot = ScriptedBot(
        [
            Reply.call("get_weather", {"city": "Paris", "unit": "celsius"}),
            Reply.say("Sunny, 21 degrees."),
        ]
    )
    server.bot = bot
    client: Client = await open_client(manual=True)
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    await client.update(tools=[tool])
    await client.say_text("What's the weather in Paris?")
    events = await client.until("response.done")
    start = types(events).index("response.created")
    assert collapse(types(events[start:])) == [
        "response.created",
        "rate_limits.updated",
        "response.output_item.added",
        "conversation.item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    added = events[start + 2]["item"]
    assert (added["type"], added["name"], added["arguments"]) == (
        "function_call",
        "get_weather",
        "",
    )
    deltas = [e for e in events if e["type"] == "response.function_call_arguments.delta"]
    assert len(deltas) >= 2
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert "".join(d["delta"] for d in deltas) == done["arguments"]
    assert json.loads(done["arguments"]) == {"city": "Paris", "unit": "celsius"}
    assert done["call_id"] == added["call_id"]
    assert done["name"] == "get_weather"
    assert events[-1]["response"]["output"][0]["arguments"] == done["arguments"]
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "function_call_output",
                "call_id": done["call_id"],
                "output": '{"c": 21}',
            },
        }
    )
    item_events = await client.until("conversation.item.done")
    assert item_events[-2]["type"] == "conversation.item.added"
    assert item_events[-1]["item"]["call_id"] == done["call_id"]
    await client.send({"type": "response.create"})
    answer = await client.until("response.done")
    transcript = next(e for e in answer if e["type"] == "response.output_audio_transcript.done")
    assert transcript["transcript"] == "Sunny, 21 degrees."
    outputs = bot.turns[1].function_outputs
    assert [(o.call_id, o.name, o.output) for o in outputs] == [
        (done["call_id"], "get_weather", '{"c": 21}')
    ]
    assert bot.turns[0].text == "What's the weather in Paris?"
    assert bot.turns[0].tools[0]["name"] == "get_weather"
    await client.ws.close()


async def test_item_delete_and_insert_position(
    server: FakeRealtimeServer, open_client: Callable[..., Any]
) -> None:
    client: Client = await open_client(manual=True)
    message = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a"}]}
    await client.send({"type": "conversation.item.create", "item": {**message, "id": "item_first"}})
    await client.until("conversation.item.done")
    await client.send(
        {
            "type": "conversation.item.create",
            "previous_item_id": "root",
            "item": {**message, "id": "item_zero"},
        }
    )
    added = (await client.until("conversation.item.done"))[-1]
    assert added["previous_item_id"] is None
    await client.send({"type": "conversation.item.delete", "item_id": "item_first"})
    assert (await client.until("conversation.item.deleted"))[-1]["item_id"] == "item_first"
    await client.send({"type": "conversation.item.delete", "item_id": "item_first"})
    assert (await client.until("error"))[-1]["error"]["param"] == "item_id"
    await client.ws.close()


async def test_scripted_failure_is_a_failed_response(
    server: FakeRealtimeServer, open_client: Callable[..., Any]
) -> None:
    server.bot = ScriptedBot([Reply.fail("The model is overloaded.", code="overloaded")])
    client: Client = await open_client(manual=True)
    await client.say_text("hello")
    events = await client.until("response.done")
    error = next(e for e in events if e["type"] == "error")["error"]
    assert (error["type"], error["code"]) == ("server_error", "overloaded")
    done = events[-1]["response"]
    assert done["status"] == "failed"
    assert done["status_details"]["error"]["code"] == "overloaded"
    assert done["status_details"]["error"]["message"] == "The model is overloaded."
    parsed = check_server_event(events[-1])
    assert isinstance(parsed, ResponseDoneEvent)
    await client.ws.close()


class BrokenBot(ScriptedBot):
    """Its transcription and its first answer both blow up."""

    async def transcribe(self, audio: np.ndarray[Any, np.dtype[np.int16]]) -> str | None:
        raise RuntimeError("microphone on fire")

    async def respond(self, turn: Turn) -> Reply:
        if not self.turns:
            self.turns.append(turn)
            raise ValueError("no idea")
        return await super().respond(turn)


async def test_bot_failures_are_reported_not_hung(
    server: FakeRealtimeServer, open_client: Callable[..., Any]
) -> None:
    server.bot = BrokenBot()
    client: Client = await open_client()
    await client.update(audio={"input": {"transcription": {"model": "whisper-1"}}})
    await client.append(speech() + silence(800))
    events = await client.until("response.done")
    failed = next(e for e in events if e["type"].endswith("input_audio_transcription.failed"))
    assert (
        failed["item_id"] == events[types(events).index("input_audio_buffer.committed")]["item_id"]
    )
    done = events[-1]["response"]
    assert done["status"] == "failed"
    assert "ValueError: no idea" in done["status_details"]["error"]["message"]
    await client.say_text("again?")
    assert (await client.until("response.done"))[-1]["response"]["status"] == "completed"
    await client.ws.close()


# ====================================================================== errors
async def test_bad_client_events_are_errors_and_the_connection_stays_open(
    server: FakeRealtimeServer, open_client: Callable[..., Any]
) -> None:
    client: Client = await open_client(manual=True)
    cases: list[tuple[str | bytes, str, str | None]] = [
        (json.dumps({"type": "response.explode", "event_id": "evt_1"}), "invalid_value", "type"),
        ("{not json", "invalid_json", None),
        (b"\x00\x01binary", "invalid_json", None),
        (json.dumps({"event_id": "evt_2"}), "missing_required_parameter", "type"),
        (
            json.dumps({"type": "input_audio_buffer.append", "audio": "@@@", "event_id": "evt_3"}),
            "invalid_value",
            "audio",
        ),
        (json.dumps({"type": "input_audio_buffer.append"}), "missing_required_parameter", "audio"),
        (
            json.dumps({"type": "conversation.item.truncate", "item_id": "x", "content_index": 0}),
            "missing_required_parameter",
            "audio_end_ms",
        ),
        (
            json.dumps(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "output_text", "text": "x"}],
                    },
                }
            ),
            "invalid_value",
            "item.content.type",
        ),
    ]
    for frame, code, param in cases:
        await client.send_raw(frame)
        error = (await client.until("error"))[-1]["error"]
        assert (error["code"], error["param"]) == (code, param), frame
    ids = [e["error"]["event_id"] for e in client.events if e["type"] == "error"]
    assert ids[0] == "evt_1" and ids[4] == "evt_3"
    assert (await client.update(instructions="fine"))["session"]["instructions"] == "fine"
    await client.ws.close()


# ====================================================================== connection faults
async def test_drop_and_close(server: FakeRealtimeServer, open_client: Callable[..., Any]) -> None:
    client: Client = await open_client()
    await server.drop()
    with pytest.raises(ConnectionClosed) as dropped:
        await client.recv()
    assert dropped.value.rcvd is None  # no close frame: an abrupt loss
    record = await server.wait_closed(0)
    assert record.close_code == 1006
    client = await open_client()
    await server.close(4000, "bye now")
    with pytest.raises(ConnectionClosed) as closed:
        await client.recv()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4000, "bye now")
    assert (await server.wait_closed(1)).close_code == 4000


async def test_scripted_drop_and_close_mid_response(
    server: FakeRealtimeServer, open_client: Callable[..., Any]
) -> None:
    server.bot = ScriptedBot(
        [
            Reply.say("never finished", tone(1.0), drop_after=3),
            Reply.say(
                "closed politely", tone(1.0), close_after=2, close_code=1011, close_reason="oops"
            ),
        ]
    )
    client: Client = await open_client(manual=True)
    await client.say_text("one")
    dropped = await client.read_to_end()
    assert dropped.rcvd is None
    assert types(client.events).count("response.output_audio.delta") == 3
    assert "response.done" not in types(client.events)
    client = await open_client(manual=True)
    await client.say_text("two")
    closed = await client.read_to_end()
    assert closed.rcvd is not None
    assert (closed.rcvd.code, closed.rcvd.reason) == (1011, "oops")
    assert types(client.events).count("response.output_audio.delta") == 2


async def test_send_event_injects_any_server_event(
    server: FakeRealtimeServer, open_client: Callable[..., Any]
) -> None:
    client: Client = await open_client()
    sent = await server.send_event(
        {
            "type": "error",
            "error": {
                "type": "server_error",
                "code": None,
                "message": "hiccup",
                "param": None,
                "event_id": None,
            },
        }
    )
    got = await client.recv()
    assert got == sent
    assert got["event_id"].startswith("event_")
    await client.ws.close()


# ====================================================================== the SDK as a client
async def test_the_openai_sdk_talks_to_the_fake(server: FakeRealtimeServer) -> None:
    server.bot = ScriptedBot([Reply.say("Hello from the fake.", tone(0.5))])
    client = AsyncOpenAI(api_key=DEFAULT_API_KEY, websocket_base_url=server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        first = await conn.recv()
        assert first.type == "session.created"
        await conn.session.update(
            session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
        )
        await conn.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hi"}],
            }
        )
        await conn.response.create()
        seen: list[str] = []
        async for event in conn:
            seen.append(event.type)
            if isinstance(event, ResponseDoneEvent):
                assert event.response.status == "completed"
                break
    assert "response.output_audio.delta" in seen
    assert (
        server.connections[0].headers["authorization"] == f"Bearer {mask_secret(DEFAULT_API_KEY)}"
    )
    for event in server.received:
        check_client_event(event)


# ====================================================================== the demo bot
def speech_turn(index: int = 0, modalities: tuple[str, ...] = ("audio",)) -> Turn:
    pcm = np.frombuffer(speech(), dtype="<i2").astype(np.int16)
    return Turn(index=index, audio=pcm, output_modalities=modalities)


async def test_demo_bot_hears_and_speaks() -> None:
    if recognizer_name() is None:
        pytest.skip("no speech recognizer is installed (the rtws-openai 'demo' extra)")
    if not espeak_available():
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng)")
    bot = DemoBot()
    reply = await bot.respond(speech_turn(index=1))
    assert reply.text.startswith("You said: ")
    heard = set(reply.text.lower().replace(".", " ").split())
    assert len(heard & {"hello", "there", "how", "are", "you", "doing"}) >= 2, reply.text
    assert "That was" in reply.text  # the twist of the second turn
    assert reply.audio is not None
    assert len(reply.audio) / 24000 > 1.0
    assert float(np.sqrt(np.mean(reply.audio.astype(np.float64) ** 2))) > 300
    text_reply = await bot.respond(Turn(index=0, text="good morning", output_modalities=("text",)))
    assert text_reply.text.startswith("You said: good morning. Backwards, that is: morning good")
    assert text_reply.audio is None


async def test_demo_bot_without_asr_or_tts() -> None:
    bot = DemoBot(asr=False, tts=False)
    turn = speech_turn()
    reply = await bot.respond(turn)
    assert reply.text.startswith("I heard about 2.3 seconds of speech.")
    assert "rtws-openai[demo]" in reply.text and "espeak-ng" in reply.text
    assert reply.audio is not None
    assert abs(len(reply.audio) - len(turn.audio) / ECHO_SPEEDUP) < 50
    assert await bot.transcribe(turn.audio) is None


async def test_demo_bot_behind_the_fake_server(
    server: FakeRealtimeServer, open_client: Callable[..., Any]
) -> None:
    if recognizer_name() is None or not espeak_available():
        pytest.skip("needs a speech recognizer (the 'demo' extra) and espeak-ng")
    server.bot = DemoBot()
    client: Client = await open_client()
    await client.update(audio={"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}})
    await client.append(speech() + silence(800))
    events = await client.until("response.done", timeout=20)
    said = next(e for e in events if e["type"].endswith("input_audio_transcription.completed"))
    assert said["transcript"]
    spoken = next(e for e in events if e["type"] == "response.output_audio_transcript.done")
    assert (
        spoken["transcript"]
        == f"You said: {said['transcript'].rstrip('.!?')}. "
        + spoken["transcript"].split(". ", 1)[1]
    )
    audio = b"".join(
        base64.b64decode(e["delta"]) for e in events if e["type"].endswith("audio.delta")
    )
    assert len(audio) / 48000 > 1.0
    await client.ws.close()


async def test_cli_serves_the_demo_bot() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rtws_openai.testing",
        "--port",
        "0",
        "--pace",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert line.startswith("fake OpenAI Realtime server: ws://127.0.0.1:")
        url = line.split(": ", 1)[1].strip()
        async with connect(f"{url}?model=gpt-realtime", additional_headers=AUTH) as ws:
            client = Client(ws)
            assert (await client.recv())["type"] == "session.created"
            await client.update(audio={"input": {"turn_detection": None}})
            await client.say_text("testing one two")
            done = (await client.until("response.done", timeout=20))[-1]
            item = done["response"]["output"][0]
            assert item["content"][0]["transcript"].startswith("You said: testing one two.")
    finally:
        proc.send_signal(2)  # Ctrl-C
        await asyncio.wait_for(proc.wait(), 10)
    assert proc.returncode == 0
