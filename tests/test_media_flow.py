"""Audio both ways through the echo provider with file media (no sound server needed)."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import soxr

from rtws import FileMediaManager, MediaFormat, TransportState
from rtws.audio import StreamResampler, read_wav
from tests.conftest import DATA, make_options, session_tasks
from tests.echo_provider import EchoServer, EchoTransport

S = TransportState


def tone(seconds: float, rate: int = 24000, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


async def wait_for(cond: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)


async def test_mic_file_reaches_server_resampled_in_fixed_chunks(echo_server: EchoServer) -> None:
    speech, rate = read_wav(DATA / "speech_24k.wav")
    media = FileMediaManager(DATA / "speech_24k.wav", realtime=False, tail_silence_ms=0)
    t = EchoTransport(make_options(echo_server, chunk_ms=20), media)
    async with t:
        await media.wait_input_done()
        await wait_for(lambda: len(echo_server.audio_in) // 2 >= len(speech) * 16000 // rate - 320)
    chunks = echo_server.of_type("audio")
    sizes = {len(__import__("base64").b64decode(c["audio"])) for c in chunks}
    assert sizes == {320 * 2}  # 20 ms at 16 kHz, every chunk
    received = np.frombuffer(bytes(echo_server.audio_in), np.int16)
    expected = soxr.resample(speech, rate, 16000)
    # The same speech, every sample, after the resampler's constant delay (which the
    # pipeline fills with silence so chunks line up with the device's blocks).
    delay = StreamResampler(rate, 16000).delay_samples
    assert 0 < delay < 16000 * 0.016
    assert not received[:delay].any()
    n = min(len(expected), len(received) - delay) - 400
    got, want = received.astype(float), expected[:n].astype(float)
    lag = max(range(delay - 8, delay + 9), key=lambda lag: float(got[lag : lag + n] @ want))
    assert np.corrcoef(got[lag : lag + n], want)[0, 1] > 0.98
    assert t.stats.chunks_sent == len(chunks)


async def test_bot_audio_plays_to_output_at_device_rate(
    echo_server: EchoServer, tmp_path: Any
) -> None:
    out = tmp_path / "out.wav"
    media = FileMediaManager(None, input_rate=16000, output=out, output_rate=48000, realtime=False)
    t = EchoTransport(make_options(echo_server), media)
    speaking: list[str] = []
    t.on("bot-started-speaking", lambda m: speaking.append(m.type))
    t.on("bot-stopped-speaking", lambda m: speaking.append(m.type))
    async with t:
        await echo_server.send_audio(tone(1.0), "item-1")
        await media.wait_output_idle()
        await wait_for(lambda: len(speaking) == 2)
    played = media.output_audio()
    assert media.output_rate == 48000
    loud = np.flatnonzero(np.abs(played) > 1000)
    assert abs(len(played[loud[0] : loud[-1]]) - 48000) < 48000 * 0.01
    # The output is the tone: its spectrum peaks at 440 Hz.
    spectrum = np.abs(np.fft.rfft(played[loud[0] : loud[-1]].astype(float)))
    peak_hz = np.argmax(spectrum) * 48000 / (loud[-1] - loud[0])
    assert abs(peak_hz - 440) < 5
    wav, rate = read_wav(out)
    assert rate == 48000 and len(wav) == len(played)
    assert speaking == ["bot-started-speaking", "bot-stopped-speaking"]


async def test_interruption_silences_within_one_block_and_reports_played_ms(
    echo_server: EchoServer,
) -> None:
    media = FileMediaManager(None, input_rate=16000, output_rate=24000, realtime=True, block_ms=20)
    t = EchoTransport(make_options(echo_server, prebuffer_ms=40), media)
    events: list[str] = []
    for kind in (
        "user-started-speaking",
        "bot-interrupted",
        "bot-stopped-speaking",
        "bot-started-speaking",
    ):
        t.on(kind, lambda m: events.append(m.type))
    async with t:
        await echo_server.send_audio(tone(3.0), "item-7")
        await wait_for(lambda: media.output_samples > 0 and media.played_ms("item-7") >= 600)
        await echo_server.send({"type": "speech.started"})
        await wait_for(lambda: bool(t.truncations))
        await asyncio.sleep(0.3)
    truncate = t.truncations[0]
    assert truncate["item_id"] == "item-7"
    played = media.output_audio()
    heard = np.flatnonzero(np.abs(played) > 100)
    heard_ms = (heard[-1] - heard[0] + 1) / 24
    # What left the output equals what the provider reported, within one block.
    assert abs(heard_ms - truncate["audio_end_ms"]) <= 20, (heard_ms, truncate)
    assert 600 <= truncate["audio_end_ms"] < 1500
    assert events == [
        "bot-started-speaking",
        "user-started-speaking",
        "bot-interrupted",
        "bot-stopped-speaking",
    ]
    assert echo_server.of_type("truncate")[0]["audio_end_ms"] == truncate["audio_end_ms"]


async def test_echo_loopback_bot_and_levels(echo_server: EchoServer) -> None:
    echo_server.echo = True
    speech, _ = read_wav(DATA / "speech_16k.wav")
    media = FileMediaManager(
        speech[: 16000 * 1], input_rate=16000, realtime=True, tail_silence_ms=300
    )
    t = EchoTransport(make_options(echo_server), media)
    user_levels: list[float] = []
    bot_levels: list[float] = []
    t.on("user-audio-level", lambda m: user_levels.append(m.data.value))  # type: ignore[union-attr]
    t.on("bot-audio-level", lambda m: bot_levels.append(m.data.value))  # type: ignore[union-attr]
    async with t:
        await media.wait_input_done()
        await asyncio.sleep(0.3)
    # ~10 level events per second over ~1.5 s, and they saw the speech both ways.
    assert 8 <= len(user_levels) <= 25
    assert max(user_levels) > 0.3 and max(bot_levels) > 0.3
    played = media.output_audio()
    assert np.abs(played).max() > 1000
    assert not session_tasks()


async def test_level_meters_run_only_while_someone_listens(echo_server: EchoServer) -> None:
    """Meters cost CPU on every block: off without a listener, on (and reading) with one."""
    media = FileMediaManager(tone(3.0), input_rate=24000, realtime=True)
    t = EchoTransport(make_options(echo_server), media)
    async with t:
        await asyncio.sleep(0.15)
        pipeline = media._input  # pyright: ignore[reportPrivateUsage]
        assert pipeline is not None and not pipeline.metering
        assert media.read_levels()[0] == 0.0  # nothing was metered
        levels: list[float] = []
        t.on("user-audio-level", lambda m: levels.append(m.data.value))  # type: ignore[union-attr]
        await wait_for(lambda: len(levels) >= 3)
        assert pipeline.metering and max(levels) > 0.5  # the tone, at -6 dBFS
        output = media._output  # pyright: ignore[reportPrivateUsage]
        assert output is not None and not output.metering  # nobody listens to the bot's level
    # The monitor and the file device tick on loop timers: none may outlive the session.
    assert not t._monitor.armed  # pyright: ignore[reportPrivateUsage]
    assert media._clock is None  # pyright: ignore[reportPrivateUsage]


async def test_metrics_time_to_first_audio(echo_server: EchoServer) -> None:
    media = FileMediaManager(None, input_rate=16000, realtime=False)
    t = EchoTransport(make_options(echo_server), media)
    metrics: list[Any] = []
    t.on("metrics", metrics.append)
    async with t:
        await echo_server.send({"type": "speech.stopped"})
        await asyncio.sleep(0.05)
        await echo_server.send_audio(tone(0.2), "item-1")
        await wait_for(lambda: bool(metrics))
    ttfb = metrics[0].data.ttfb[0]
    assert ttfb.processor == "echo" and 0.04 < ttfb.value < 2.0


async def test_mute_sends_silence_in_place_of_the_mic_audio(
    echo_server: EchoServer, speech_16k: np.ndarray
) -> None:
    """Nothing said while muted leaves the machine, but the stream goes on (a browser's
    muted track does the same), so a server's VAD can see a turn end."""
    media = FileMediaManager(speech_16k, input_rate=16000, realtime=False, tail_silence_ms=0)
    t = EchoTransport(make_options(echo_server), media)
    t.enable_mic(False)
    assert not t.is_mic_enabled
    async with t:
        await media.wait_input_done()
        await asyncio.sleep(0.1)
    sent = np.frombuffer(bytes(echo_server.audio_in), np.int16)
    assert len(sent) > len(speech_16k) * 9 // 10  # as long as the speech (less the pre-ready start)
    assert not np.any(sent)
    assert t.stats.chunks_sent > 0


async def test_echo_gate_silences_quiet_mic_audio_while_the_bot_speaks(
    echo_server: EchoServer,
) -> None:
    # The mic hears the bot quietly (echo, -26 dBFS) and then the user loudly (-9 dBFS).
    echo = tone(1.0, 16000, freq=300.0, amp=0.07)
    loud = tone(0.6, 16000, freq=300.0, amp=0.5)
    media = FileMediaManager(
        np.concatenate([echo, loud]), input_rate=16000, realtime=True, tail_silence_ms=100
    )
    t = EchoTransport(make_options(echo_server, echo_gate_level=0.6), media)
    async with t:
        await echo_server.send_audio(tone(3.0), "bot-1")  # the bot talks throughout
        await media.wait_input_done()
    received = np.frombuffer(bytes(echo_server.audio_in), np.int16).astype(float)
    first, last = received[: 16000 * 8 // 10], received[16000 * 11 // 10 : 16000 * 15 // 10]
    assert np.abs(first[3200:]).max() == 0  # the echo never reached the server
    assert np.abs(last).max() > 10000  # the user speaking up did
    assert t.stats.chunks_gated > 20


async def test_late_audio_of_an_interrupted_item_never_plays(echo_server: EchoServer) -> None:
    media = FileMediaManager(None, input_rate=16000, output_rate=24000, realtime=True)
    t = EchoTransport(make_options(echo_server), media)
    async with t:
        await echo_server.send_audio(tone(0.6), "item-1")
        await wait_for(lambda: media.played_ms("item-1") >= 200)
        await echo_server.send({"type": "speech.started"})
        await wait_for(lambda: bool(t.truncations))
        cut_at = media.played_ms("item-1")
        await echo_server.send_audio(tone(0.5), "item-1")  # the server had not heard yet
        await echo_server.send_audio(tone(0.3, freq=880.0), "item-2")  # the next reply plays
        await wait_for(lambda: media.played_ms("item-2") >= 300)
        assert media.played_ms("item-1") == cut_at
    assert t.stats.late_audio_dropped >= 1


async def test_the_mic_hand_off_wakes_on_a_block_and_at_stop() -> None:
    """The pump's wait: one shared future, done at the next block, and done at stop."""
    media = FileMediaManager(tone(1.0, 16000), input_rate=16000, realtime=True)
    await media.start(MediaFormat(16000, 24000, chunk_ms=20))
    waiter = media.mic_wakeup()
    assert media.mic_wakeup() is waiter  # one pending wake-up, shared
    async with asyncio.timeout(2):
        await waiter
    chunks = media.take_mic_chunks()
    assert chunks and chunks[0].seq == 1 and len(chunks[0].pcm) == 320 * 2
    assert media.take_mic_chunks() == []  # taken once
    pending = media.mic_wakeup()
    await media.stop()
    assert pending.done()  # stop wakes the pump, which then finds the media stopped
    assert media.mic_wakeup().done() and await media.next_mic_chunks() == []
