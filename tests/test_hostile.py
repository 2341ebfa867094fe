"""A hostile server cannot kill, stall or bloat a session (issue 16), through the echo provider.

Each test plays a server that sends what no honest one would — JSON nested
thousands deep, a refusal body no parser expected, a ``Retry-After`` of
infinity, the key echoed back in a refusal — over a real websocket on
127.0.0.1, and checks what a user sees: an ``error`` event and a state
change, a reconnect when the server then closes, mic audio still flowing,
and nothing of the server's text (the key) reachable from the exception.
"""

from __future__ import annotations

import asyncio
import base64
import http
import json
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.server import Request, Response, ServerConnection
from websockets.datastructures import Headers

from rtws import (
    AuthenticationError,
    ConnectionFailed,
    FileMediaManager,
    RateLimited,
    ReconnectPolicy,
    RTWSError,
    TransportState,
    rtvi,
)
from rtws.safejson import MAX_DEPTH
from rtws.testing import EventLog, wait_for
from tests.conftest import make_options
from tests.echo_provider import EchoOptions, EchoServer, EchoTransport
from tests.echo_session import errors, still_talks
from tests.hostile import DEEP, deep_array, deep_object, reachable_strings
from tests.resources import ResourceSnapshot, assert_released

S = TransportState
KEY = "sk-test-0123456789"
FAST = ReconnectPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.02, jitter=0.0)


class HostileServer(EchoServer):
    """The echo server, refusing handshakes with whatever body and headers a test sets."""

    def __init__(self) -> None:
        super().__init__(api_key=KEY)
        self.refusal: tuple[int, bytes, dict[str, str]] | None = None

    async def _check_request(self, conn: ServerConnection, request: Request) -> Response | None:
        if self.refusal is None:
            return await super()._check_request(conn, request)
        status, body, headers = self.refusal
        if b"{auth}" in body:  # quote the credentials back, as some servers do
            body = body.replace(b"{auth}", request.headers.get("Authorization", "").encode())
        return Response(
            status,
            http.HTTPStatus(status).phrase,
            Headers({"Content-Type": "application/json", **headers}),
            body,
        )


@pytest.fixture
def quiet_logs() -> Iterator[None]:
    """For memory checks: below WARNING, log records are not made (and kept by pytest).

    Other tests turn websockets' loggers to DEBUG and leave them so; a record
    per frame would then count as memory the session holds.
    """
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def media() -> FileMediaManager:
    return FileMediaManager(np.zeros(1600, np.int16), input_rate=16000, realtime=True)


# ---------------------------------------------------------------- finding 1: the receive path
@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(deep_array(), id="array-5000-deep"),  # RecursionError in the decoder
        pytest.param(deep_object(DEEP).encode(), id="object-5000-deep-binary"),
        pytest.param(deep_object(MAX_DEPTH + 1), id="object-just-too-deep"),  # decodes, refused
    ],
)
async def test_a_deeply_nested_frame_is_an_error_event_and_the_session_goes_on(
    frame: str | bytes,
) -> None:
    async with HostileServer() as server:
        t = EchoTransport(make_options(server, reconnect=FAST), media())
        log = EventLog(t)
        before = ResourceSnapshot.take()
        await t.connect()
        sent = t.stats.chunks_sent
        await server.connections[-1].send(frame)
        await wait_for(lambda: errors(log), 3.0, "the error event")
        ((text, fatal),) = errors(log)
        assert not fatal and f"echo sent JSON nested deeper than {MAX_DEPTH} levels" == text
        assert t.stats.malformed_messages == 1 and t.state is S.READY
        await still_talks(t)  # the receive loop is alive
        await wait_for(lambda: t.stats.chunks_sent > sent + 3, 3.0, "mic chunks still sent")
        assert t.stats.chunks_dropped_not_ready == 0
        await server.close_all(1011, "restarting")  # a close afterwards is still noticed
        await wait_for(lambda: log.of_type("reconnected"), 3.0, "a reconnect")
        await still_talks(t)
        await t.disconnect()
        await assert_released(before)


async def test_nesting_just_under_the_bound_is_delivered() -> None:
    async with HostileServer() as server:
        t = EchoTransport(make_options(server), media())
        log = EventLog(t)
        async with t:
            text = json.dumps({"type": "transcript", "role": "bot", "text": "x"})
            nested = text[:-1] + ', "extra": ' + deep_object(MAX_DEPTH - 1) + "}"
            await server.connections[-1].send(nested)
            await wait_for(lambda: log.of_type("bot-llm-text"), 3.0, "the transcript")
            assert not errors(log) and t.stats.malformed_messages == 0


# ---------------------------------------------------------------- finding 1: refused handshakes
UNPARSABLE_BODIES = [
    pytest.param(deep_array().encode(), id="deep-array"),
    pytest.param(b'{"error": ' + deep_object(DEEP).encode() + b"}", id="deep-error"),
    pytest.param(b'{"error": {"message": ["a", {"b": null}], "code": 7}}', id="odd-types"),
    pytest.param(b"\xff\xfe\x00garbage", id="not-utf8"),
]


@pytest.mark.parametrize("body", UNPARSABLE_BODIES)
@pytest.mark.parametrize(("status", "error"), [(401, AuthenticationError), (503, ConnectionFailed)])
async def test_a_refusal_body_no_parser_expected_gives_a_clear_error_on_connect(
    body: bytes, status: int, error: type[RTWSError]
) -> None:
    async with HostileServer() as server:
        server.refusal = (status, body, {})
        t = EchoTransport(make_options(server, reconnect=FAST), media())
        log = EventLog(t)
        before = ResourceSnapshot.take()
        with pytest.raises(error, match=f"HTTP {status}"):
            await t.connect()
        assert t.state is S.ERROR and errors(log)[-1][1] is True
        await t.disconnect()
        await assert_released(before)


@pytest.mark.parametrize("body", UNPARSABLE_BODIES[:2])
@pytest.mark.parametrize(("status", "handshakes"), [(401, 1 + 1), (503, 1 + FAST.max_attempts)])
async def test_a_refusal_body_no_parser_expected_never_sticks_a_reconnect(
    body: bytes, status: int, handshakes: int
) -> None:
    async with HostileServer() as server:
        t = EchoTransport(make_options(server, reconnect=FAST), media())
        log = EventLog(t)
        await t.connect()
        server.refusal = (status, body, {})
        await server.close_all(1011)
        await wait_for(lambda: t.state is S.ERROR, 3.0, "the reconnect to give up")
        assert server.handshakes == handshakes
        fatal = [text for text, is_fatal in errors(log) if is_fatal]
        assert len(fatal) == 1 and f"HTTP {status}" in fatal[0]
        await t.disconnect()


# ---------------------------------------------------------------- Retry-After from a hostile server
@pytest.mark.parametrize("value", ["inf", "nan", "-5", "1e400"])
async def test_a_retry_after_that_is_not_a_sane_delay_is_ignored(value: str) -> None:
    async with HostileServer() as server:
        server.refusal = (429, b"{}", {"Retry-After": value})
        t = EchoTransport(make_options(server, reconnect=FAST), media())
        with pytest.raises(RateLimited) as info:
            await t.connect()
        assert info.value.retry_after is None
        await t.disconnect()


async def test_a_huge_retry_after_is_capped_and_the_reconnect_does_not_park() -> None:
    from rtws.http import MAX_RETRY_AFTER_S

    async with HostileServer() as server:
        server.refusal = (429, b"{}", {"Retry-After": "31536000"})  # a year
        t = EchoTransport(make_options(server, reconnect=FAST), media())
        with pytest.raises(RateLimited) as info:
            await t.connect()
        assert info.value.retry_after == MAX_RETRY_AFTER_S
        await t.disconnect()


# ---------------------------------------------------------------- finding 8: the exception chain
async def test_nothing_the_refusal_said_is_reachable_from_the_exception() -> None:
    """The server quotes the key in its 401 body: the error says so, masked, and that is all."""
    async with HostileServer() as server:
        server.refusal = (401, b'{"error": {"message": "Incorrect API key: {auth}"}}', {})
        t = EchoTransport(make_options(server), media())
        with pytest.raises(AuthenticationError) as info:
            await t.connect()
        await t.disconnect()
    exc = info.value
    assert "Incorrect API key: Bearer ***" in str(exc)
    assert exc.__context__ is None and exc.__cause__ is None
    leaks = [s for s in reachable_strings(exc) if KEY in s]
    assert not leaks, f"the key is reachable from the exception: {leaks[:2]}"


async def test_a_close_reason_quoting_the_key_is_not_reachable_from_the_error() -> None:
    """The server closes the session while ``connect()`` waits, its reason quoting the key."""
    async with HostileServer() as server:
        server.hold_ready = True
        t = EchoTransport(make_options(server, reconnect=FAST), media())
        failures: list[BaseException] = []

        async def connect() -> None:
            try:
                await t.connect()
            except RTWSError as exc:
                failures.append(exc)

        task = asyncio.ensure_future(connect())
        await wait_for(lambda: server.connections, 3.0, "the socket")
        await server.close_all(1008, f"policy: key {KEY} is blocked")
        await task
        await t.disconnect()
    (exc,) = failures
    assert "code 1008" in str(exc) and KEY not in str(exc)
    leaks = [s for s in reachable_strings(exc) if KEY in s]
    assert not leaks, f"the key is reachable from the exception: {leaks[:2]}"


# ---------------------------------------------------------------- finding 3: slow async handlers
async def test_an_async_handler_that_never_returns_cannot_pile_up_tasks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from rtws.events import MAX_PENDING_HANDLER_CALLS

    flood = MAX_PENDING_HANDLER_CALLS * 3
    async with HostileServer() as server:
        t = EchoTransport(make_options(server), media())
        log = EventLog(t)
        started: list[int] = []

        async def stuck(_: rtvi.RTVIMessage) -> None:
            started.append(1)
            await asyncio.Event().wait()  # never returns

        before = ResourceSnapshot.take()
        await t.connect()
        baseline = len(asyncio.all_tasks())
        t.on("bot-llm-text", stuck)
        frame = json.dumps({"type": "transcript", "role": "bot", "text": "x"})
        conn = server.connections[-1]
        for _ in range(flood):  # the server streams far faster than the handler finishes
            await conn.send(frame)
        await wait_for(lambda: len(log.of_type("bot-llm-text")) == flood, 10.0, "the flood")
        await asyncio.sleep(0)  # let the cancelled calls finish
        assert len(started) >= MAX_PENDING_HANDLER_CALLS
        pending = len(asyncio.all_tasks()) - baseline
        assert pending <= MAX_PENDING_HANDLER_CALLS  # only the newest calls are still waiting
        assert t._bus.handler_calls_dropped == flood - MAX_PENDING_HANDLER_CALLS  # pyright: ignore[reportPrivateUsage]
        warnings = [r for r in caplog.records if "is too slow" in r.getMessage()]
        assert len(warnings) == 1  # reported, not once per drop
        await still_talks(t)
        await t.disconnect()  # the stuck calls are cancelled, none leaks
        await assert_released(before)


# ---------------------------------------------------------------- finding 2: an audio flood
async def test_an_audio_flood_is_bounded_counted_and_reported_once(quiet_logs: None) -> None:
    """A server sends a minute of audio per delta, far faster than it plays."""
    import tracemalloc

    big = np.full(24000 * 20, 1000, np.int16)  # 20 s, ~1 MB of PCM per delta
    frame = json.dumps(
        {"type": "audio", "item_id": "flood", "audio": base64.b64encode(big.tobytes()).decode()}
    )
    async with HostileServer() as server:
        speaker = media()
        t = EchoTransport(make_options(server, max_playout_s=3.0), speaker)
        log = EventLog(t)
        await t.connect()
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            conn = server.connections[-1]
            for _ in range(40):  # 800 s of audio, 40 MB of PCM
                await conn.send(frame)
            await still_talks(t)  # every delta was handled; the loop was never blocked for good
            held = tracemalloc.get_traced_memory()[0] - start
        finally:
            tracemalloc.stop()
        assert speaker.bot_audio_buffered_ms <= 3000
        assert held < 8 * 2**20, f"{held / 2**20:.0f} MB held after the flood"
        dropped = t.stats.bot_audio_dropped_ms
        assert dropped == speaker.stats.dropped_bot_audio_ms
        assert 800_000 - 3000 - 2000 <= dropped <= 800_000 - 3000 + 100  # all but what fits
        ((text, fatal),) = errors(log)  # reported once, not per delta
        assert not fatal and "options.max_playout_s" in text and "3 s" in text
        assert t.state is S.READY
        await t.disconnect()


def test_a_full_playout_buffer_keeps_no_reference_to_the_audio_it_refused() -> None:
    from rtws.audio import OutputPipeline

    out = OutputPipeline(24000, 24000, 0.0, "LQ", max_buffer_s=1.0)
    block = np.zeros(480, np.int16)
    for _ in range(30):
        big = np.full(24000 * 10, 7, np.int16).tobytes()
        assert out.write(big, "x") > 0
        out.read_into(block)  # the speaker frees 20 ms: the next delta fits 20 ms of itself
    segments = out.buffer._segments  # pyright: ignore[reportPrivateUsage]
    held = sum(seg.nbytes if seg.base is None else seg.base.nbytes for seg, _ in segments)
    assert held <= 2 * 24000 * 2  # about the second of audio queued, not 30 x 480 kB


# ---------------------------------------------------------------- what held up (keep it so)
async def test_a_server_that_never_answers_the_handshake_times_out_at_the_configured_value() -> (
    None
):
    """TCP accepted, the HTTP upgrade never answered: connect() fails with the option's name."""
    from rtws import ConnectTimeout

    accepted: list[asyncio.StreamWriter] = []

    async def mute(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # kept open, never written to

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        opts = EchoOptions(url=f"ws://127.0.0.1:{port}/echo", api_key=KEY, connect_timeout=0.3)
        t = EchoTransport(opts, media())
        before = ResourceSnapshot.take()
        with pytest.raises(ConnectTimeout, match=r"0\.3 s \(options\.connect_timeout\)"):
            await t.connect()
        assert t.state is S.ERROR and accepted
        await t.disconnect()
        for writer in accepted:  # the server's end of the connection, not the client's
            writer.close()
        await assert_released(before)
    finally:
        server.close()
        await server.wait_closed()


async def test_a_flood_of_small_events_nobody_reads_keeps_memory_flat(quiet_logs: None) -> None:
    """8,000 small events into a session whose ``events()`` reader has stopped reading."""
    import tracemalloc

    async with HostileServer() as server:
        t = EchoTransport(make_options(server), media())
        await t.connect()
        unread = t.events(["bot-llm-text"], maxsize=100)
        first = await asyncio.wait_for(anext_after(unread, server), 3.0)
        assert first.type == "bot-llm-text"
        conn = server.connections[-1]
        frame = json.dumps({"type": "transcript", "role": "bot", "text": "word " * 10})
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            for _ in range(8000):
                await conn.send(frame)
            await still_talks(t)
            grown = tracemalloc.get_traced_memory()[0] - start
        finally:
            tracemalloc.stop()
        assert grown < 2 * 2**20, f"{grown / 2**20:.1f} MB kept for events nobody reads"
        assert t.state is S.READY
        await t.disconnect()
        await unread.aclose()


async def anext_after(events: Any, server: HostileServer) -> rtvi.RTVIMessage:
    waiting = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)
    await server.send({"type": "transcript", "role": "bot", "text": "first"})
    return await waiting


async def test_many_connect_disconnect_cycles_leave_nothing_behind(quiet_logs: None) -> None:
    import tracemalloc

    async with HostileServer() as server:
        t = EchoTransport(make_options(server), media())
        await t.connect()  # the first cycle warms imports and caches
        await t.disconnect()
        before = ResourceSnapshot.take()
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            for _ in range(60):
                await t.connect()
                await t.disconnect()
            grown = tracemalloc.get_traced_memory()[0] - start
        finally:
            tracemalloc.stop()
        await assert_released(before)  # tasks, threads, fds
        assert grown < 2**20, f"{grown / 2**10:.0f} kB kept over 60 cycles"


def test_sessions_in_two_asyncio_runs_and_in_another_thread() -> None:
    import threading

    async def one_session() -> TransportState:
        async with HostileServer() as server:
            t = EchoTransport(make_options(server), media())
            async with t:
                await still_talks(t)
                return t.state

    assert asyncio.run(one_session()) is S.READY
    assert asyncio.run(one_session()) is S.READY  # a second loop, the same process
    results: list[TransportState] = []
    worker = threading.Thread(target=lambda: results.append(asyncio.run(one_session())))
    worker.start()
    worker.join(30)
    assert results == [S.READY]
