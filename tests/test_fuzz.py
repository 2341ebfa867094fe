"""Fuzzing: random and mutated server messages never crash a session, nor RTVI ``parse``.

Server frames reach a live echo session through a real websocket: valid
messages with fields dropped, retyped or replaced, unknown types, arbitrary
text and bytes, invalid UTF-8 and base64, and multi-megabyte payloads. After
each example the session must still be ``ready``, answer a sentinel message,
keep its audio running, and have reported every message it could not use
(a counted, logged warning plus an ``error`` event; unknown types are counted
and logged once, since servers add new types all the time).

What websockets itself refuses (invalid UTF-8 in a *text* frame, frames over
``max_size``) ends the connection by the protocol's rules; those cases are in
test_faults.py. So is a fatal ``error``, which ends the session by design.

Example counts are printed (``pytest -s``) and written to the JUnit report.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtws import FileMediaManager, MediaManager, TransportState, rtvi
from rtws.rtvi import RTVIParseError
from rtws.testing import EventLog, wait_for
from tests.conftest import make_options
from tests.echo_provider import EchoServer, EchoTransport
from tests.hostile import deep_array, deep_object
from tests.test_rtvi import WIRE

#: Examples run per test, for the report (filled as the tests run).
EXAMPLES: dict[str, int] = {}

#: Every code point, surrogates included ("\ud800" is valid JSON), so control
#: characters and terminal escapes reach every field a server could fill.
ANY_CHAR = st.characters(exclude_categories=())
#: Text that a terminal or an encoder could choke on: escapes, C1 controls, lone surrogates.
HOSTILE_TEXT = st.lists(
    st.sampled_from(
        ["\x1b]0;title\x07", "\x1b[2J", "\x9b31m", "\ud800", "\udfff", "\x00", "\u202e"]
    )
    | st.text(ANY_CHAR, max_size=8),
    max_size=6,
).map("".join)
#: Sizes at the edges: huge and tiny numbers, infinities and NaN (Python's json
#: reads ``Infinity`` and ``NaN``), empty and 64 kB strings.
EXTREME_LEAF = (
    st.sampled_from(
        [
            2**63,
            -(2**63) - 1,
            2**64,
            10**300,
            -(10**300),
            1e308,
            -1e308,
            5e-324,
            0.0,
            -0.0,
            "",
            "x" * 65536,
        ]
    )
    | st.floats()
)
JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | HOSTILE_TEXT
    | EXTREME_LEAF
)
#: Nesting far past any real message (and past :data:`rtws.safejson.MAX_DEPTH`), yet
#: shallow enough for the fakes' encoders: deeper frames are sent as raw text below.
DEEP = st.integers(1, 250).flatmap(
    lambda depth: st.sampled_from(["list", "dict"]).map(lambda kind: _nest(kind, depth))
)
JSON = (
    st.recursive(
        JSON_LEAF,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
        ),
        max_leaves=12,
    )
    | DEEP
)


def _nest(kind: str, depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


def count(name: str) -> None:
    EXAMPLES[name] = EXAMPLES.get(name, 0) + 1


@st.composite
def mutated(draw: st.DrawFn, valid: dict[str, Any]) -> dict[str, Any]:
    """A valid message with a few fields dropped, retyped, added or replaced."""
    message = dict(valid)
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["drop", "replace", "add", "retype"]))
        keys = sorted(message)
        if action == "drop" and keys:
            message.pop(draw(st.sampled_from(keys)))
        elif action == "replace" and keys:
            message[draw(st.sampled_from(keys))] = draw(JSON)
        elif action == "add":
            message[draw(st.text(max_size=12))] = draw(JSON)
        elif action == "retype" and keys:
            key = draw(st.sampled_from(keys))
            message[key] = [message[key]] if draw(st.booleans()) else str(message[key])
    return message


# ---------------------------------------------------------------- RTVI parse
def envelope(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"label": "rtvi-ai", "type": kind, "id": "m1", "data": data}


@st.composite
def rtvi_inputs(draw: st.DrawFn) -> str | bytes | dict[str, Any]:
    kind = draw(st.sampled_from(sorted(WIRE)))
    valid = envelope(kind, WIRE[kind])
    choice = draw(st.integers(0, 6))
    if choice == 6:  # nested past any decoder's stack
        depth = draw(st.integers(90, 6000))
        return deep_array(depth) if draw(st.booleans()) else deep_object(depth)
    if choice == 0:
        return draw(st.text(max_size=200))
    if choice == 1:
        return draw(st.binary(max_size=200))
    if choice == 2:
        return json.dumps(draw(JSON))
    message = draw(mutated(valid))
    if choice == 3 and isinstance(message.get("data"), dict):
        message["data"] = draw(mutated(message["data"]))
    if choice == 4:
        return message  # parse also takes decoded objects
    raw = json.dumps(message).encode()
    if draw(st.booleans()):  # corrupt a byte: invalid UTF-8 or broken JSON
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + bytes([draw(st.integers(0x80, 0xFF))]) + raw[at + 1 :]
    return raw


@settings(max_examples=600, deadline=None)
@given(rtvi_inputs())
def test_rtvi_parse_returns_a_model_or_a_clear_error(raw: str | bytes | dict[str, Any]) -> None:
    count("rtvi_parse")
    try:
        message = rtvi.parse(raw)
    except RTVIParseError as exc:
        problem = str(exc)  # a message that says what is wrong
        assert problem.startswith(("RTVI message", "unknown RTVI", "invalid RTVI")), problem
        return
    # What parses is stable on the wire (unknown fields set to null are dropped, like
    # every None: pipecat omits them too).
    wire = message.to_json()
    assert rtvi.parse(wire).to_json() == wire


# ---------------------------------------------------------------- a live session
VALID_SERVER_MESSAGES: list[dict[str, Any]] = [
    {"type": "session.ready"},
    {"type": "audio", "item_id": "i1", "audio": base64.b64encode(b"\x01\x00" * 240).decode()},
    {"type": "audio.done", "item_id": "i1"},
    {"type": "speech.started"},
    {"type": "speech.stopped"},
    {"type": "transcript", "role": "user", "text": "hello", "final": True},
    {"type": "transcript", "role": "bot", "text": "hi there"},
    {"type": "error", "message": "slow down", "fatal": False},
]


def not_fatal(message: dict[str, Any]) -> dict[str, Any]:
    """A fatal ``error`` ends the session by design (test_faults.py): fuzz the rest."""
    if message.get("type") == "error":
        message = {**message, "fatal": False}
    return message


def huge(size: int) -> str:
    kind = size % 3
    if kind == 0:  # a huge valid audio payload
        return json.dumps({"type": "audio", "item_id": "big", "audio": "AAAA" * (size // 4)})
    if kind == 1:  # huge invalid base64
        return json.dumps({"type": "audio", "item_id": "big", "audio": "@" * size})
    return json.dumps({"type": "transcript", "role": "bot", "text": "x" * size})


#: Raw frames nested deeper than any encoder can produce (the decoder used to
#: raise RecursionError at ~1,000 levels), alone or inside a valid message.
DEEP_FRAMES = st.tuples(st.integers(90, 6000), st.booleans(), st.booleans()).map(
    lambda t: (
        '{"type": "transcript", "role": "bot", "text": "x", "x": ' + deep_object(t[0]) + "}"
        if t[2]
        else (deep_array(t[0]) if t[1] else deep_object(t[0]))
    )
)
FRAMES = st.one_of(
    DEEP_FRAMES,
    DEEP_FRAMES.map(str.encode),  # and in binary frames
    st.sampled_from(VALID_SERVER_MESSAGES).flatmap(mutated).map(not_fatal).map(json.dumps),
    st.sampled_from(VALID_SERVER_MESSAGES)
    .flatmap(mutated)
    .map(not_fatal)
    .map(lambda m: json.dumps(m).encode()),  # JSON in a binary frame
    st.text(max_size=100),
    st.binary(max_size=100),  # binary where text is expected, invalid UTF-8 included
    JSON.map(json.dumps),
    st.sampled_from([2**16 + 1, 2**20, 4 * 2**20 + 2]).map(huge),
)


class LiveSession:
    """One echo session the examples share (a connect per example would dominate the time)."""

    def __init__(self, transport: EchoTransport, server: EchoServer, media: MediaManager) -> None:
        self.t = transport
        self.server = server
        self.media = media
        self.log = EventLog(transport)
        self.sentinels = 0

    async def round_trip(self) -> None:
        """Send a sentinel after the fuzz frames; its answer proves they were all handled."""
        self.sentinels += 1
        text = f"sentinel {self.sentinels}"
        await self.server.send({"type": "transcript", "role": "bot", "text": text})

        def arrived() -> bool:
            return any(
                isinstance(m, rtvi.BotLLMText) and m.data.text == text
                for m in self.log.events[-50:]
            )

        await wait_for(arrived, 5.0, text)


def file_media() -> MediaManager:
    return FileMediaManager(None, input_rate=16000, realtime=True)


def device_media() -> MediaManager:
    from rtws.media.sounddevice import SoundDeviceMediaManager

    return SoundDeviceMediaManager("virtual_mic", "virtual_speaker")


@pytest.fixture(
    params=[
        pytest.param(file_media, id="file"),
        pytest.param(device_media, id="devices", marks=pytest.mark.devices),
    ]
)
async def live(
    request: pytest.FixtureRequest, echo_server: EchoServer
) -> AsyncIterator[LiveSession]:
    media = request.param()
    t = EchoTransport(make_options(echo_server), media)
    session = LiveSession(t, echo_server, media)
    await t.connect()
    yield session
    # The audio side outlived every example: still capturing, no callback ever failed.
    blocks = media.stats.input_blocks
    await wait_for(lambda: media.stats.input_blocks > blocks + 2, 2.0, "audio still flowing")
    device_errors = [m.to_json() for m in session.log.of_type("device-error")]
    assert media.stats.extra.get("callback_errors", 0) == 0, device_errors
    assert t.state is TransportState.READY
    name = type(media).__name__
    EXAMPLES[f"malformed[{name}]"] = t.stats.malformed_messages
    EXAMPLES[f"unknown_types[{name}]"] = t.stats.unknown_messages
    await t.disconnect()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frames=st.lists(FRAMES, min_size=1, max_size=4))
async def test_random_server_frames_never_break_the_session(
    live: LiveSession, caplog: pytest.LogCaptureFixture, frames: list[str | bytes]
) -> None:
    count(f"server_frames[{type(live.media).__name__}]")
    EXAMPLES["server_frames_total"] = EXAMPLES.get("server_frames_total", 0) + len(frames)
    t, stats = live.t, live.t.stats
    caplog.set_level(logging.INFO, logger="rtws")
    malformed, errors_before = stats.malformed_messages, len(live.log.of_type("error"))
    unreported = stats.binary_unreported
    warnings_before = sum(1 for r in caplog.records if r.name == "rtws.dispatch")
    for frame in frames:
        await live.server.connections[-1].send(frame)
    await live.round_trip()

    assert t.state is TransportState.READY
    assert len(live.server.connections) == 1  # no reconnect was needed
    assert live.media.is_running
    new_malformed = stats.malformed_messages - malformed
    dispatch_errors = [
        m
        for m in live.log.of_type("error")[errors_before:]
        if isinstance(m, rtvi.Error)
        and (
            m.data.error.startswith("could not handle echo") or m.data.error.startswith("echo sent")
        )
    ]
    assert all(isinstance(m, rtvi.Error) and not m.data.fatal for m in live.log.of_type("error"))
    # Every unusable message became an event, but a stream of binary frames that are not
    # JSON only once (a raw-PCM server would otherwise cause ~50 error events a second).
    assert len(dispatch_errors) == new_malformed - (stats.binary_unreported - unreported)
    dispatch_logs = [r for r in caplog.records if r.name == "rtws.dispatch"][warnings_before:]
    warned = [r for r in dispatch_logs if r.levelno == logging.WARNING]
    assert len(warned) == len(dispatch_errors)  # ... and a warning


@pytest.fixture(scope="module", autouse=True)
def report_counts() -> Iterator[None]:
    yield
    line = ", ".join(f"{name}={n}" for name, n in sorted(EXAMPLES.items()))
    print(f"\n[fuzz examples] {line}")


def test_an_audio_payload_that_is_not_pcm16_is_refused_not_played() -> None:
    """Odd byte counts cannot be PCM16: the pipeline must refuse them, never shift a byte."""
    from rtws.audio import OutputPipeline

    out = OutputPipeline(24000, 24000, 0.0, "LQ")
    with pytest.raises(ValueError, match="multiple of element size"):
        out.write(b"\x01\x02\x03", "odd")
    out.write(np.ones(480, np.int16).tobytes(), "ok")
    assert out.buffer.buffered_ms == pytest.approx(20.0)


@pytest.mark.parametrize(
    "make_media",
    [
        pytest.param(file_media, id="file"),
        pytest.param(device_media, id="devices", marks=pytest.mark.devices),
    ],
)
async def test_an_audio_item_id_of_the_wrong_type_never_reaches_the_audio_thread(
    echo_server: EchoServer, make_media: Any
) -> None:
    """Found by the fuzzer: ``{"type": "audio", "item_id": [...], ...}``."""
    media: MediaManager = make_media()
    t = EchoTransport(make_options(echo_server), media)
    live = LiveSession(t, echo_server, media)
    pcm = base64.b64encode(np.full(4800, 3000, np.int16).tobytes()).decode()
    async with t:
        await echo_server.send({"type": "audio", "item_id": ["not", "a", "str"], "audio": pcm})
        await live.round_trip()
        blocks = media.stats.input_blocks
        await asyncio.sleep(0.3)
        assert media.stats.input_blocks > blocks + 5  # the audio side keeps running
        assert media.stats.extra.get("callback_errors", 0) == 0
        assert not live.log.of_type("device-error")
        assert t.stats.malformed_messages == 1  # refused on the loop, counted and reported


# ---------------------------------------------------------------- the depth bound itself
def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    return 0


BRACKETY_TEXT = st.text(st.sampled_from('[]{}"\\\\ aé\ud800'), max_size=12)
NESTED = st.recursive(
    st.none() | st.integers() | BRACKETY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(BRACKETY_TEXT, inner, max_size=3),
    max_leaves=20,
) | st.integers(1, 160).flatmap(
    lambda depth: st.sampled_from(["list", "dict"]).map(lambda k: _nest(k, depth))
)


@settings(max_examples=400, deadline=None)
@given(value=NESTED, wide=st.booleans(), binary=st.booleans())
def test_the_depth_bound_is_exact_whatever_the_strings_hold(
    value: Any, wide: bool, binary: bool
) -> None:
    """Strings full of brackets, quotes and backslashes never fool the raw-text measure."""
    from rtws import safejson

    count("safejson")
    if wide:  # past the walk's budget: the raw text is measured instead
        value = [*([0] * 1500), value]
    text = json.dumps(value, ensure_ascii=not binary)
    binary = binary and "\ud800" not in text  # a raw lone surrogate is no valid UTF-8
    raw: str | bytes = text.encode() if binary else text
    expected = _depth(value)
    if expected > safejson.MAX_DEPTH:
        with pytest.raises(ValueError, match="nested deeper than"):
            safejson.loads(raw)
    else:
        assert safejson.loads(raw) == value
    assert safejson._raw_depth(raw) == expected  # pyright: ignore[reportPrivateUsage]
