"""Reconnection: backoff on unexpected closes, never on auth/client errors, planned reconnects."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from rtws import FileMediaManager, ReconnectPolicy, TransportState
from tests.conftest import make_options, session_tasks, speaking_mic
from tests.echo_provider import EchoServer, EchoTransport

S = TransportState
FAST = ReconnectPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.05, jitter=0.0)


def silent_media(realtime: bool = False) -> FileMediaManager:
    return FileMediaManager(np.zeros(1600, np.int16), input_rate=16000, realtime=realtime)


class Recorder:
    def __init__(self, t: EchoTransport) -> None:
        self.events: list[Any] = []
        t.on("*", self.events.append)

    def types(self, *kinds: str) -> list[str]:
        return [e.type for e in self.events if e.type in kinds]

    def states(self) -> list[str]:
        return [e.data.state for e in self.events if e.type == "transport-state-changed"]

    def errors(self) -> list[tuple[str, bool]]:
        return [(e.data.error, e.data.fatal) for e in self.events if e.type == "error"]


async def wait_for(cond: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)


async def test_unexpected_close_reconnects_with_events(echo_server: EchoServer) -> None:
    t = EchoTransport(make_options(echo_server, reconnect=FAST), silent_media())
    rec = Recorder(t)
    async with t:
        await echo_server.close_all(1011, "internal error")
        await wait_for(lambda: "reconnected" in rec.types("reconnected"))
        assert t.state is S.READY
        assert len(echo_server.connections) == 2
        await t.send_message(__import__("rtws").rtvi.SendText(data={"content": "still there?"}))
        await wait_for(lambda: echo_server.of_type("text"))
    assert rec.states() == [
        "connecting", "connected", "ready",
        "connecting", "connected", "ready",
        "disconnecting", "disconnected",
    ]  # fmt: skip
    errors = rec.errors()
    assert len(errors) == 1 and errors[0][1] is False and "1011" in errors[0][0]
    assert rec.types("reconnecting", "reconnected") == ["reconnecting", "reconnected"]
    assert t.stats.reconnects == 1
    assert not session_tasks()


@pytest.mark.parametrize("code", [1002, 1003, 1007, 1008])
async def test_client_error_close_codes_are_never_retried(
    echo_server: EchoServer, code: int
) -> None:
    t = EchoTransport(make_options(echo_server, reconnect=FAST), silent_media())
    rec = Recorder(t)
    await t.connect()
    await echo_server.close_all(code, "you sent something wrong")
    await wait_for(lambda: t.state is S.ERROR)
    assert len(echo_server.connections) == 1
    assert rec.errors()[-1][1] is True
    assert "reconnecting" not in rec.types("reconnecting")
    await t.disconnect()
    assert not session_tasks()


async def test_gives_up_after_max_attempts_with_a_fatal_error(echo_server: EchoServer) -> None:
    t = EchoTransport(make_options(echo_server, reconnect=FAST), silent_media())
    rec = Recorder(t)
    await t.connect()
    echo_server.reject_status = 503
    await echo_server.close_all(1011)
    await wait_for(lambda: t.state is S.ERROR)
    assert echo_server.handshakes == 1 + 3
    errors = rec.errors()
    assert [fatal for _, fatal in errors] == [False, False, False, True]
    assert "503" in errors[-1][0]
    assert [e.data.attempt for e in rec.events if e.type == "reconnecting"] == [1, 2, 3]
    await t.disconnect()
    assert not session_tasks()


async def test_auth_failure_during_reconnect_stops_retrying(echo_server: EchoServer) -> None:
    t = EchoTransport(make_options(echo_server, reconnect=FAST), silent_media())
    await t.connect()
    echo_server.api_key = "sk-rotated-key-999999"
    await echo_server.close_all(1011)
    await wait_for(lambda: t.state is S.ERROR)
    assert echo_server.handshakes == 2  # one retry hit the 401, then no more
    await t.disconnect()


async def test_zero_attempts_disables_reconnection(echo_server: EchoServer) -> None:
    policy = ReconnectPolicy(max_attempts=0)
    t = EchoTransport(make_options(echo_server, reconnect=policy), silent_media())
    await t.connect()
    await echo_server.close_all(1011)
    await wait_for(lambda: t.state is S.ERROR)
    assert len(echo_server.connections) == 1
    await t.disconnect()


async def test_disconnect_during_backoff_stops_at_once(echo_server: EchoServer) -> None:
    slow = ReconnectPolicy(max_attempts=3, initial_delay=30.0, max_delay=30.0, jitter=0.0)
    t = EchoTransport(make_options(echo_server, reconnect=slow), silent_media())
    rec = Recorder(t)
    await t.connect()
    await echo_server.close_all(1011)
    await wait_for(lambda: "reconnecting" in rec.types("reconnecting"))
    async with asyncio.timeout(2.0):  # not 30 s: the wait is cancelled
        await t.disconnect()
    assert t.state is S.DISCONNECTED
    assert echo_server.handshakes == 1
    assert not session_tasks()


async def test_rate_limit_retry_after_is_honoured_in_the_backoff(echo_server: EchoServer) -> None:
    t = EchoTransport(make_options(echo_server, reconnect=FAST), silent_media())
    rec = Recorder(t)
    await t.connect()
    echo_server.reject_status = 429
    echo_server.retry_after = "0.3"
    await echo_server.close_all(1011)
    await wait_for(lambda: len(rec.types("reconnecting")) >= 2)
    echo_server.reject_status = None
    await wait_for(lambda: t.state is S.READY)
    delays = [e.data.delay_s for e in rec.events if e.type == "reconnecting"]
    assert delays[1] >= 0.3  # the server's hint, not the 10 ms policy delay
    await t.disconnect()


async def test_planned_reconnect_is_not_an_error_and_keeps_mic_audio(
    echo_server: EchoServer,
) -> None:
    media = speaking_mic(seconds=3)
    t = EchoTransport(make_options(echo_server, reconnect=FAST), media)
    rec = Recorder(t)
    async with t:
        await asyncio.sleep(0.5)
        echo_server.handshake_delay = 0.2  # the mic keeps producing while we reconnect
        t.schedule_reconnect("server asked us to move")
        await wait_for(lambda: "reconnected" in rec.types("reconnected"))
        await media.wait_input_done()
        await asyncio.sleep(0.2)
    assert rec.errors() == []
    assert rec.types("reconnecting", "reconnected") == ["reconnecting", "reconnected"]
    reason = next(e.data.reason for e in rec.events if e.type == "reconnecting")
    assert reason == "server asked us to move"
    # Every chunk exactly once and in order, from the very first (captured before
    # `ready`) through those captured mid-reconnect. (Chunks captured after
    # disconnect() began are dropped on purpose and counted.)
    seqs = echo_server.seqs
    assert seqs == list(range(1, len(seqs) + 1))
    assert t.stats.chunks_dropped_reconnecting == 0
    assert len(seqs) >= 3.0 / 0.02 - 2
