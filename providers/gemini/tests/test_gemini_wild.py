"""Gemini Live as it behaves in the wild (issue 17): one exact test per behaviour.

The property tests (``test_gemini_properties.py``) cover items 1, 2, 3 and the
thinking-token half of 5 under any legal order; these pin items 4, 5 and 6,
and the fake's side of them, with exact sequences. Each fails without the
provider's handling of its behaviour (docs/providers/gemini.md lists them).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pytest
from rtws_gemini import GeminiLiveTransport
from rtws_gemini.testing import FakeGeminiServer, Reply, running_fake
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from providers.gemini.tests.conftest import Events
from providers.gemini.tests.genai_check import check_server_frame
from providers.gemini.tests.scenarios import SENTINEL, SENTINEL_PROMPT, audio_part
from providers.gemini.tests.test_gemini_fake import KEY, open_raw, recv_json, until_turn_complete
from rtws import FileMediaManager, rtvi

GEMINI_3 = "gemini-3.1-flash-live-preview"


def silent() -> FileMediaManager:
    return FileMediaManager(None, input_rate=16000, realtime=False)


def say(text: str) -> rtvi.SendText:
    return rtvi.SendText(data=rtvi.SendTextData(content=text))


async def handled(events: Events, server: FakeGeminiServer) -> None:
    """Push the sentinel and wait for its metrics: everything pushed before it was handled."""
    await server.push(SENTINEL)
    await events.until(
        lambda: any(
            m.data.tokens and m.data.tokens[0].value.get("prompt_tokens") == SENTINEL_PROMPT
            for m in events.of("metrics")
        )
    )


@asynccontextmanager
async def session(
    *replies: Reply, **fake: Any
) -> AsyncIterator[tuple[FakeGeminiServer, GeminiLiveTransport, Events]]:
    """A connected transport with silent media on a fresh fake (``fake``: its options)
    that answers at once, with ``replies`` for its first turns."""
    async with running_fake(playback_wait=0.0, **fake) as (server, options):
        server.script(*replies)
        transport = GeminiLiveTransport(options, silent())
        events = Events(transport)
        async with transport:
            yield server, transport, events


async def read_until_closed(ws: ClientConnection) -> ConnectionClosed:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    except ConnectionClosed as closed:
        return closed


# ---------------------------------------------------------------- item 4
async def test_generation_complete_ends_the_reply_without_waiting_for_turn_complete() -> None:
    """``turnComplete`` waits for the server's idea of playback: seconds. The reply's
    ``bot-output`` and ``bot-llm-stopped`` must come at ``generationComplete`` (after
    the short wait for the transcript's tail), with no ``turnComplete`` yet."""
    async with session() as (server, _, events):
        for message in (
            audio_part(0),
            {"serverContent": {"outputTranscription": {"text": "All done."}}},
            {"serverContent": {"generationComplete": True}},
        ):
            await server.push(message)
        await handled(events, server)
        await events.wait_for("bot-llm-stopped", timeout=3.0)
        outputs = [e.data.text for e in events.of("bot-output")]
        await server.push({"serverContent": {"turnComplete": True}})
        await handled(events, server)
        stopped = len(events.of("bot-llm-stopped"))
    assert (outputs, stopped) == (["All done."], 1)


# ---------------------------------------------------------------- item 5
async def test_a_safety_block_ends_the_turn_with_an_error_event_not_silence() -> None:
    async with session(Reply(blocked="GENERATED_AUDIO_SAFETY")) as (_, transport, events):
        await transport.send_message(say("say something unsafe"))
        await events.wait_for("error", timeout=1.0)
    [error] = events.of("error")
    assert "GENERATED_AUDIO_SAFETY" in error.data.error
    assert error.data.fatal is False


async def test_newer_fields_alone_neither_open_a_turn_nor_fail() -> None:
    """``waitingForInput`` and ``interactionStatus`` on their own say nothing about a reply."""
    async with session() as (server, _, events):
        for body in (
            {"waitingForInput": True},
            {"interactionStatus": "IN_PROGRESS"},
            {"interactionStatus": "IDLE"},
        ):
            message = {"serverContent": body}
            check_server_frame(json.dumps(message))
            await server.push(message)
        await handled(events, server)
    assert not events.of("bot-llm-started")
    assert not events.of("error")


# ---------------------------------------------------------------- item 6
async def test_typed_text_to_a_gemini_3_model_goes_as_realtime_input_text() -> None:
    heard = Reply(text="Typed text heard.")
    async with session(heard, options={"model": GEMINI_3}) as (server, transport, events):
        await transport.send_message(say("hello there"))
        await events.wait_for("bot-output", timeout=1.5)
    assert [e.data.text for e in events.of("bot-output")] == ["Typed text heard."]
    record = server.connections[0]
    typed = [m["text"] for m in record.of_kind("realtimeInput") if "text" in m]
    assert typed == ["hello there"]
    assert not record.of_kind("clientContent") and len(server.connections) == 1


async def test_typed_text_to_a_gemini_2_5_model_still_works() -> None:
    async with session(Reply(text="Typed text heard.")) as (_, transport, events):
        await transport.send_message(say("hello there"))
        await events.wait_for("bot-output", timeout=3.0)
    assert [e.data.text for e in events.of("bot-output")] == ["Typed text heard."]


@pytest.mark.parametrize("seeding", [False, True])
async def test_the_fake_refuses_client_content_turns_on_gemini_3_as_the_service_does(
    seeding: bool,
) -> None:
    setup: dict[str, Any] = {"model": f"models/{GEMINI_3}"}
    if seeding:
        setup["historyConfig"] = {"initialHistoryInClientContent": True}
    async with FakeGeminiServer(KEY, playback_wait=0.0) as server:
        ws = await open_raw(server)
        await ws.send(json.dumps({"setup": setup}))
        await recv_json(ws)
        history = {"turns": [{"role": "user", "parts": [{"text": "earlier"}]}]}
        await ws.send(json.dumps({"clientContent": history}))  # seeding history: allowed if on
        await ws.send(json.dumps({"realtimeInput": {"text": "now answer"}}))
        if seeding:
            await until_turn_complete(ws)  # realtimeInput.text is answered
            turn = {**history, "turnComplete": True}
            await ws.send(json.dumps({"clientContent": turn}))  # after a model turn: refused
        closed = await read_until_closed(ws)
        assert closed.rcvd is not None
        assert (closed.rcvd.code, closed.rcvd.reason) == (
            1007,
            "Request contains an invalid argument.",
        )


# ---------------------------------------------------------------- the wild fake itself
async def wild_barge_in(seed: int) -> list[dict[str, Any]]:
    """A spoken question, then speech over the reply, on a wild fake: every server message."""
    async with running_fake(playback_wait=1.0, wild=seed) as (server, options):
        server.script(Reply(text="one two three four five six"), Reply(text="yes"))
        speech = speech_16k()
        media = FileMediaManager(speech, input_rate=16000, realtime=False, tail_silence_ms=800)
        transport = GeminiLiveTransport(options, media)
        events = Events(transport)
        async with transport:
            await server.wait_for(lambda: _model_turns(server) > 0)
            media.feed(np.concatenate([speech, np.zeros(16000, np.int16)]))  # talks over it
            await server.wait_for(lambda: _interrupted(server), within=10.0)
            # The interrupting speech is answered in full (its usage may count thoughts).
            await server.wait_for(lambda: _usages(server) > 0, within=10.0)
        assert events.of("bot-ready")
        return [m for c in server.connections for m in c.sent]


def speech_16k() -> np.ndarray[Any, np.dtype[np.int16]]:
    from providers.gemini.tests.conftest import SPEECH_16K
    from rtws.audio import read_wav

    pcm, rate = read_wav(SPEECH_16K)
    assert rate == 16000
    return pcm


def _contents(server: FakeGeminiServer) -> list[dict[str, Any]]:
    return [m["serverContent"] for c in server.connections for m in c.sent if "serverContent" in m]


def _model_turns(server: FakeGeminiServer) -> int:
    return sum(1 for c in _contents(server) if "modelTurn" in c)


def _usages(server: FakeGeminiServer) -> int:
    return sum(1 for c in server.connections for m in c.sent if "usageMetadata" in m)


def _interrupted(server: FakeGeminiServer) -> bool:
    return any(c.get("interrupted") for c in _contents(server))


async def test_the_wild_fake_stays_within_the_protocol_and_is_really_wild() -> None:
    """Every message parses as google-genai's ``LiveServerMessage``; across a few seeds
    the wild choices (late input, no ``finished``, bare interrupts, thoughts) all happen."""
    seen: set[str] = set()
    for seed in (1, 2, 3, 4, 5):
        sent = await wild_barge_in(seed)
        for message in sent:
            check_server_frame(json.dumps(message))
        contents = [m.get("serverContent", {}) for m in sent]
        first_model = next(i for i, c in enumerate(contents) if "modelTurn" in c)
        if any("inputTranscription" in c for c in contents[first_model:]):
            seen.add("late input")
        if not any(c.get("inputTranscription", {}).get("finished") for c in contents):
            seen.add("never finished")
        cut = next(i for i, c in enumerate(contents) if c.get("interrupted"))
        if not any(c.get("turnComplete") for c in contents[cut : cut + 2]):
            seen.add("bare interrupt")
        if any("thoughtsTokenCount" in m.get("usageMetadata", {}) for m in sent):
            seen.add("thoughts")
    assert seen == {"late input", "never finished", "bare interrupt", "thoughts"}, seen
