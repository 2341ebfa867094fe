"""Provider API v2 end to end: session tasks, keepalives, owned connections, rates from options.

Each test runs a real session of the binary-PCM test provider against its
server over a real websocket, with file media.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np
import pytest

from rtws import AudioChunk, FileMediaManager, ReconnectPolicy, TransportState, rtvi
from rtws.testing import EventLog, wait_for
from tests.pcm_provider import OwnSocketPcmTransport, PcmOptions, PcmServer, PcmTransport

S = TransportState


def options(server: PcmServer, **kw: Any) -> PcmOptions:
    base: dict[str, Any] = {"url": server.url, "api_key": server.api_key, "connect_timeout": 3.0}
    return PcmOptions.model_validate({**base, **kw})


def media() -> FileMediaManager:
    return FileMediaManager(None, input_rate=48000, output_rate=48000, realtime=False)


async def test_a_session_task_that_crashes_fails_the_session_loudly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Crashes(PcmTransport):
        async def connect_llm(self) -> None:
            await super().connect_llm()

            async def broken() -> None:
                await asyncio.sleep(0.05)
                raise RuntimeError("the provider's reader choked")

            self.spawn(broken(), "reader")

    async with PcmServer() as server:
        transport = Crashes(options(server), media())
        log = EventLog(transport)
        await transport.connect()
        await wait_for(lambda: transport.state is S.ERROR, 3.0, "the error state")
        await transport.disconnect()
    [error] = log.of_type("error")
    assert isinstance(error, rtvi.Error) and error.data.fatal
    assert "rtws-pcm-reader failed: the provider's reader choked" in error.data.error
    # Logged once, with its traceback (redacted into exc_text by rtws' log filter).
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(logged) == 1 and "rtws-pcm-reader failed" in logged[0].getMessage()
    assert "RuntimeError: the provider's reader choked" in (logged[0].exc_text or "")


async def test_a_mic_hook_that_raises_a_bug_fails_the_session_loudly() -> None:
    class BadMic(PcmTransport):
        async def handle_user_audio_stream(self, chunk: AudioChunk) -> None:
            raise ValueError("a bug in the mic hook")

    async with PcmServer() as server:
        m = media()
        transport = BadMic(options(server), m)
        log = EventLog(transport)
        await transport.connect()
        m.feed(np.ones(4800, np.int16))
        await wait_for(lambda: transport.state is S.ERROR, 3.0, "the error state")
        await transport.disconnect()
    assert any(
        "mic-pump failed: a bug in the mic hook" in e.data.error for e in log.of_type("error")
    )


async def test_the_keepalive_beats_while_the_session_lasts_and_stops_with_it() -> None:
    async with PcmServer() as server:
        transport = PcmTransport(options(server, keepalive_s=0.05), media())
        await transport.connect()
        await wait_for(lambda: server.pings >= 3, 3.0, "three keepalives")
        await transport.disconnect()
        pings = server.pings
        await asyncio.sleep(0.2)
        assert server.pings == pings  # none after the session ended
    with pytest.raises(ValueError, match="positive"):
        transport.keepalive(0, lambda: asyncio.sleep(0))


async def test_an_owned_connection_reconnects_and_keeps_the_mic_flowing() -> None:
    policy = ReconnectPolicy(max_attempts=3, initial_delay=0.05, max_delay=0.1, jitter=0.0)
    async with PcmServer() as server:
        m = media()
        transport = OwnSocketPcmTransport(options(server, reconnect=policy), m)
        log = EventLog(transport)
        await transport.connect()
        m.feed(np.ones(4800, np.int16) * 1000)  # 0.1 s at 48 kHz → 0.1 s at 16 kHz
        await wait_for(lambda: len(server.audio_in) >= 2 * 1280, 3.0, "mic audio")
        await server.connections[-1].close(1011, "server restart")
        await wait_for(lambda: log.of_type("reconnected"), 3.0, "the reconnect")
        before = len(server.audio_in)
        m.feed(np.ones(4800, np.int16) * 1000)
        await wait_for(lambda: len(server.audio_in) > before, 3.0, "mic audio after it")
        sock = transport._sock  # pyright: ignore[reportPrivateUsage]
        await transport.disconnect()
    assert sock is not None and sock.close_code is not None  # disconnect_llm closed it
    assert transport._sock is None  # pyright: ignore[reportPrivateUsage]
    assert len(server.connections) == 2 and transport.stats.chunks_sent > 0


async def test_sample_rates_come_from_options_and_user_speaking_is_public() -> None:
    # --8<-- [start:rates]
    class RateOptions(PcmOptions):
        rate: int = 24000

    class Configurable(PcmTransport):
        options_class = RateOptions

        def __init__(self, opts: RateOptions, media: Any = None) -> None:
            super().__init__(opts, media)
            self.input_sample_rate = opts.rate  # a plain attribute: no type: ignore

    # --8<-- [end:rates]

    async with PcmServer() as server:
        transport = Configurable(RateOptions(**options(server).model_dump(), rate=8000), media())
        assert transport.media_format().input_sample_rate == 8000
        assert PcmTransport.input_sample_rate == 16000  # the class default is untouched
        await transport.connect()
        assert not transport.is_user_speaking
        await server.send({"type": "user_speaking"})
        await wait_for(lambda: transport.is_user_speaking, 3.0, "is_user_speaking")
        await transport.disconnect()


async def test_a_dispatch_table_and_ignored_message_types() -> None:
    """``on_llm_messages`` registers a whole table; an ignored type is expected: it is
    neither counted as unknown nor reported, while a truly unknown one still is counted."""

    class Tabled(PcmTransport):
        async def attach_llm_listeners(self) -> None:
            await super().attach_llm_listeners()
            self.on_llm_messages({"user_quiet": lambda m: self.user_stopped_speaking()})
            self.ignore_llm_messages(["heartbeat", "rate_limits"])

    async with PcmServer() as server:
        transport = Tabled(options(server), media())
        log = EventLog(transport)
        await transport.connect()
        for kind in ("user_speaking", "heartbeat", "rate_limits", "mystery", "user_quiet"):
            await server.send({"type": kind})
        await wait_for(lambda: log.of_type("user-stopped-speaking"), 3.0, "user_quiet handled")
        stats = transport.stats
        await transport.disconnect()
    assert stats.unknown_messages == 1  # "mystery" only
    assert not log.of_type("error")
