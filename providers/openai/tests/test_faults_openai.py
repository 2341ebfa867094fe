"""Faults and fuzzing for the OpenAI provider, through its fake GA server on 127.0.0.1.

The core's fault tests (tests/test_faults.py) prove the transport's policy
with the echo provider; these prove the OpenAI translation keeps it: a hung
or reset connection resumes the conversation, refused handshakes and close
codes are retried or not as the policy says, and mutated versions of the
very events the fake sends in a real conversation never break a session.
Every test also checks that ``disconnect()`` released everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rtws_openai import FunctionTool, OpenAIRealtimeTransport
from rtws_openai.testing import FakeRealtimeServer, Reply, ScriptedBot
from rtws_openai.testing import events as ev

from providers.openai.tests.support import (
    EventLog,
    check_client_event,
    options,
    steady_tone,
)
from rtws import FileMediaManager, TransportState, rtvi
from tests.faultproxy import FaultProxy
from tests.provider_fuzz import FUZZ_SETTINGS, FuzzTally, survives
from tests.resources import ResourceSnapshot, assert_released
from tests.test_fuzz import JSON

S = TransportState
TALLY = FuzzTally("openai")


def proxied_transport(
    server: FakeRealtimeServer, proxy: FaultProxy, **kw: Any
) -> OpenAIRealtimeTransport:
    opts = options(server, base_url=f"http://127.0.0.1:{proxy.port}/v1", **kw)
    return OpenAIRealtimeTransport(opts, FileMediaManager(realtime=True))


async def talk(t: OpenAIRealtimeTransport, log: EventLog, text: str, count: int) -> None:
    await t.send_text(text)
    await log.wait("bot-llm-stopped", count=count)


# ---------------------------------------------------------------- network faults
async def test_a_hung_connection_is_detected_and_the_conversation_restored(
    openai_fake: FakeRealtimeServer,
) -> None:
    openai_fake.bot = ScriptedBot([Reply.say("Hello Ada."), Reply.say("Still here.")])
    async with FaultProxy(openai_fake.url) as proxy:
        before = ResourceSnapshot.take()
        t = proxied_transport(openai_fake, proxy, ping_interval=0.2, ping_timeout=0.4)
        log = EventLog(t)
        await t.connect()
        await talk(t, log, "My name is Ada.", 1)
        proxy.freeze()  # no FIN, no RST: the server simply stops answering
        reconnected = await log.wait("reconnected", timeout=5.0)
        assert reconnected.to_dict()["data"]["resumed"] is True
        await talk(t, log, "Are you there?", 2)
        await t.disconnect()
        proxy.thaw()
        await assert_released(before)
    replayed = [
        e["item"]["content"][0].get("text")
        for e in openai_fake.connections[1].received
        if e["type"] == "conversation.item.create"
    ]
    assert replayed[:2] == ["My name is Ada.", "Hello Ada."]
    (warning,) = [e for e in log.data("error") if "reconnecting" in e["error"]]
    assert not warning["fatal"]


@pytest.mark.parametrize(
    ("status", "times", "resumes", "handshakes"),
    [
        (429, 2, True, 1 + 3),  # rate limited twice (retry-after honoured), then accepted
        (503, 1, True, 1 + 2),
        (503, None, False, 1 + 3),  # still down after every attempt: a fatal error
        (401, None, False, 1 + 1),  # a revoked key is never retried
        (403, None, False, 1 + 1),
    ],
)
async def test_refused_handshakes_while_reconnecting(
    openai_fake: FakeRealtimeServer,
    status: int,
    times: int | None,
    resumes: bool,
    handshakes: int,
) -> None:
    before = ResourceSnapshot.take()
    t = OpenAIRealtimeTransport(options(openai_fake), FileMediaManager(realtime=True))
    log = EventLog(t)
    await t.connect()
    openai_fake.reject(status, retry_after=0.05 if status == 429 else None, times=times)
    await openai_fake.drop()
    if resumes:
        await log.wait("reconnected")
        assert t.state is S.READY
    else:
        await log.wait("transport-state-changed", where=lambda d: d["state"] == "error")
        fatal = [e for e in log.data("error") if e["fatal"]]
        assert len(fatal) == 1 and str(status) in fatal[0]["error"]
    assert len(openai_fake.handshakes) == handshakes
    if status == 429:
        delays = [e["delay_s"] for e in log.data("reconnecting")]
        assert all(d >= 0.05 for d in delays[1:])
    await t.disconnect()
    await assert_released(before)


CLOSE_CODES = [
    (1000, True),
    (1001, True),
    (1011, True),
    (1002, False),
    (1008, False),
    (1009, False),
]


@pytest.mark.parametrize(("code", "retried"), CLOSE_CODES)
async def test_close_codes_mid_session(
    openai_fake: FakeRealtimeServer, code: int, retried: bool
) -> None:
    t = OpenAIRealtimeTransport(options(openai_fake), FileMediaManager(realtime=True))
    log = EventLog(t)
    await t.connect()
    await openai_fake.close(code, "closed by the test")
    if retried:
        await log.wait("reconnected")
        assert len(openai_fake.handshakes) == 2
    else:
        await log.wait("transport-state-changed", where=lambda d: d["state"] == "error")
        await asyncio.sleep(0.1)  # a retry, if there were one, would have started
        assert len(openai_fake.handshakes) == 1
        assert f"code {code}" in log.data("error")[-1]["error"]
    await t.disconnect()


# ---------------------------------------------------------------- fuzzing
WEATHER = FunctionTool(name="get_weather", parameters={"type": "object", "properties": {}})


class Fuzzed:
    """A live session plus the server events of a real conversation, to mutate."""

    def __init__(self, server: FakeRealtimeServer, t: OpenAIRealtimeTransport) -> None:
        self.server = server
        self.t = t
        self.log = EventLog(t)
        self.corpus: list[dict[str, Any]] = []
        self.sentinels = 0

    async def record_a_conversation(self) -> None:
        await self.t.send_text("hi")
        await self.log.wait("bot-llm-stopped")
        await self.t.send_text("weather?")
        await self.log.wait("llm-function-call-in-progress")
        kept: dict[str, int] = {}
        for event in self.server.sent:
            kind = event["type"]
            if kind != "error" and kept.get(kind, 0) < 2:
                kept[kind] = kept.get(kind, 0) + 1
                self.corpus.append({k: v for k, v in event.items() if k != "event_id"})
        self.corpus += [
            {"type": "input_audio_buffer.speech_started", "audio_start_ms": 10, "item_id": "i1"},
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 900, "item_id": "i1"},
            {"type": "conversation.item.input_audio_transcription.delta", "item_id": "i1",
             "content_index": 0, "delta": "hel"},
            {"type": "conversation.item.input_audio_transcription.completed", "item_id": "i1",
             "content_index": 0, "transcript": "hello",
             "usage": {"type": "tokens", "input_tokens": 5, "output_tokens": 2, "total_tokens": 7}},
            {"type": "conversation.item.input_audio_transcription.failed", "item_id": "i1",
             "content_index": 0, "error": {"type": "server_error", "message": "asr down"}},
            {"type": "error", "error": {"type": "invalid_request_error", "code": "invalid_value",
             "message": "bad", "param": None, "event_id": None}},
        ]  # fmt: skip

    async def round_trip(self) -> None:
        """A benign error event after the fuzz: its ``error`` event proves all were handled."""
        self.sentinels += 1
        text = f"sentinel {self.sentinels}"
        await self.server.send_event(ev.error(text, code="sentinel"))
        await self.log.wait("error", where=lambda d: text in d["error"])


@pytest.fixture
async def fuzzed() -> AsyncIterator[Fuzzed]:
    bot = ScriptedBot(
        [Reply.say("Hello there.", audio=steady_tone(0.1)), Reply.call("get_weather", {})]
    )
    async with FakeRealtimeServer(bot=bot) as server:
        before = ResourceSnapshot.take()
        t = OpenAIRealtimeTransport(options(server, tools=[WEATHER]), FileMediaManager())
        session = Fuzzed(server, t)
        await t.connect()
        await session.record_a_conversation()
        yield session
        assert t.state is S.READY and len(server.handshakes) == 1
        TALLY.add("malformed", t.stats.malformed_messages)
        await t.disconnect()
        await assert_released(before)
    for event in server.received:  # whatever it was sent, the provider only said valid things
        check_client_event(event)


@st.composite
def mutated_events(draw: st.DrawFn, corpus: list[dict[str, Any]]) -> dict[str, Any]:
    event = dict(draw(st.sampled_from(corpus)))
    for _ in range(draw(st.integers(1, 3))):
        target: dict[str, Any] = event
        nested = [k for k, v in event.items() if isinstance(v, dict) and k != "type"]
        if nested and draw(st.booleans()):  # mutate one level down (response, item, error...)
            key = draw(st.sampled_from(sorted(nested)))
            target = event[key] = dict(event[key])
        keys = sorted(k for k in target if target is not event or k != "type")
        action = draw(st.sampled_from(["drop", "replace", "add"]))
        if action == "drop" and keys:
            target.pop(draw(st.sampled_from(keys)))
        elif action == "replace" and keys:
            target[draw(st.sampled_from(keys))] = draw(JSON)
        else:
            target[draw(st.text(max_size=12))] = draw(JSON)
    return event


@FUZZ_SETTINGS
@given(data=st.data())
async def test_mutated_server_events_never_break_the_session(
    fuzzed: Fuzzed, data: st.DataObject
) -> None:
    events = data.draw(st.lists(mutated_events(fuzzed.corpus), min_size=1, max_size=4))
    await survives(fuzzed.t, events, fuzzed.server.send_event, fuzzed.round_trip, TALLY)
    assert all(isinstance(e, rtvi.RTVIMessage) for e in fuzzed.log.events)


@pytest.fixture(scope="module", autouse=True)
def report_counts() -> Iterator[None]:
    yield
    TALLY.report()


async def test_audio_that_is_not_base64_is_reported_and_never_played() -> None:
    """Bad base64 (wrong padding, stray characters, a newline) is malformed, not noise."""
    async with FakeRealtimeServer(bot=ScriptedBot([])) as server:
        media = FileMediaManager(realtime=False)
        t = OpenAIRealtimeTransport(options(server), media)
        log = EventLog(t)
        async with t:
            delta = {"type": "response.output_audio.delta", "response_id": "resp_x",
                     "item_id": "item_x", "output_index": 0, "content_index": 0}  # fmt: skip
            for n, bad in enumerate(("AAA", "AA!A", "AAAA\nAAAA", "AA==AA=="), 1):
                await server.send_event({**delta, "delta": bad})
                await log.wait("error", count=n)
            assert t.stats.malformed_messages == 4
            await server.send_event({**delta, "delta": "AAAAAA=="})  # two silent samples
            await log.wait("bot-started-speaking")
            assert t.state is S.READY
        assert not any(e["fatal"] for e in log.data("error"))
