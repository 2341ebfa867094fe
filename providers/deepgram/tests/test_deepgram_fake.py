"""The fake Voice Agent server, driven by a raw websocket client and by Deepgram's own SDK.

Every JSON message the fake sends in these tests is validated against the
``deepgram-sdk`` agent v1 models (no field the SDK does not know), and the
SDK's own async agent client holds a full conversation with it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from deepgram import AsyncDeepgramClient, DeepgramClientEnvironment
from deepgram.agent.v1 import types as dg
from deepgram.core.api_error import ApiError
from rtws_deepgram.testing import (
    DEFAULT_API_KEY,
    FakeDeepgramAgent,
    FunctionCall,
    Reply,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from rtws.audio.wav import read_wav
from rtws.testing.signals import tone

from .conftest import SPEECH_16K
from .sdk_check import check_client_message, check_server_message

AUTH = {"Authorization": f"Token {DEFAULT_API_KEY}"}


def settings(rate_in: int = 16000, rate_out: int = 24000, **agent: Any) -> dict[str, Any]:
    return {
        "type": "Settings",
        "audio": {
            "input": {"encoding": "linear16", "sample_rate": rate_in},
            "output": {"encoding": "linear16", "sample_rate": rate_out, "container": "none"},
        },
        "agent": {
            "listen": {"provider": {"type": "deepgram", "model": "nova-3"}},
            "think": {"provider": {"type": "open_ai", "model": "gpt-4o-mini"}, **agent},
            "speak": {"provider": {"type": "deepgram", "model": "aura-2-thalia-en"}},
        },
    }


class Client:
    """A raw websocket client that records what it gets (JSON and binary)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.audio = bytearray()

    async def send(self, message: dict[str, Any]) -> None:
        check_client_message(message)  # the test's own messages must be valid too
        await self.ws.send(json.dumps(message))

    async def next(self, kind: str, within: float = 5.0) -> dict[str, Any]:
        """Read until a message of ``kind`` (binary frames are collected on the way)."""
        async with asyncio.timeout(within):
            while True:
                frame = await self.ws.recv()
                if isinstance(frame, bytes):
                    self.audio += frame
                    continue
                message: dict[str, Any] = json.loads(frame)
                check_server_message(message)
                self.messages.append(message)
                if message["type"] == kind:
                    return message

    async def start(self, **kw: Any) -> None:
        await self.next("Welcome")
        await self.send(settings(**kw))
        await self.next("SettingsApplied")


@pytest.fixture
async def server() -> AsyncIterator[FakeDeepgramAgent]:
    async with FakeDeepgramAgent(pace=0.0) as fake:
        yield fake
    for record in fake.connections:  # every message the fake sent, whatever the test checked
        for message in record.sent:
            check_server_message(message)


async def open_client(server: FakeDeepgramAgent, **kw: Any) -> Client:
    return Client(await connect(server.url, additional_headers=AUTH, **kw))


def speech_16k() -> bytes:
    pcm, rate = read_wav(SPEECH_16K)
    assert rate == 16000
    return pcm.tobytes() + bytes(16000 * 2)  # a second of silence ends the turn


# ------------------------------------------------------------------ handshake
@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Token wrong-key"}, 401), ({"Authorization": "Basic x"}, 401)],
)
async def test_bad_or_missing_key_is_http_401(
    server: FakeDeepgramAgent, headers: dict[str, str], status: int
) -> None:
    with pytest.raises(InvalidStatus) as caught:
        await connect(server.url, additional_headers=headers)
    assert caught.value.response.status_code == status
    body = json.loads(caught.value.response.body or b"{}")
    assert body["err_code"] == "INVALID_AUTH"
    assert server.connections == []


async def test_wrong_path_is_404(server: FakeDeepgramAgent) -> None:
    with pytest.raises(InvalidStatus) as caught:
        await connect(server.base_url + "/v1/agent", additional_headers=AUTH)
    assert caught.value.response.status_code == 404


async def test_key_as_subprotocols_and_bearer_token(server: FakeDeepgramAgent) -> None:
    async with connect(server.url, subprotocols=["token", DEFAULT_API_KEY]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "token"
        await Client(ws).next("Welcome")
    async with connect(
        server.url, additional_headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"}
    ):
        pass
    assert DEFAULT_API_KEY not in json.dumps([c.headers for c in server.connections])


async def test_reject_refuses_the_next_handshakes_with_deepgrams_error_body(
    server: FakeDeepgramAgent,
) -> None:
    server.reject(503, times=2)
    for _ in range(2):
        with pytest.raises(InvalidStatus) as caught:
            await connect(server.url, additional_headers=AUTH)
        assert caught.value.response.status_code == 503
        body = json.loads(caught.value.response.body or b"{}")
        assert body["err_code"] == "REFUSED" and body["err_msg"] == "Service Unavailable"
    async with connect(server.url, additional_headers=AUTH) as ws:
        await Client(ws).next("Welcome")
    assert server.refusals == [503, 503]
    assert [h.status for h in server.handshakes] == [503, 503, 101]
    assert DEFAULT_API_KEY not in json.dumps([h.headers for h in server.handshakes])


# ------------------------------------------------------------------ settings
async def test_welcome_then_settings_applied(server: FakeDeepgramAgent) -> None:
    client = await open_client(server)
    welcome = await client.next("Welcome")
    assert welcome["request_id"]
    await client.send(settings(24000, 16000))
    await client.next("SettingsApplied")
    assert (server.latest.input_rate, server.latest.output_rate) == (24000, 16000)
    await client.ws.close()


@pytest.mark.parametrize(
    ("first", "code"),
    [
        ({"type": "KeepAlive"}, "NON_SETTINGS_MESSAGE_BEFORE_SETTINGS"),
        (b"\x00\x01" * 160, "NON_SETTINGS_MESSAGE_BEFORE_SETTINGS"),
        ({"type": "Settings", "audio": {}}, "UNPARSABLE_CLIENT_MESSAGE"),  # no agent
        ({**settings(), "extra_field": 1}, "UNPARSABLE_CLIENT_MESSAGE"),
        (settings(rate_in=1000), "INVALID_SETTINGS"),
        (
            {**settings(), "agent": {**settings()["agent"], "think": {"provider": {"type": "x"}}}},
            "INVALID_SETTINGS",
        ),
    ],
)
async def test_bad_first_message_is_a_fatal_error(
    server: FakeDeepgramAgent, first: dict[str, Any] | bytes, code: str
) -> None:
    client = await open_client(server)
    await client.next("Welcome")
    await client.ws.send(first if isinstance(first, bytes) else json.dumps(first))
    error = await client.next("Error")
    assert error["code"] == code and error["description"]
    await client.ws.wait_closed()
    assert server.latest.closed_by == "server"


async def test_second_settings_is_refused(server: FakeDeepgramAgent) -> None:
    client = await open_client(server)
    await client.start()
    await client.send(settings())
    assert (await client.next("Error"))["code"] == "SETTINGS_ALREADY_APPLIED"


# ------------------------------------------------------------------ conversation
async def test_spoken_turn_gets_a_reply_in_the_documented_order(
    server: FakeDeepgramAgent,
) -> None:
    client = await open_client(server)
    await client.start(rate_in=16000, rate_out=24000)
    for offset in range(0, len(pcm := speech_16k()), 640):
        await client.ws.send(pcm[offset : offset + 640])
    await client.next("AgentAudioDone")
    kinds = [m["type"] for m in client.messages]
    assert kinds[kinds.index("UserStartedSpeaking") :] == [
        "UserStartedSpeaking",
        "ConversationText",
        "AgentStartedSpeaking",
        "ConversationText",
        "AgentAudioDone",
    ]
    user, agent = (m for m in client.messages if m["type"] == "ConversationText")
    assert user["role"] == "user" and "seconds of speech" in user["content"]
    assert agent == {
        "type": "ConversationText",
        "role": "assistant",
        "content": f"You said: {user['content']}.",
    }
    started = next(m for m in client.messages if m["type"] == "AgentStartedSpeaking")
    assert started["total_latency"] >= started["ttt_latency"] >= 0
    assert len(client.audio) > 24000 * 2 * 1.0  # six words of stand-in speech
    assert bytes(server.latest.audio_in) == pcm


async def test_barge_in_stops_the_reply_and_sends_only_the_in_flight_tail(
    server: FakeDeepgramAgent,
) -> None:
    server.pace, server.late_audio_ms = 1.0, 100
    server.script(Reply(text="A long answer.", audio=tone(3.0, 24000)))
    client = await open_client(server)
    await client.start()
    await client.send({"type": "InjectUserMessage", "content": "Talk to me."})
    await client.next("AgentStartedSpeaking")
    await asyncio.sleep(0.3)
    for offset in range(0, len(pcm := speech_16k()), 640):
        await client.ws.send(pcm[offset : offset + 640])
        if any(m["type"] == "UserStartedSpeaking" for m in server.latest.sent):
            break
    await client.next("UserStartedSpeaking")
    await asyncio.sleep(0.3)
    sent = len(server.latest.audio_out)
    assert 0.3 * 48000 < sent < 1.5 * 48000  # cut early, plus at most the 100 ms in flight
    assert not server.latest.of_type("AgentAudioDone")


async def test_function_call_round_trip(server: FakeDeepgramAgent) -> None:
    server.script(
        Reply(text="It is {results}.", calls=[FunctionCall("get_weather", {"city": "Paris"})])
    )
    client = await open_client(server)
    function = {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}
    await client.start(functions=[function])
    await client.send({"type": "InjectUserMessage", "content": "Weather in Paris?"})
    request = await client.next("FunctionCallRequest")
    (call,) = request["functions"]
    assert call["client_side"] is True and json.loads(call["arguments"]) == {"city": "Paris"}
    await client.send(
        {"type": "FunctionCallResponse", "id": call["id"], "name": call["name"], "content": "sunny"}
    )
    text = await client.next("ConversationText")
    while text["role"] != "assistant":
        text = await client.next("ConversationText")
    assert text["content"] == "It is sunny."
    await client.next("AgentAudioDone")


async def test_inject_agent_message_is_refused_mid_reply(server: FakeDeepgramAgent) -> None:
    server.pace = 1.0
    server.script(Reply(text="Long.", audio=tone(2.0, 24000)))
    client = await open_client(server)
    await client.start()
    await client.send({"type": "InjectUserMessage", "content": "Go."})
    await client.next("AgentStartedSpeaking")
    await client.send({"type": "InjectAgentMessage", "message": "Hello?"})
    assert (await client.next("InjectionRefused"))["message"]
    await client.next("AgentAudioDone")
    await client.send({"type": "InjectAgentMessage", "message": "Are you there?"})
    assert (await client.next("ConversationText"))["content"] == "Are you there?"


async def test_update_prompt_and_unknown_message(server: FakeDeepgramAgent) -> None:
    client = await open_client(server)
    await client.start()
    await client.send({"type": "UpdatePrompt", "prompt": "Be brief."})
    await client.next("PromptUpdated")
    await client.ws.send(json.dumps({"type": "NoSuchMessage"}))
    assert (await client.next("Error"))["code"] == "UNPARSABLE_CLIENT_MESSAGE"


async def test_idle_timeout_unless_keepalive(server: FakeDeepgramAgent) -> None:
    server.idle_timeout = 0.4
    kept = await open_client(server)
    await kept.start()
    for _ in range(5):
        await asyncio.sleep(0.2)
        await kept.send({"type": "KeepAlive"})
    record = server.latest
    await server.wait_until(lambda: record.keepalives == 5)
    assert record.closed_by is None
    idle = await open_client(server)
    await idle.start()
    error = await idle.next("Error", within=3.0)
    assert error["code"] == "CLIENT_MESSAGE_TIMEOUT"
    await idle.ws.wait_closed()
    await kept.ws.close()


async def test_greeting_is_spoken_first(server: FakeDeepgramAgent) -> None:
    client = await open_client(server)
    await client.next("Welcome")
    message = settings()
    message["agent"]["greeting"] = "Hello there!"
    await client.send(message)
    await client.next("SettingsApplied")
    assert (await client.next("ConversationText"))["content"] == "Hello there!"
    await client.next("AgentAudioDone")


# ------------------------------------------------------------------ Deepgram's own SDK
def sdk_client(server: FakeDeepgramAgent, api_key: str) -> AsyncDeepgramClient:
    """The SDK's async client, its agent endpoint pointed at the fake (the rest unused)."""
    environment = DeepgramClientEnvironment(
        base="http://unused",
        production="ws://unused",
        agent=server.base_url,
        agent_rest="http://unused",
    )
    return AsyncDeepgramClient(api_key=api_key, environment=environment)


async def test_the_deepgram_sdk_agent_client_holds_a_conversation(
    server: FakeDeepgramAgent,
) -> None:
    client = sdk_client(server, DEFAULT_API_KEY)
    received: list[Any] = []
    async with client.agent.v1.connect() as agent:
        received.append(await agent.recv())
        await agent.send_settings(
            dg.AgentV1Settings(
                audio=dg.AgentV1SettingsAudio(
                    input=dg.AgentV1SettingsAudioInput(encoding="linear16", sample_rate=16000),
                    output=dg.AgentV1SettingsAudioOutput(
                        encoding="linear16", sample_rate=24000, container="none"
                    ),
                ),
                agent=dg.AgentV1SettingsAgent.model_validate(settings()["agent"]),
            )
        )
        received.append(await agent.recv())
        pcm = speech_16k()
        for offset in range(0, len(pcm), 640):
            await agent.send_media(pcm[offset : offset + 640])
        await agent.send_keep_alive()
        async with asyncio.timeout(10):
            while not isinstance(message := await agent.recv(), dg.AgentV1AgentAudioDone):
                received.append(message)
    kinds = [type(m).__name__ for m in received if not isinstance(m, bytes)]
    assert kinds[:2] == ["AgentV1Welcome", "AgentV1SettingsApplied"]
    assert "AgentV1UserStartedSpeaking" in kinds and "AgentV1AgentStartedSpeaking" in kinds
    audio = b"".join(m for m in received if isinstance(m, bytes))
    assert np.frombuffer(audio, dtype=np.int16).std() > 1000  # real (tone) audio came back
    assert server.latest.keepalives == 1


async def test_the_deepgram_sdk_reports_a_bad_key_as_401(server: FakeDeepgramAgent) -> None:
    client = sdk_client(server, "wrong")
    with pytest.raises(ApiError) as caught:
        async with client.agent.v1.connect():
            pass
    assert caught.value.status_code == 401


async def test_the_deepgram_sdk_answers_a_function_call_and_injects_text(
    server: FakeDeepgramAgent,
) -> None:
    server.script(
        Reply(text="It is {results}.", calls=[FunctionCall("get_weather", {"city": "Oslo"})])
    )
    client = sdk_client(server, DEFAULT_API_KEY)
    function = {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}
    async with client.agent.v1.connect() as agent:
        assert isinstance(await agent.recv(), dg.AgentV1Welcome)
        await agent.send_settings(dg.AgentV1Settings.model_validate(settings(functions=[function])))
        assert isinstance(await agent.recv(), dg.AgentV1SettingsApplied)
        await agent.send_inject_user_message(dg.AgentV1InjectUserMessage(content="Oslo weather?"))
        async with asyncio.timeout(10):
            while not isinstance(request := await agent.recv(), dg.AgentV1FunctionCallRequest):
                pass
            (call,) = request.functions
            assert call.client_side and json.loads(call.arguments) == {"city": "Oslo"}
            await agent.send_function_call_response(
                dg.AgentV1SendFunctionCallResponse(id=call.id, name=call.name, content="rainy")
            )
            said: list[str] = []
            while not isinstance(message := await agent.recv(), dg.AgentV1AgentAudioDone):
                if isinstance(message, dg.AgentV1ConversationText):
                    said.append(f"{message.role}: {message.content}")
    assert said == ["assistant: It is rainy."]
    assert [m["type"] for m in server.latest.received] == [
        "Settings",
        "InjectUserMessage",
        "FunctionCallResponse",
    ]
