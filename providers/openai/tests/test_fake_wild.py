"""The OpenAI fake as the service behaves in the wild (issue 17), checked with a raw client.

Every event the fake sends here is validated against the ``openai`` SDK's
server-event models with no unknown field, as in ``test_fake_server.py``:
the wild order must still be the protocol.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from rtws_openai.testing import FakeRealtimeServer, Reply, ScriptedBot
from rtws_openai.testing.wild import Wild
from websockets.asyncio.client import connect

from providers.openai.tests.test_fake_server import (
    AUTH,
    Client,
    check_ids,
    check_server_event,
    silence,
    speech,
    tone,
    types,
)

Json = dict[str, Any]


@pytest.fixture
async def server() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer() as fake:
        yield fake
    for event in fake.sent:
        check_server_event(event)
    check_ids(fake)


async def open_client(server: FakeRealtimeServer, model: str = "gpt-realtime") -> Client:
    ws = await connect(f"{server.url}?model={model}", additional_headers=AUTH)
    client = Client(ws)
    assert (await client.recv())["type"] == "session.created"
    return client


# ---------------------------------------------------------------- item 7
async def test_truncating_an_item_that_is_still_streaming_is_legal(
    server: FakeRealtimeServer,
) -> None:
    """Issue 17 item 7: audio_end_ms up to the audio sent so far is accepted mid-stream."""
    server.bot = ScriptedBot([Reply.say("A long answer to cut short. " * 4, tone(3.0))])
    server.pace = 1.0
    client = await open_client(server)
    await client.update(audio={"input": {"turn_detection": None}})
    await client.say_text("talk")
    events = await client.until("response.output_audio.delta")
    while types(events).count("response.output_audio.delta") < 5:
        events.append(await client.recv())
    item_id = events[-1]["item_id"]
    await client.send({"type": "response.cancel", "event_id": "evt_cancel"})
    await client.send(
        {
            "type": "conversation.item.truncate",
            "event_id": "evt_cut",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": 120,
        }
    )
    rest = await client.until("conversation.item.truncated")
    assert not [e for e in rest if e["type"] == "error"], rest
    done = rest if "response.done" in types(rest) else rest + await client.until("response.done")
    output = next(e for e in done if e["type"] == "response.done")["response"]["output"][0]
    assert output["content"][0]["transcript"] == ""  # what was never heard is dropped
    [cut] = server.truncations
    assert cut.audio_end_ms == 120 <= cut.audio_ms
    await client.ws.close()


# ---------------------------------------------------------------- item 8
@pytest.mark.parametrize("field", [{"reasoning": {"effort": "low"}}, {"parallel_tool_calls": True}])
async def test_reasoning_fields_refuse_the_whole_update_for_other_models(
    server: FakeRealtimeServer, field: Json
) -> None:
    """Issue 17 item 8: the service refuses the session.update; nothing in it applies."""
    client = await open_client(server, "gpt-realtime")
    await client.send(
        {
            "type": "session.update",
            "event_id": "evt_upd",
            "session": {"type": "realtime", "instructions": "Never applied.", **field},
        }
    )
    error = (await client.until("error"))[-1]["error"]
    name = next(iter(field))
    assert (error["code"], error["param"], error["event_id"]) == (
        "unsupported_parameter",
        f"session.{name}",
        "evt_upd",
    )
    assert server.connections[0].session["instructions"] != "Never applied."
    await client.ws.close()


@pytest.mark.parametrize("model", ["gpt-realtime-2", "gpt-realtime-2.1-mini"])
async def test_reasoning_models_take_reasoning_and_parallel_tool_calls(
    server: FakeRealtimeServer, model: str
) -> None:
    client = await open_client(server, model)
    assert client.events[0]["session"]["reasoning"] == {"effort": "low"}
    session = await client.update(reasoning={"effort": "high"}, parallel_tool_calls=False)
    assert session["session"]["reasoning"] == {"effort": "high"}
    assert "parallel_tool_calls" not in session["session"]  # accepted, never echoed (the SDK)
    await client.ws.close()


# ---------------------------------------------------------------- item 10
async def test_session_expires_with_session_expired_then_closes_1001() -> None:
    """Issue 17 item 10: the 60-minute limit, time-scaled; no client event caused the error."""
    async with FakeRealtimeServer(session_lifetime_s=0.3) as server:
        client = await open_client(server)
        closed = await client.read_to_end()
        error = next(e for e in client.events if e["type"] == "error")["error"]
        assert (error["code"], error["event_id"]) == ("session_expired", None)
        assert "60 minutes" in error["message"]
        assert closed.rcvd is not None and closed.rcvd.code == 1001
        for event in server.sent:
            check_server_event(event)


async def test_rate_limit_error_has_no_client_event_id(server: FakeRealtimeServer) -> None:
    client = await open_client(server)
    sent = await server.rate_limit_error()
    error = (await client.until("error"))[-1]
    assert error == sent
    assert (error["error"]["code"], error["error"]["event_id"]) == ("rate_limit_exceeded", None)
    await client.update(instructions="still open")  # the session goes on
    await client.ws.close()


# ---------------------------------------------------------------- wild mode
async def wild_conversation(seed: int) -> list[Json]:
    """A spoken question, a barge-in mid-reply and its answer, on a wild fake: every event."""
    async with FakeRealtimeServer(wild=seed) as server:
        server.bot = ScriptedBot(
            [Reply.say("A story that goes on. " * 3, tone(2.0)), Reply.say("Yes.", tone(0.3))],
            transcripts=["tell me a story", "go on"],
        )
        server.pace = 1.0
        ws = await connect(f"{server.url}?model=gpt-realtime", additional_headers=AUTH)
        client = Client(ws)
        await client.recv()
        await client.update(audio={"input": {"transcription": {"model": "whisper-1"}}})
        await client.append(speech() + silence(600))
        while types(client.events).count("response.output_audio.delta") < 4:
            await client.recv()
        await client.append(speech() + silence(600))  # barge in
        while types(client.events).count("response.done") < 2:
            await client.recv()
        await drain(client)  # a late transcript may still come
        await ws.close()
        for event in server.sent:
            check_server_event(event)
        check_ids(server)
        return server.sent


async def drain(client: Client, quiet_s: float = 0.3) -> None:
    """Read events until none came for ``quiet_s``."""
    try:
        while True:
            await client.recv(timeout=quiet_s)
    except TimeoutError:
        return


async def test_wild_mode_stays_within_the_protocol_and_is_really_wild() -> None:
    """Late transcripts and in-flight deltas after a barge-in happen, and all is SDK-valid."""
    late = in_flight = 0
    for seed in (1, 2, 3, 4):
        sent = await wild_conversation(seed)
        names = types(sent)
        assert names.count("conversation.item.input_audio_transcription.completed") == 2
        first_done = names.index("response.done")
        completed = names.index("conversation.item.input_audio_transcription.completed")
        late += completed > first_done
        barge = names.index("input_audio_buffer.speech_started", names.index("response.created"))
        cancelled = sent[first_done]["response"]["id"]
        in_flight += any(
            e["type"] == "response.output_audio.delta" and e["response_id"] == cancelled
            for e in sent[barge:]
        )
    assert late and in_flight, (late, in_flight)


def test_wild_seed_is_reproducible() -> None:
    a, b = Wild(42), Wild(42)
    assert [a.chance(0.5) for _ in range(20)] == [b.chance(0.5) for _ in range(20)]
    assert Wild.coerce(None) is None
    assert Wild.coerce(7) == Wild(7)
