"""Faults and fuzzing for the Gemini Live provider, through its fake server on 127.0.0.1.

The core's fault tests (tests/test_faults.py) prove the transport's policy
with the echo provider; these prove the Gemini translation keeps it: a hung
connection is detected and the conversation resumed from its handle, close
codes are retried or not as Gemini means them, and mutated versions of the
messages the fake sends in a real conversation never break a session.
Every test also checks that ``disconnect()`` released everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rtws_gemini import GeminiLiveTransport
from rtws_gemini.testing import FakeGeminiServer, options_for, running_fake

from providers.gemini.tests.conftest import Events
from rtws import FileMediaManager, TransportState, rtvi
from tests.faultproxy import FaultProxy
from tests.provider_fuzz import FUZZ_SETTINGS, FuzzTally, survives
from tests.resources import ResourceSnapshot, assert_released
from tests.test_fuzz import JSON

S = TransportState
TALLY = FuzzTally("gemini")


def say(text: str) -> rtvi.SendText:
    return rtvi.SendText(data=rtvi.SendTextData(content=text))


def silent_media() -> FileMediaManager:
    return FileMediaManager(None, input_rate=16000, realtime=True)


# ---------------------------------------------------------------- network faults
async def test_a_hung_connection_is_detected_and_the_conversation_resumed() -> None:
    async with (
        running_fake(playback_wait=0.0) as (server, _),
        FaultProxy(server.url) as proxy,
    ):
        before = ResourceSnapshot.take()
        options = options_for(
            server, host=f"ws://127.0.0.1:{proxy.port}", ping_interval=0.2, ping_timeout=0.4
        )
        t = GeminiLiveTransport(options, silent_media())
        events = Events(t)
        await t.connect()
        await t.send_message(say("before"))
        await events.wait_for("bot-output")
        proxy.freeze()  # no FIN, no RST: the server simply stops answering
        reconnected = await events.wait_for("reconnected", timeout=5.0)
        await t.send_message(say("after"))
        outputs = await events.wait_for("bot-output", 2)
        await t.disconnect()
        proxy.thaw()
        await assert_released(before)
    assert reconnected[0].data.resumed is True
    assert server.connections[1].resumed_from is not None  # the same conversation
    assert outputs[1].data.text == "This is reply 2. You said: after."
    assert all(not e.data.fatal for e in events.of("error"))


@pytest.mark.parametrize(
    ("code", "retried"),
    [(1000, True), (1001, True), (1011, True), (1007, False), (1008, False)],
)
async def test_close_codes_mid_session(code: int, retried: bool) -> None:
    async with running_fake(playback_wait=0.0) as (server, options):
        before = ResourceSnapshot.take()
        t = GeminiLiveTransport(options, silent_media())
        events = Events(t)
        await t.connect()
        await server.close(code, "closed by the test")
        if retried:
            await events.wait_for("reconnected")
            assert t.state is S.READY and len(server.connections) == 2
        else:
            await events.until(lambda: t.state is S.ERROR)
            await asyncio.sleep(0.1)  # a retry, if there were one, would have started
            assert len(server.connections) == 1
            assert events.of("error")[-1].data.fatal
        await t.disconnect()
        await assert_released(before)


# ---------------------------------------------------------------- fuzzing
class Fuzzed:
    """A live session plus the server messages of a real conversation, to mutate."""

    def __init__(self, server: FakeGeminiServer, t: GeminiLiveTransport) -> None:
        self.server = server
        self.t = t
        self.events = Events(t)
        self.corpus: list[dict[str, Any]] = []
        self.sentinels = 0

    async def record_a_conversation(self) -> None:
        await self.t.send_message(say("hi"))
        await self.events.wait_for("bot-output")
        kept: dict[tuple[str, ...], int] = {}
        for message in self.server.connections[0].sent:
            kind = tuple(sorted(message))
            if "goAway" not in message and kept.get(kind, 0) < 2:
                kept[kind] = kept.get(kind, 0) + 1
                self.corpus.append(message)
        self.corpus += [
            {"serverContent": {"interrupted": True}},
            {"serverContent": {"inputTranscription": {"text": "hello"}}},
            {"serverContent": {"generationComplete": True}},
            {"toolCall": {"functionCalls": [{"id": "c1", "name": "lookup", "args": {"q": 1}}]}},
            {"toolCallCancellation": {"ids": ["c1"]}},
        ]

    async def round_trip(self) -> None:
        """Usage after the fuzz: its ``metrics`` event proves all were handled.

        (Not a transcript: after a fuzzed ``interrupted`` the provider rightly
        drops the rest of that turn's text.)
        """
        self.sentinels += 1
        total = 1_000_000 + self.sentinels
        await self.server.push({"usageMetadata": {"totalTokenCount": total}})

        def arrived() -> bool:
            return any(
                m.data.tokens and m.data.tokens[0].value["total_tokens"] == total
                for m in self.events.of("metrics")
            )

        await self.events.until(arrived)


@pytest.fixture
async def fuzzed() -> AsyncIterator[Fuzzed]:
    async with running_fake(playback_wait=0.0) as (server, options):
        before = ResourceSnapshot.take()
        t = GeminiLiveTransport(options, FileMediaManager(None, input_rate=16000))
        session = Fuzzed(server, t)
        await t.connect()
        await session.record_a_conversation()
        yield session
        assert t.state is S.READY and len(server.connections) == 1
        TALLY.add("malformed", t.stats.malformed_messages)
        TALLY.add("unknown", t.stats.unknown_messages)
        await t.disconnect()
        await assert_released(before)


def _mutate(draw: st.DrawFn, value: dict[str, Any], depth: int) -> dict[str, Any]:
    value = dict(value)
    keys = sorted(value)
    nested = [k for k in keys if isinstance(value[k], dict)]
    if depth < 3 and nested and draw(st.booleans()):  # go one level down
        key = draw(st.sampled_from(nested))
        value[key] = _mutate(draw, value[key], depth + 1)
        return value
    action = draw(st.sampled_from(["drop", "replace", "add"]))
    if action == "drop" and keys and depth > 0:  # keep the top-level key: it is the type
        value.pop(draw(st.sampled_from(keys)))
    elif action == "replace" and keys:
        value[draw(st.sampled_from(keys))] = draw(JSON)
    else:
        value[draw(st.text(max_size=12))] = draw(JSON)
    return value


@st.composite
def mutated_messages(draw: st.DrawFn, corpus: list[dict[str, Any]]) -> dict[str, Any]:
    message = draw(st.sampled_from(corpus))
    for _ in range(draw(st.integers(1, 3))):
        message = _mutate(draw, message, 0)
    return message


@FUZZ_SETTINGS
@given(data=st.data())
async def test_mutated_server_messages_never_break_the_session(
    fuzzed: Fuzzed, data: st.DataObject
) -> None:
    messages = data.draw(st.lists(mutated_messages(fuzzed.corpus), min_size=1, max_size=4))
    await survives(fuzzed.t, messages, fuzzed.server.push, fuzzed.round_trip, TALLY)


@pytest.fixture(scope="module", autouse=True)
def report_counts() -> Iterator[None]:
    yield
    TALLY.report()
