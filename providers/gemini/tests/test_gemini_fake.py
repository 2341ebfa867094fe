"""The fake Gemini Live server: faithful at the wire, proven with Google's own SDK and types."""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import json
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google import genai
from google.genai import types
from rtws_gemini import wire
from rtws_gemini.testing import EnergyVAD, FakeGeminiServer, Reply, ToolCall
from rtws_gemini.testing.server import BAD_KEY, NO_KEY
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from providers.gemini.tests.conftest import SPEECH_16K
from providers.gemini.tests.genai_check import check_server_frame
from rtws.audio import read_wav
from rtws.errors import ProtocolError

KEY = "fake-gemini-key"
PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
SETUP = {"setup": {"model": "models/gemini-live-test", "sessionResumption": {}}}


def speech() -> np.ndarray[Any, np.dtype[np.int16]]:
    pcm, rate = read_wav(SPEECH_16K)
    assert rate == 16000
    return pcm


def tls_contexts(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: the SDK insists on wss://."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


async def open_raw(
    server: FakeGeminiServer, query: str = "", headers: dict[str, str] | None = None
) -> ClientConnection:
    hdrs = {"x-goog-api-key": KEY} if headers is None else headers
    return await connect(f"{server.url}{PATH}{query}", additional_headers=hdrs)


async def recv_json(ws: ClientConnection) -> dict[str, Any]:
    frame = await asyncio.wait_for(ws.recv(), 5)
    assert isinstance(frame, bytes), "Gemini sends binary frames"
    return json.loads(frame)


async def until_turn_complete(ws: ClientConnection) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while True:
        message = await recv_json(ws)
        messages.append(message)
        if message.get("serverContent", {}).get("turnComplete"):
            return messages


async def close_of(ws: ClientConnection) -> tuple[int | None, str]:
    """Read until the server closes; its close code and reason."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    except ConnectionClosed as closed:
        rcvd = closed.rcvd
        return (rcvd.code, rcvd.reason) if rcvd else (None, "")


# ---------------------------------------------------------------- Google's SDK against the fake
async def test_google_genai_sdk_holds_a_voice_session_with_the_fake(tmp_path: Path) -> None:
    server_ctx, client_ctx = tls_contexts(tmp_path)
    async with FakeGeminiServer(KEY, playback_wait=0.0, ssl=server_ctx) as server:
        server.script(
            Reply(text="Hello from the fake.", heard="hello world", parts_per_message=2),
            Reply(
                text="Sunny, 21 degrees.", tool_calls=[ToolCall("get_weather", {"city": "Paris"})]
            ),
        )
        client = genai.Client(
            api_key=KEY,
            http_options=types.HttpOptions(
                base_url=f"https://127.0.0.1:{server.port}", async_client_args={"ssl": client_ctx}
            ),
        )
        config = types.LiveConnectConfig(
            response_modalities=[types.Modality.AUDIO],
            input_audio_transcription=types.AudioTranscriptionConfig(),
            output_audio_transcription=types.AudioTranscriptionConfig(),
            session_resumption=types.SessionResumptionConfig(),
            tools=[
                types.Tool(
                    function_declarations=[
                        types.FunctionDeclaration(
                            name="get_weather", parameters=types.Schema(type=types.Type.OBJECT)
                        )
                    ]
                )
            ],
        )
        audio = bytearray()
        heard: list[str] = []
        said: list[str] = []
        handles: list[str] = []
        async with client.aio.live.connect(model="gemini-live-test", config=config) as session:
            pcm = speech().tobytes()
            for i in range(0, len(pcm), 3200):
                await session.send_realtime_input(
                    audio=types.Blob(data=pcm[i : i + 3200], mime_type="audio/pcm;rate=16000")
                )
            await session.send_realtime_input(audio_stream_end=True)
            async for message in session.receive():
                content = message.server_content
                if message.data:
                    audio += message.data
                if content and content.input_transcription and content.input_transcription.text:
                    heard.append(content.input_transcription.text)
                if content and content.output_transcription and content.output_transcription.text:
                    said.append(content.output_transcription.text)
                update = message.session_resumption_update
                if update and update.resumable and update.new_handle:
                    handles.append(update.new_handle)
            # Second turn: text in, a tool call, the SDK's tool response, the spoken answer.
            await session.send_client_content(
                turns=types.Content(role="user", parts=[types.Part(text="Weather in Paris?")]),
                turn_complete=True,
            )
            call: types.FunctionCall | None = None
            async for message in session.receive():
                if message.tool_call and message.tool_call.function_calls:
                    call = message.tool_call.function_calls[0]
                    await session.send_tool_response(
                        function_responses=types.FunctionResponse(
                            id=call.id, name=call.name, response={"temperature": 21}
                        )
                    )
            assert call is not None and call.args == {"city": "Paris"}
    assert "".join(heard) == "hello world"
    assert "".join(said) == "Hello from the fake."
    assert len(audio) > 24000  # over half a second of 24 kHz PCM16
    assert handles
    record = server.connections[0]
    kinds = [kind for kind, _ in record.messages]
    assert kinds[0] == "setup" and {"realtimeInput", "clientContent", "toolResponse"} <= set(kinds)
    # The SDK's own spellings: snake_case top-level keys, URL-safe base64.
    assert any(
        b'"realtime_input"' in (f if isinstance(f, bytes) else f.encode()) for f in record.raw
    )
    received = np.frombuffer(bytes(record.audio), np.int16)
    assert np.array_equal(received, speech())
    assert server.conversation().tool_results == [
        {"id": call.id, "name": "get_weather", "response": {"temperature": 21}}
    ]
    for message in record.sent:
        check_server_frame(json.dumps(message))


@pytest.mark.parametrize("wild", [None, 1, 2, 3], ids=["tidy", "wild-1", "wild-2", "wild-3"])
async def test_every_server_message_parses_as_genai_types_with_no_unknown_fields(
    wild: int | None,
) -> None:
    """Tidy and wild (late transcripts, no ``finished``, thoughts, interactionStatus) alike."""
    async with FakeGeminiServer(KEY, playback_wait=0.0, voice_activity=True, wild=wild) as server:
        server.script(
            Reply(text="one two three", parts_per_message=3, tool_calls=[ToolCall("f")]),
            Reply(blocked="GENERATED_AUDIO_SAFETY"),
        )
        ws = await open_raw(server)
        await ws.send(
            json.dumps(
                {
                    **SETUP,
                    "setup": {
                        **SETUP["setup"],
                        "inputAudioTranscription": {},
                        "outputAudioTranscription": {},
                    },
                }
            )
        )
        await recv_json(ws)
        pcm = speech().tobytes() + bytes(16000)
        await ws.send(
            json.dumps(
                {
                    "realtimeInput": {
                        "audio": {
                            "mimeType": "audio/pcm;rate=16000",
                            "data": base64.b64encode(pcm).decode(),
                        }
                    }
                }
            )
        )
        while "toolCall" not in (message := await recv_json(ws)):
            pass
        call_id = message["toolCall"]["functionCalls"][0]["id"]
        await ws.send(
            json.dumps(
                {
                    "toolResponse": {
                        "functionResponses": [
                            {"id": call_id, "name": "f", "response": {"ok": True}}
                        ]
                    }
                }
            )
        )
        await until_turn_complete(ws)
        await ws.send(json.dumps({"realtimeInput": {"text": "say something unsafe"}}))
        await until_turn_complete(ws)
        await server.go_away(30.0)
        await ws.close()
    sent = server.connections[0].sent
    keys = {key for message in sent for key in message}
    assert keys >= {
        "setupComplete",
        "serverContent",
        "toolCall",
        "usageMetadata",
        "sessionResumptionUpdate",
        "goAway",
        "voiceActivity",
    }
    for message in sent:
        parsed = check_server_frame(json.dumps(message))
        assert parsed.model_dump(exclude_none=True), message


# ---------------------------------------------------------------- wire behaviour
async def test_bad_key_completes_the_handshake_then_closes_1008_with_googles_reason() -> None:
    async with FakeGeminiServer(KEY) as server:
        ws = await open_raw(server, headers={"x-goog-api-key": "wrong-key"})
        await ws.send(json.dumps(SETUP))
        assert await close_of(ws) == (1008, BAD_KEY)
        ws = await open_raw(server, headers={})
        await ws.send(json.dumps(SETUP))
        code, reason = await close_of(ws)
        assert code == 1008 and reason == NO_KEY[:123]  # a close reason holds 123 bytes at most
        ws = await open_raw(server, query=f"?key={KEY}", headers={})
        await ws.send(json.dumps(SETUP))
        assert "setupComplete" in await recv_json(ws)
        await ws.close()


async def test_unknown_path_is_an_http_404() -> None:
    async with FakeGeminiServer(KEY) as server:
        with pytest.raises(InvalidStatus) as info:
            await connect(
                f"{server.url}/ws/google.ai.generativelanguage.v1.GenerativeService.Nope",
                additional_headers={"x-goog-api-key": KEY},
            )
        assert info.value.response.status_code == 404


async def test_refused_handshakes_are_googles_json_errors_and_records_never_hold_the_key() -> None:
    async with FakeGeminiServer(KEY) as server:
        server.reject(503, times=1)
        with pytest.raises(InvalidStatus) as info:
            await open_raw(server)
        response = info.value.response
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/json"
        error = json.loads(response.body)["error"]
        assert error["code"] == 503 and error["status"] == "UNAVAILABLE"
        ws = await open_raw(server)  # only once
        await ws.send(json.dumps(SETUP))
        assert "setupComplete" in await recv_json(ws)  # the check saw the real key
        await ws.close()
        await server.wait_for(lambda: server.live_connections == 0)
    assert [h.status for h in server.handshakes] == [503, 101]
    assert server.latest.closed_by == "client" and server.latest.close_code == 1000
    recorded = json.dumps([server.latest.headers, *(h.headers for h in server.handshakes)])
    assert KEY not in recorded and "x-goog-api-key" in recorded


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (
            {"setup": {"model": "models/m", "generationConfig": {"voice_name": "Kore"}}},
            'Invalid JSON payload received. Unknown name "voice_name" at '
            "'setup.generation_config': Cannot find field.",
        ),
        (
            {"realtimeInput": {"audio": {"data": "AAAA"}}},
            "Invalid request: the first message must be a setup message.",
        ),
        (
            {
                "setup": {
                    "model": "models/m",
                    "generationConfig": {"responseModalities": ["SPEECH"]},
                }
            },
            "Invalid value at 'setup.generation_config.response_modalities[0]'",
        ),
        ({"setup": {"model": "models/m"}, "clientContent": {}}, "exactly one of setup"),
        (
            {
                "setup": {
                    "model": "models/m",
                    "generationConfig": {
                        "speechConfig": {
                            "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Nobody"}}
                        }
                    },
                }
            },
            "Request contains an invalid argument.",
        ),
    ],
)
async def test_invalid_messages_close_1007_with_the_parsers_reason(
    message: dict[str, Any], reason: str
) -> None:
    async with FakeGeminiServer(KEY) as server:
        ws = await open_raw(server)
        await ws.send(json.dumps(message))
        code, text = await close_of(ws)
        assert code == 1007 and reason in text


async def test_snake_case_urlsafe_base64_and_text_frames_are_accepted() -> None:
    async with FakeGeminiServer(KEY, text_frames=True, playback_wait=0.0) as server:
        ws = await open_raw(server)
        await ws.send(
            json.dumps(
                {
                    "setup": {
                        "model": "models/m",
                        "generation_config": {"response_modalities": ["audio"]},
                        "realtime_input_config": {
                            "automatic_activity_detection": {"disabled": True}
                        },
                    }
                }
            )
        )
        assert json.loads(await ws.recv()) == {"setupComplete": {}}
        pcm = bytes(range(256)) * 4  # every byte value, so URL-safe characters occur
        urlsafe = base64.urlsafe_b64encode(pcm).decode().rstrip("=")
        assert "-" in urlsafe or "_" in urlsafe
        await ws.send(json.dumps({"realtime_input": {"activity_start": {}}}))
        await ws.send(
            json.dumps(
                {
                    "realtime_input": {
                        "media_chunks": [{"mime_type": "audio/pcm;rate=16000", "data": urlsafe}]
                    }
                }
            )
        )
        await ws.send(json.dumps({"realtime_input": {"activity_end": {}}}))
        reply = await ws.recv()
        assert isinstance(reply, str)  # text frames on request
        await ws.close()
    assert bytes(server.connections[0].audio) == pcm
    assert server.connections[0].setup == {
        "model": "models/m",
        "generationConfig": {"responseModalities": ["AUDIO"]},
        "realtimeInputConfig": {"automaticActivityDetection": {"disabled": True}},
    }


async def test_activity_signals_need_manual_mode() -> None:
    async with FakeGeminiServer(KEY) as server:
        ws = await open_raw(server)
        await ws.send(json.dumps(SETUP))
        await recv_json(ws)
        await ws.send(json.dumps({"realtimeInput": {"activityStart": {}}}))
        code, reason = await close_of(ws)
        assert code == 1007 and "automatic activity detection" in reason


async def test_resumption_handle_restores_the_conversation_on_a_new_connection() -> None:
    async with FakeGeminiServer(KEY, playback_wait=0.0) as server:
        ws = await open_raw(server)
        await ws.send(json.dumps(SETUP))
        assert await recv_json(ws) == {"setupComplete": {}}
        first = await recv_json(ws)
        assert first["sessionResumptionUpdate"]["resumable"] is True
        await ws.send(
            json.dumps(
                {
                    "clientContent": {
                        "turns": [{"role": "user", "parts": [{"text": "hi"}]}],
                        "turnComplete": True,
                    }
                }
            )
        )
        await until_turn_complete(ws)
        update = await recv_json(ws)
        handle = update["sessionResumptionUpdate"]["newHandle"]
        await ws.close()

        ws = await open_raw(server)
        await ws.send(
            json.dumps({"setup": {"model": "models/m", "sessionResumption": {"handle": handle}}})
        )
        await recv_json(ws)
        await ws.send(json.dumps({"realtimeInput": {"text": "again"}}))
        messages = await until_turn_complete(ws)
        await ws.close()
        assert server.connections[1].resumed_from == handle
        assert server.connections[0].conversation_id == server.connections[1].conversation_id
        assert server.conversation().transcript() == [
            "user: hi",
            "model: This is reply 1. You said: hi.",
            "user: again",
            "model: This is reply 2. You said: again.",
        ]
        spoken = "".join(
            m["serverContent"]["outputTranscription"]["text"]
            for m in messages
            if "outputTranscription" in m.get("serverContent", {})
        )
        assert spoken == ""  # no outputAudioTranscription in this setup
        ws = await open_raw(server)
        await ws.send(
            json.dumps({"setup": {"model": "models/m", "sessionResumption": {"handle": "forged"}}})
        )
        code, reason = await close_of(ws)
        assert code == 1007 and "handle" in reason


async def test_go_away_then_forced_close_when_the_time_is_up() -> None:
    async with FakeGeminiServer(KEY) as server:
        ws = await open_raw(server)
        await ws.send(json.dumps(SETUP))
        await recv_json(ws)
        await recv_json(ws)
        await server.go_away(0.2)
        assert await recv_json(ws) == {"goAway": {"timeLeft": "0.2s"}}
        code, _ = await close_of(ws)
        assert code == 1011 and server.forced_closes == 1


async def test_connection_limit_sends_go_away_before_it() -> None:
    async with FakeGeminiServer(KEY, max_connection_s=0.3, go_away_time_left=0.2) as server:
        ws = await open_raw(server)
        await ws.send(json.dumps(SETUP))
        await recv_json(ws)
        await recv_json(ws)
        assert "goAway" in await recv_json(ws)
        assert (await close_of(ws))[0] == 1011


def test_energy_vad_finds_one_turn_in_real_speech() -> None:
    pcm = np.concatenate([np.zeros(8000, np.int16), speech(), np.zeros(16000, np.int16)])
    vad = EnergyVAD(16000, silence_duration_ms=500)
    events = [e for i in range(0, len(pcm), 320) for e in vad.process(pcm[i : i + 320])]
    assert [e.kind for e in events] == ["start", "end"]
    assert 8000 <= events[0].sample <= 8000 + 3200
    assert events[1].sample <= 8000 + len(speech())
    assert EnergyVAD(16000).process(np.zeros(16000, np.int16)) == []
    vad = EnergyVAD(16000)
    vad.process(speech()[:8000])
    assert [e.kind for e in vad.flush()] == ["end"]


def test_wire_helpers() -> None:
    data = bytes(range(256))
    for encoded in (
        base64.b64encode(data).decode(),
        base64.urlsafe_b64encode(data).decode(),
        base64.urlsafe_b64encode(data).decode().rstrip("="),
    ):
        assert wire.b64decode(encoded) == data
    with pytest.raises(ProtocolError):
        wire.b64decode("not base64!")
    assert wire.parse_duration("10s") == 10.0 and wire.parse_duration("0.250s") == 0.25
    assert wire.format_duration(0.5) == "0.5s" and wire.format_duration(10) == "10s"
    with pytest.raises(ProtocolError):
        wire.parse_duration("10 seconds")
    assert wire.pcm_rate("audio/pcm;rate=24000", 16000) == 24000
    assert wire.pcm_rate("audio/pcm", 16000) == 16000
    assert wire.get({"new_handle": "h"}, "newHandle") == "h"


def test_runnable_as_a_module() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtws_gemini.testing", "--port", "0", "--api-key", KEY],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split(" on ")[1].split(" ")[0]

        async def hello() -> dict[str, Any]:
            async with connect(f"{url}{PATH}", additional_headers={"x-goog-api-key": KEY}) as ws:
                await ws.send(json.dumps(SETUP))
                return await recv_json(ws)

        assert asyncio.run(hello()) == {"setupComplete": {}}
    finally:
        proc.terminate()
        proc.wait(5)
