"""The session monitor: level events and the end of the bot's turn, on timers armed when due."""

from __future__ import annotations

import asyncio
import time

from rtws import FileMediaManager
from tests.conftest import make_options
from tests.echo_provider import EchoServer, EchoTransport
from tests.test_media_flow import tone, wait_for


def _armed(t: EchoTransport) -> bool:
    return t._monitor.armed  # pyright: ignore[reportPrivateUsage]


def _session(server: EchoServer, silence_ms: float) -> tuple[FileMediaManager, EchoTransport]:
    """A real-time file device at the provider's rate; the turn ends after ``silence_ms``."""
    media = FileMediaManager(None, input_rate=16000, output_rate=24000, realtime=True)
    return media, EchoTransport(make_options(server, bot_stopped_after_ms=silence_ms), media)


async def test_quiet_sessions_arm_no_timer_and_the_turn_ends_after_the_silence(
    echo_server: EchoServer,
) -> None:
    media, t = _session(echo_server, 200)
    stopped_at: list[float] = []
    t.on("bot-stopped-speaking", lambda m: stopped_at.append(time.monotonic()))
    async with t:
        await asyncio.sleep(0.1)
        assert not _armed(t)  # the bot is quiet and nobody reads levels: no wake-ups
        await echo_server.send_audio(tone(0.3), "item-1")
        await wait_for(lambda: t.is_bot_speaking)
        assert _armed(t)
        await wait_for(lambda: bool(stopped_at))
        idle = media.bot_audio_idle_since
        # Never early: the event waits for bot_stopped_after_ms of real silence.
        assert idle is not None and stopped_at[0] - idle >= 0.2
        assert not _armed(t)

        levels: list[float] = []
        unsubscribe = t.on("user-audio-level", lambda m: levels.append(m.data.value))  # type: ignore[union-attr]
        assert _armed(t)
        await wait_for(lambda: len(levels) >= 2)
        unsubscribe()
        await asyncio.sleep(0.15)  # the tick already pending finds nothing left to do
        assert not _armed(t)
    assert len(stopped_at) == 1


async def test_a_gap_shorter_than_the_silence_does_not_end_the_turn(
    echo_server: EchoServer,
) -> None:
    media, t = _session(echo_server, 300)
    events: list[str] = []
    t.on("bot-started-speaking", lambda m: events.append(m.type))
    t.on("bot-stopped-speaking", lambda m: events.append(m.type))
    async with t:
        await echo_server.send_audio(tone(0.2), "item-1")
        await wait_for(lambda: media.output_samples > 0 and media.bot_audio_idle_since is not None)
        # The speaker ran dry (a slow network, a pause in the reply); more audio
        # comes within the silence bound, so the turn goes on.
        await asyncio.sleep(0.1)
        await echo_server.send_audio(tone(0.2), "item-1")
        await wait_for(lambda: len(events) == 2, timeout=5.0)
        assert media.played_ms("item-1") >= 390
    assert events == ["bot-started-speaking", "bot-stopped-speaking"]
