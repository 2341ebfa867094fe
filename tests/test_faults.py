"""Fault injection through the echo provider's real server on 127.0.0.1.

Each case breaks the session the way networks and servers do (a reset in
the middle of a reply, a peer that hangs, a slow reader, refused handshakes,
every close code, server ``error`` events, failing devices) and checks the
three things a user relies on: the failure is reported (events and state),
the retry policy does the right thing, and ``disconnect()`` afterwards
leaves nothing behind. ``FAULT_CASES`` counts them for the issue's report.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode

from rtws import (
    AudioChunk,
    AuthenticationError,
    ConnectionFailed,
    ConnectionLost,
    FileMediaManager,
    RateLimited,
    ReconnectPolicy,
    TransportState,
    rtvi,
)
from rtws.media.base import MAX_PENDING_INPUT_BLOCKS
from rtws.testing import EventLog, wait_for
from tests.conftest import make_options, speaking_mic
from tests.echo_provider import EchoServer, EchoTransport
from tests.echo_session import errors, still_talks
from tests.faultproxy import FaultProxy
from tests.resources import ResourceSnapshot, assert_released

S = TransportState
FAST = ReconnectPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.05, jitter=0.0)


def silent_media(realtime: bool = True, seconds: float = 0.1) -> FileMediaManager:
    return FileMediaManager(
        np.zeros(int(16000 * seconds), np.int16), input_rate=16000, realtime=realtime
    )


def every_mic_chunk_sent_once_or_counted(
    t: EchoTransport, media: FileMediaManager, server: EchoServer
) -> tuple[list[int], int]:
    """Assert the mic's chunks reached the server in order, none twice, and that each one
    it delivered was sent or dropped and counted; the seqs received and the count dropped."""
    seqs = server.seqs
    assert seqs == sorted(set(seqs)), "a chunk arrived twice or out of order"
    stats = t.stats
    counted = stats.chunks_dropped_not_ready + stats.chunks_dropped_reconnecting
    assert stats.chunks_sent + counted == media.stats.chunks_delivered
    return seqs, counted


@pytest.fixture
async def proxied(echo_server: EchoServer) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(echo_server.url) as proxy:
        yield proxy


# ---------------------------------------------------------------- close codes
RETRIED_CODES = [1000, 1001, 1011, 1012, 1013, 1014, 3000, 4000]
FATAL_CODES = [1002, 1003, 1007, 1008, 1009, 1010]


@pytest.mark.parametrize("code", RETRIED_CODES + FATAL_CODES)
async def test_each_close_code_is_retried_or_fatal(echo_server: EchoServer, code: int) -> None:
    t = EchoTransport(make_options(echo_server, reconnect=FAST), silent_media())
    log = EventLog(t)
    before = ResourceSnapshot.take()
    await t.connect()
    await echo_server.close_all(code, "closed by the test")
    if code in RETRIED_CODES:
        await wait_for(lambda: log.of_type("reconnected"), 3.0, "a reconnect")
        assert t.state is S.READY and len(echo_server.connections) == 2
        await still_talks(t)
        ((text, fatal),) = errors(log)
        assert not fatal and f"code {code}" in text
    else:
        await wait_for(lambda: t.state is S.ERROR, 3.0, "the session to fail")
        assert len(echo_server.connections) == 1  # never retried
        assert not log.of_type("reconnecting")
        (text, fatal), *_ = errors(log)
        assert fatal and f"code {code}" in text and "closed by the test" in text
    await t.disconnect()
    await assert_released(before)


async def test_a_reset_without_close_frame_is_retried(proxied: FaultProxy) -> None:
    t = EchoTransport(make_options_for(proxied.url), silent_media())
    log = EventLog(t)
    await t.connect()
    proxied.drop()
    await wait_for(lambda: log.of_type("reconnected"), 3.0, "a reconnect")
    assert "no close frame" in errors(log)[0][0] and errors(log)[0][1] is False
    assert proxied.connections == 2
    await t.disconnect()


def make_options_for(url: str, **kw: Any) -> Any:
    from tests.echo_provider import EchoOptions

    base: dict[str, Any] = {
        "url": url,
        "api_key": "sk-test-0123456789",
        "connect_timeout": 5.0,
        "reconnect": FAST,
    }
    return EchoOptions.model_validate(base | kw)


# ---------------------------------------------------------------- refused handshakes
HANDSHAKES = [
    # status, retry-after, error raised by connect(), retried during a session
    (400, None, ConnectionFailed, False),
    (401, None, AuthenticationError, False),
    (403, None, AuthenticationError, False),
    (404, None, ConnectionFailed, False),
    (429, "0.05", RateLimited, True),
    (500, None, ConnectionFailed, True),
    (502, None, ConnectionFailed, True),
    (503, None, ConnectionFailed, True),
]


@pytest.mark.parametrize(("status", "retry_after", "error", "_retried"), HANDSHAKES)
async def test_refused_handshake_on_connect(
    echo_server: EchoServer,
    status: int,
    retry_after: str | None,
    error: type[Exception],
    _retried: bool,
) -> None:
    echo_server.reject_status = status
    echo_server.retry_after = retry_after
    t = EchoTransport(make_options(echo_server, reconnect=FAST), silent_media())
    log = EventLog(t)
    before = ResourceSnapshot.take()
    with pytest.raises(error, match=str(status)):
        await t.connect()
    assert echo_server.handshakes == 1  # connect() reports; it does not retry
    assert t.state is S.ERROR and errors(log)[-1][1] is True
    await t.disconnect()
    await assert_released(before)


@pytest.mark.parametrize(("status", "retry_after", "_error", "retried"), HANDSHAKES)
async def test_refused_handshake_while_reconnecting(
    echo_server: EchoServer,
    status: int,
    retry_after: str | None,
    _error: type[Exception],
    retried: bool,
) -> None:
    t = EchoTransport(make_options(echo_server, reconnect=FAST), silent_media())
    log = EventLog(t)
    before = ResourceSnapshot.take()
    await t.connect()
    echo_server.reject_status = status
    echo_server.retry_after = retry_after
    await echo_server.close_all(1011)
    await wait_for(lambda: t.state is S.ERROR, 5.0, "the retries to give up")
    assert echo_server.handshakes == 1 + (3 if retried else 1)
    fatal = [text for text, is_fatal in errors(log) if is_fatal]
    assert len(fatal) == 1 and str(status) in fatal[0]
    if retry_after is not None:
        delays = [m.data.delay_s for m in log.of_type("reconnecting")]  # type: ignore[attr-defined]
        assert all(d >= 0.05 for d in delays[1:])
    await t.disconnect()
    await assert_released(before)


# ---------------------------------------------------------------- server error events
async def test_a_non_fatal_server_error_is_reported_and_the_session_goes_on(
    echo_server: EchoServer,
) -> None:
    t = EchoTransport(make_options(echo_server), silent_media())
    log = EventLog(t)
    async with t:
        await echo_server.send({"type": "error", "message": "rate of audio too high"})
        await wait_for(lambda: errors(log), 2.0, "the error event")
        assert errors(log) == [("rate of audio too high", False)]
        await still_talks(t)
        assert t.state is S.READY


async def test_a_fatal_server_error_ends_the_session_without_retrying(
    echo_server: EchoServer,
) -> None:
    t = EchoTransport(make_options(echo_server, reconnect=FAST), silent_media())
    log = EventLog(t)
    before = ResourceSnapshot.take()
    await t.connect()
    await echo_server.send({"type": "error", "message": "session expired", "fatal": True})
    await wait_for(lambda: t.state is S.ERROR, 2.0, "the session to end")
    assert errors(log) == [("session expired", True)]
    assert not log.of_type("reconnecting") and len(echo_server.connections) == 1
    assert not t.media.is_running  # torn down at once, before disconnect()
    await t.disconnect()
    await assert_released(before)


# ---------------------------------------------------------------- dropped mid-reply
async def test_socket_dropped_mid_reply_stops_the_stale_audio_and_resumes(
    echo_server: EchoServer, proxied: FaultProxy
) -> None:
    media = silent_media()
    t = EchoTransport(make_options_for(proxied.url), media)
    log = EventLog(t)
    await t.connect()
    tone = (np.sin(np.arange(24000) / 4) * 9000).astype(np.int16)  # 1 s of reply
    for piece in np.array_split(tone, 10)[:6]:  # the reply is cut after 600 ms
        audio = base64.b64encode(piece.tobytes()).decode()
        await echo_server.send({"type": "audio", "item_id": "r1", "audio": audio})
    await wait_for(lambda: log.of_type("bot-started-speaking"), 2.0, "the reply to start")
    proxied.drop()
    await wait_for(lambda: log.of_type("reconnected"), 3.0, "a reconnect")
    # The rest of r1 never comes: what was queued of it is not played late.
    assert media.bot_audio_buffered_ms == 0
    kinds = log.types("bot-started-speaking", "bot-stopped-speaking", "reconnecting")
    assert kinds == ["bot-started-speaking", "reconnecting", "bot-stopped-speaking"]
    await still_talks(t)
    await echo_server.send_audio(tone[:4800], "r2")  # a new reply plays normally
    await wait_for(lambda: len(log.of_type("bot-started-speaking")) == 2, 2.0, "reply 2")
    await t.disconnect()


async def test_mic_audio_across_an_unplanned_drop_is_sent_once_or_counted(
    echo_server: EchoServer, proxied: FaultProxy
) -> None:
    media = speaking_mic(seconds=3)
    t = EchoTransport(make_options_for(proxied.url), media)
    log = EventLog(t)
    await t.connect()
    await asyncio.sleep(0.4)
    echo_server.handshake_delay = 0.2  # the mic keeps producing while we reconnect
    proxied.drop()
    await wait_for(lambda: log.of_type("reconnected"), 3.0, "a reconnect")
    await media.wait_input_done()
    await asyncio.sleep(0.2)
    await t.disconnect()
    seqs, counted = every_mic_chunk_sent_once_or_counted(t, media, echo_server)
    stats = t.stats
    # Chunks written into the socket that died are gone with it: rtws cannot know
    # whether the server read them (these protocols have no acks). They are few.
    in_flight = stats.chunks_sent - len(seqs)
    assert 0 <= in_flight <= 3
    gaps = seqs[-1] - seqs[0] + 1 - len(seqs)
    assert gaps <= counted + in_flight
    assert stats.chunks_dropped_reconnecting == 0  # a 200 ms reconnect fits the hold


# ---------------------------------------------------------------- hung and slow servers
@pytest.mark.parametrize("mic", ["live", "muted"])
async def test_half_open_connection_is_detected_and_reconnected(
    echo_server: EchoServer, proxied: FaultProxy, mic: str
) -> None:
    """The server vanishes without a FIN: nothing arrives, pings go unanswered.

    With a live microphone the audio fills the socket buffer first, which
    stalls websockets' own keepalive ping; rtws' send deadline catches it.
    """
    opts = make_options_for(proxied.url, ping_interval=0.2, ping_timeout=0.4)
    # A mic producing faster than real time fills the socket buffer in a moment.
    media = silent_media(realtime=False, seconds=600) if mic == "live" else silent_media()
    t = EchoTransport(opts, media)
    if mic == "muted":
        t.enable_mic(False)
    log = EventLog(t)
    await t.connect()
    proxied.freeze()
    await wait_for(lambda: log.of_type("reconnected"), 4.0, "the hang to be detected")
    text, fatal = errors(log)[0]
    assert not fatal
    assert ("stopped reading" in text) if mic == "live" else ("keepalive ping timeout" in text)
    assert proxied.connections == 2 and t.state is S.READY
    await still_talks(t)
    async with asyncio.timeout(3.0):
        await t.disconnect()


async def test_slow_server_back_pressure_is_bounded_and_counted(
    echo_server: EchoServer, proxied: FaultProxy
) -> None:
    """A server reading slower than the mic produces: the send path blocks, memory stays bounded.

    Policy: ``send`` waits while websockets' write buffer is over its limit
    (32 KiB); the mic pump waits with it; captured blocks wait in the media
    manager's queue, which keeps the newest ``MAX_PENDING_INPUT_BLOCKS`` and
    drops (and counts) the oldest, so the conversation stays live rather than
    falling ever further behind.
    """
    # Faster than real time, so the kernel's socket buffers (megabytes on loopback) fill.
    media = silent_media(realtime=False, seconds=200)
    t = EchoTransport(make_options_for(proxied.url, ping_interval=None, ping_timeout=5.0), media)
    log = EventLog(t)
    proxied.throttle(64_000)
    await t.connect()
    peak_buffer = peak_pending = 0
    async with asyncio.timeout(10):
        while media.stats.dropped_input_blocks < 500:
            ws = t.ws._ws  # pyright: ignore[reportPrivateUsage]
            assert ws is not None
            peak_buffer = max(peak_buffer, ws.transport.get_write_buffer_size())
            pending = len(media._pending)  # pyright: ignore[reportPrivateUsage]
            peak_pending = max(peak_pending, pending)
            await asyncio.sleep(0.005)
    assert peak_pending <= MAX_PENDING_INPUT_BLOCKS
    assert peak_buffer <= 2**15 + 2048  # websockets' high-water mark plus one frame
    assert t.state is S.READY and not log.of_type("reconnecting", "error")
    proxied.throttle(None)
    await media.wait_input_done()
    await wait_for(lambda: len(echo_server.seqs) == t.stats.chunks_sent, 5.0, "the backlog")
    seqs = echo_server.seqs
    assert seqs == sorted(set(seqs))  # nothing sent twice; the drops happened before chunking
    stats = media.stats
    assert stats.chunks_delivered + stats.dropped_input_blocks == stats.input_blocks
    await t.disconnect()


async def test_server_that_stops_reading_is_dropped_and_reconnected(
    echo_server: EchoServer, proxied: FaultProxy
) -> None:
    media = silent_media(realtime=False, seconds=600)
    opts = make_options_for(proxied.url, ping_interval=None, ping_timeout=0.5)
    t = EchoTransport(opts, media)
    log = EventLog(t)
    await t.connect()
    proxied.freeze(upstream=True, downstream=False)  # replies still arrive; nothing is read
    await wait_for(lambda: log.of_type("reconnected"), 4.0, "the stall to be detected")
    text, fatal = errors(log)[0]
    assert not fatal and "stopped reading: nothing sent for 0.5 s" in text
    await still_talks(t)
    await t.disconnect()


async def test_disconnect_while_the_send_path_is_blocked_is_prompt(
    echo_server: EchoServer, proxied: FaultProxy
) -> None:
    media = silent_media(realtime=False, seconds=600)
    opts = make_options_for(proxied.url, ping_interval=None, ping_timeout=30.0)
    t = EchoTransport(opts, media)
    before = ResourceSnapshot.take()
    await t.connect()
    proxied.freeze()
    await wait_for(lambda: media.stats.dropped_input_blocks, 3.0, "the send path to block")
    async with asyncio.timeout(3.5):  # disconnect_llm's 2 s, then a reset: not TCP's minutes
        await t.disconnect()
    assert t.state is S.DISCONNECTED
    proxied.thaw()  # so the proxy and the server notice the reset and let go too
    await assert_released(before)


# ---------------------------------------------------------------- oversized and invalid frames
@pytest.mark.parametrize("fault", ["invalid-utf8-text", "oversized"])
async def test_frames_websockets_refuses_cost_one_reconnect(
    echo_server: EchoServer, fault: str
) -> None:
    t = EchoTransport(make_options(echo_server, reconnect=FAST), silent_media())
    log = EventLog(t)
    await t.connect()
    conn = echo_server.connections[-1]
    if fault == "invalid-utf8-text":
        await conn.send(b'{"type": "transcript", "text": "\xff\xfe"}', text=True)
    else:
        await conn.send('{"type": "x", "pad": "' + "x" * (16 * 2**20) + '"}')
    await wait_for(lambda: log.of_type("reconnected"), 3.0, "a reconnect")
    text, fatal = errors(log)[0]
    code = CloseCode.INVALID_DATA if fault == "invalid-utf8-text" else CloseCode.MESSAGE_TOO_BIG
    assert not fatal and f"code {int(code)}" in text and "rtws dropped the connection" in text
    await still_talks(t)
    await t.disconnect()


FAULT_CASES = (
    len(RETRIED_CODES + FATAL_CODES)
    + 1  # reset without close frame
    + 2 * len(HANDSHAKES)
    + 2  # server error events
    + 2  # dropped mid-reply, mic across a drop
    + 2  # half-open, live and muted mic
    + 3  # slow server, stalled server, disconnect while blocked
    + 2  # invalid UTF-8, oversized frame
    + 3  # mic unplugged, mic refusing every format, speaker callback raising
    + 1  # a server in a crash loop
    + 1  # a send failing while held mic audio is flushed
    + 1  # a handler's reply into a closing socket
)


# ---------------------------------------------------------------- failing audio devices
def device_session(echo_server: EchoServer, media: Any) -> EchoTransport:
    return EchoTransport(make_options(echo_server), media)


async def mic_streams(server: EchoServer) -> None:
    before = len(server.audio_in)
    await wait_for(lambda: len(server.audio_in) > before + 3200, 2.0, "mic audio at the server")


@pytest.mark.devices
async def test_mic_unplugged_mid_session_is_a_device_error_and_the_session_goes_on(
    echo_server: EchoServer,
) -> None:
    from rtws import sandbox
    from rtws.media.sounddevice import SoundDeviceMediaManager

    t = device_session(echo_server, SoundDeviceMediaManager("virtual_mic", "virtual_speaker"))
    log = EventLog(t)
    before = ResourceSnapshot.take()
    await t.connect()
    await mic_streams(echo_server)
    assert sandbox.unplug("input") == 1
    await wait_for(lambda: log.of_type("device-error"), 3.0, "the device-error event")
    (event,) = log.of_type("device-error")
    assert isinstance(event, rtvi.DeviceErrorEvent)
    assert event.data.message.startswith("microphone 'virtual_mic' stopped")
    assert t.state is S.READY and t.selected_mic is None
    await still_talks(t)
    await echo_server.send_audio((np.ones(2400) * 3000).astype(np.int16), "after")
    await wait_for(lambda: log.of_type("bot-started-speaking"), 2.0, "the speaker to play on")
    await t.update_mic("virtual_mic")  # a mic can be picked again without reconnecting
    await mic_streams(echo_server)
    await t.disconnect()
    await assert_released(before)


@pytest.mark.devices
async def test_switching_to_a_mic_that_refuses_every_format_keeps_the_old_one(
    echo_server: EchoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No virtual device refuses a rate, so PortAudio's answer is substituted for one device."""
    from rtws.media import portaudio
    from rtws.media import sounddevice as backend

    sd = portaudio.sd  # the sounddevice module: patched for every user of it
    real_check = sd.check_input_settings
    refusing = int(sd.query_devices("virtual_speaker_monitor")["index"])

    def check(device: int | None = None, **kw: Any) -> None:
        if device == refusing:
            raise sd.PortAudioError("Invalid sample rate", -9997)
        real_check(device=device, **kw)

    monkeypatch.setattr(sd, "check_input_settings", check)
    t = device_session(
        echo_server, backend.SoundDeviceMediaManager("virtual_mic", "virtual_speaker")
    )
    async with t:
        await mic_streams(echo_server)
        with pytest.raises(backend.DeviceError, match=r"virtual_speaker_monitor.*refuses every"):
            await t.update_mic("virtual_speaker_monitor")
        assert t.selected_mic is not None and t.selected_mic.name == "virtual_mic"
        assert t.state is S.READY
        await mic_streams(echo_server)


@pytest.mark.devices
async def test_a_speaker_callback_that_raises_never_stops_the_session(
    echo_server: EchoServer,
) -> None:
    import numpy.typing as npt

    from rtws.media.sounddevice import SoundDeviceMediaManager

    class BrokenSpeaker(SoundDeviceMediaManager):
        def _pull_output(self, out: npt.NDArray[np.int16]) -> int:
            raise ZeroDivisionError("bug in a backend")

    media = BrokenSpeaker("virtual_mic", "virtual_speaker")
    t = device_session(echo_server, media)
    log = EventLog(t)
    before = ResourceSnapshot.take()
    async with t:
        await echo_server.send_audio((np.ones(4800) * 3000).astype(np.int16), "r")
        await wait_for(lambda: log.of_type("device-error"), 2.0, "the device-error event")
        await mic_streams(echo_server)  # the mic thread is unaffected
        assert media.stats.extra["callback_errors"] >= 5  # the callback kept being called
        assert len(log.of_type("device-error")) == 1  # reported once, not per block
        assert t.state is S.READY
    await assert_released(before)


# ---------------------------------------------------------------- crash loops
class CrashAfterReady(EchoServer):
    """Accepts every session, then fails it at once: a server in a crash loop."""

    async def _handle(self, conn: ServerConnection) -> None:
        self.connections.append(conn)
        async for frame in conn:
            if json.loads(frame).get("type") == "session.start":
                await conn.send(json.dumps({"type": "session.ready"}))
                await asyncio.sleep(0.02)
                await conn.close(1011, "crashed")


async def test_a_server_that_fails_every_resumed_session_is_given_up_on() -> None:
    async with CrashAfterReady() as server:
        t = EchoTransport(make_options(server, reconnect=FAST), silent_media())
        await t.connect()
        try:
            await wait_for(lambda: t.state is S.ERROR, 3.0, "the retries to give up")
            assert len(server.connections) == 1 + FAST.max_attempts
        finally:
            await t.disconnect()


# ---------------------------------------------------------------- held mic audio
class SendFailsOnceAfterResume(EchoTransport):
    """The first mic send after a reconnect fails, as when the new socket dies under the backlog."""

    fail_next = False

    async def handle_user_audio_stream(self, chunk: AudioChunk) -> None:
        if self.fail_next:
            self.fail_next = False
            raise ConnectionLost("echo: the socket died while sending")
        await super().handle_user_audio_stream(chunk)


async def test_held_mic_audio_stays_in_order_when_a_send_fails_after_the_resume(
    echo_server: EchoServer,
) -> None:
    media = speaking_mic(seconds=2)
    t = SendFailsOnceAfterResume(make_options(echo_server, reconnect=FAST), media)
    t.on("reconnected", lambda _: setattr(t, "fail_next", True))
    await t.connect()
    await asyncio.sleep(0.3)
    echo_server.handshake_delay = 0.2  # chunks are held meanwhile
    await echo_server.close_all(1011)
    await media.wait_input_done()
    await asyncio.sleep(0.2)
    await t.disconnect()
    every_mic_chunk_sent_once_or_counted(t, media, echo_server)


async def test_a_reply_that_hits_the_closing_socket_is_not_a_malformed_message(
    echo_server: EchoServer,
) -> None:
    t = EchoTransport(make_options(echo_server, reconnect=FAST), silent_media())
    log = EventLog(t)
    await t.connect()
    await echo_server.send_audio((np.ones(24000) * 3000).astype(np.int16), "long")
    await wait_for(lambda: log.of_type("bot-started-speaking"), 2.0, "the bot to speak")
    await echo_server.send({"type": "speech.started"})  # the client answers with a truncate...
    await echo_server.close_all(1011, "restarting")  # ...into a socket that is closing
    await wait_for(lambda: log.of_type("reconnected"), 3.0, "a reconnect")
    await t.disconnect()
    assert t.stats.malformed_messages == 0
    assert not [e for e, _ in errors(log) if e.startswith("could not handle")]
