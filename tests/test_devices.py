"""End to end on the sandbox's virtual sound devices: mic → echo server, server → speaker.

Audio really goes through PortAudio and PulseAudio here: speech is played
into the virtual mic with paplay, and what rtws plays is captured from the
virtual speaker's monitor (parecord, or an in-process :class:`Listener`
when timing matters). Measured latencies are printed (``pytest -s``) and
attached to the test report as properties; nothing asserts on speed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import soxr

from rtws import AudioChunk, rtvi, sandbox
from rtws.audio import read_wav, write_wav
from rtws.media.sounddevice import SoundDeviceMediaManager
from tests.conftest import DATA, make_options, session_tasks
from tests.echo_provider import EchoOptions, EchoServer, EchoTransport
from tests.resources import audio_threads

Int16Array = npt.NDArray[np.int16]
RecordProperty = Any  # pytest's record_property callable


# The root conftest skips these without devices, or fails them when CI requires devices.
pytestmark = pytest.mark.devices


@pytest.fixture(autouse=True)
def no_stream_leaks() -> Iterator[None]:
    """Every test must leave no PortAudio stream and no native or Python thread behind.

    The devices are shared by the whole machine: the lock keeps concurrent test
    runs from hearing each other.
    """
    with sandbox.lock_devices():
        native, python = audio_threads(), {t.ident for t in threading.enumerate()}
        yield
        assert SoundDeviceMediaManager.live_stream_count() == 0, "PortAudio streams leaked"
        for _ in range(500):  # PortAudio's threads may take a moment to end on a busy machine
            extra = [t for t in threading.enumerate() if t.ident not in python and t.is_alive()]
            if audio_threads() <= native and not extra:
                return
            time.sleep(0.01)
        raise AssertionError(
            f"threads leaked: native {native} -> {audio_threads()}, python {extra}"
        )


class TimedEcho(EchoTransport):
    """The echo provider, timing each chunk from capture to the provider hook."""

    def __init__(self, options: EchoOptions, media: Any = None) -> None:
        super().__init__(options, media)
        self.hook_delays: list[float] = []

    async def handle_user_audio_stream(self, chunk: AudioChunk) -> None:
        self.hook_delays.append(time.perf_counter() - chunk.captured_at)
        await super().handle_user_audio_stream(chunk)


@pytest.fixture
async def open_session(echo_server: EchoServer) -> AsyncIterator[Any]:
    transports: list[TimedEcho] = []

    async def opener(echo_cancellation: bool | None = None, **media_options: Any) -> TimedEcho:
        media_options.setdefault("input_device", "virtual_mic")
        media_options.setdefault("output_device", "virtual_speaker")
        transport = TimedEcho(
            make_options(echo_server, echo_cancellation=echo_cancellation),
            media=SoundDeviceMediaManager(**media_options),
        )
        transports.append(transport)
        await transport.connect()
        return transport

    yield opener
    for transport in transports:
        await transport.disconnect()


# ---------------------------------------------------------------- analysis helpers
def tone(freq: float, seconds: float, rate: int = 24000, amplitude: float = 0.3) -> Int16Array:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def rms(pcm: Int16Array | bytes | bytearray) -> float:
    samples = np.frombuffer(pcm, dtype=np.int16) if isinstance(pcm, bytes | bytearray) else pcm
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0


def peak_hz(audio: Int16Array, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio.astype(np.float64)))
    return float(np.argmax(spectrum) * rate / len(audio))


def tone_windows(
    audio: Int16Array, rate: int, freq: float, window_ms: float = 5.0
) -> npt.NDArray[np.float64]:
    """Amplitude (full scale = 1) of ``freq`` in consecutive windows: other sounds barely count."""
    n = round(rate * window_ms / 1000)
    frames = len(audio) // n
    if frames == 0:
        return np.zeros(0)
    x = audio[: frames * n].astype(np.float64) / 32768.0
    phasor = np.exp(-2j * np.pi * freq * np.arange(frames * n) / rate)
    return 2 * np.abs((x * phasor).reshape(frames, n).sum(axis=1)) / n


def tone_span(
    ear: sandbox.Listener, freq: float, threshold: float = 0.1, window_ms: float = 5.0
) -> tuple[float, float, float]:
    """(first, last) perf_counter times ``freq`` was heard and its total audible seconds."""
    audio, times = ear.audio(), ear.sample_times()
    amps = tone_windows(audio, ear.rate, freq, window_ms)
    n = round(ear.rate * window_ms / 1000)
    active = np.flatnonzero(amps > threshold)
    if not len(active):
        return (float("nan"), float("nan"), 0.0)
    window_end = times[(active + 1) * n - 1]
    return float(window_end[0]), float(window_end[-1]), len(active) * window_ms / 1000


async def wait_for_tone(ear: sandbox.Listener, freq: float, timeout: float = 3.0) -> float:
    async with asyncio.timeout(timeout):
        while True:
            first, _, _ = tone_span(ear, freq)
            if not np.isnan(first):
                return first
            await asyncio.sleep(0.01)


def report(
    record_property: RecordProperty, name: str, value: float, unit: str = "ms", digits: int = 1
) -> None:
    record_property(name, round(value, digits))
    print(f"\n[measured] {name} = {value:.{digits}f} {unit}")


def speech_clip(tmp_path: Path, seconds: float) -> Path:
    pcm, rate = read_wav(DATA / "speech_24k.wav")
    path = tmp_path / f"speech_{seconds}s.wav"
    write_wav(path, pcm[: round(seconds * rate)], rate)
    return path


# ---------------------------------------------------------------- mic → server
async def test_speech_into_the_virtual_mic_reaches_the_server(
    open_session: Any,
    echo_server: EchoServer,
    record_property: RecordProperty,
) -> None:
    speech_24k, _ = read_wav(DATA / "speech_24k.wav")
    speech_16k: Int16Array = soxr.resample(speech_24k, 24000, 16000)
    transport: TimedEcho = await open_session()
    start = len(echo_server.audio_in)
    await sandbox.afeed(DATA / "speech_24k.wav")
    await asyncio.sleep(0.3)
    received = np.frombuffer(bytes(echo_server.audio_in[start:]), dtype=np.int16)
    assert len(received) > len(speech_16k)
    # Where the speech sits in what arrived, and how alike the two are (1 = identical).
    ref = speech_16k.astype(np.float64)
    got = received.astype(np.float64)
    size = 1 << (len(got) + len(ref)).bit_length()
    xcorr = np.fft.irfft(np.fft.rfft(got, size) * np.conj(np.fft.rfft(ref, size)), size)
    lag = int(np.argmax(xcorr[: len(got) - len(ref) + 1]))
    segment = got[lag : lag + len(ref)]
    similarity = float(ref @ segment / (np.linalg.norm(ref) * np.linalg.norm(segment)))
    assert similarity > 0.9, f"speech arrived distorted (similarity {similarity:.2f})"
    assert 0.5 < rms(received[lag : lag + len(ref)]) / rms(speech_16k) < 2.0
    delays = np.array(transport.hook_delays) * 1000
    report(record_property, "speech_similarity", similarity, "(1 = identical)", digits=4)
    report(record_property, "mic_to_hook_ms_median", float(np.median(delays)))
    report(record_property, "mic_to_hook_ms_p95", float(np.percentile(delays, 95)))
    report(record_property, "mic_to_hook_ms_max", float(delays.max()))


async def test_a_muted_mic_sends_only_silence(
    open_session: Any, echo_server: EchoServer, tmp_path: Path
) -> None:
    clip = speech_clip(tmp_path, 1.0)
    transport: TimedEcho = await open_session()
    transport.enable_mic(False)
    assert not transport.is_mic_enabled
    await asyncio.sleep(0.1)  # chunks already on their way land first
    start = len(echo_server.audio_in)
    await sandbox.afeed(clip)
    await asyncio.sleep(0.2)
    muted = bytes(echo_server.audio_in[start:])
    assert rms(muted) < 50, "muted speech reached the server"
    transport.enable_mic(True)
    start = len(echo_server.audio_in)
    await sandbox.afeed(clip)
    await asyncio.sleep(0.2)
    assert rms(bytes(echo_server.audio_in[start:])) > 500, "unmuting did not bring speech back"


async def test_switching_the_mic_mid_session(open_session: Any, echo_server: EchoServer) -> None:
    # The new mic is the speaker's own monitor: pure echo, which the canceller would
    # (rightly) remove. This test is about the switch, so it runs without it.
    transport: TimedEcho = await open_session(echo_cancellation=False)
    updates: list[rtvi.RTVIMessage] = []
    transport.on("mic-updated", updates.append)
    await asyncio.sleep(0.2)
    await echo_server.send_audio(tone(1000, 1.2), "bot")  # the bot talks on the speaker
    await asyncio.sleep(0.3)
    before = len(echo_server.audio_in)
    assert rms(bytes(echo_server.audio_in)) < 50  # the virtual mic hears nothing of it
    await transport.update_mic("virtual_speaker_monitor")  # now the mic hears the speaker
    await asyncio.sleep(0.6)
    after = np.frombuffer(bytes(echo_server.audio_in[before:]), dtype=np.int16)
    assert rms(after) > 1000 and abs(peak_hz(after, 16000) - 1000) < 5
    assert transport.selected_mic is not None
    assert transport.selected_mic.name == "virtual_speaker_monitor"
    assert len(updates) == 1


# ---------------------------------------------------------------- server → speaker
async def test_server_audio_comes_out_of_the_virtual_speaker(
    open_session: Any, echo_server: EchoServer, tmp_path: Path, record_property: RecordProperty
) -> None:
    await open_session()
    async with sandbox.arecord(tmp_path / "played.wav", 24000) as recording:
        with sandbox.Listener(sandbox.SD_SPEAKER_MONITOR) as ear:
            sent_at = time.perf_counter()
            await echo_server.send_audio(tone(1000, 1.0), "tone")
            await wait_for_tone(ear, 1000)
            await asyncio.sleep(1.2)
    played = recording.audio()
    assert abs(peak_hz(played, 24000) - 1000) < 3
    amps = tone_windows(played, 24000, 1000, window_ms=10)
    audible = float(np.sum(amps > 0.1)) * 0.010
    assert 0.95 <= audible <= 1.05, f"{audible:.3f} s of a 1 s tone was played"
    first, _, _ = tone_span(ear, 1000)
    report(record_property, "server_send_to_speaker_monitor_ms", (first - sent_at) * 1000)


async def test_baseline_device_latency_without_rtws(record_property: RecordProperty) -> None:
    """The same path with a bare PortAudio stream, to tell rtws's share from the devices'."""
    import sounddevice as sd

    rate, block = 44100, 882  # what rtws opens the virtual speaker with: its rate, 20 ms
    burst = tone(1000, 0.3, rate)
    state: dict[str, Any] = {"calls": 0, "pos": -1, "written_at": 0.0}

    def callback(outdata: Int16Array, frames: int, time_info: Any, status: Any) -> None:
        state["calls"] += 1
        outdata.fill(0)
        if state["calls"] == 15 and state["pos"] < 0:  # ~300 ms in: steady state
            state["pos"], state["written_at"] = 0, time.perf_counter()
        pos = state["pos"]
        if 0 <= pos < len(burst):
            piece = burst[pos : pos + frames]
            outdata[: len(piece), 0] = piece
            state["pos"] = pos + frames

    with sandbox.Listener(sandbox.SD_SPEAKER_MONITOR) as ear:
        stream = sd.OutputStream(
            device="virtual_speaker", samplerate=rate, channels=1, dtype="int16",
            blocksize=block, latency="low", callback=callback,
        )  # fmt: skip
        with stream:
            first = await wait_for_tone(ear, 1000)
    report(
        record_property, "bare_portaudio_write_to_monitor_ms", (first - state["written_at"]) * 1000
    )


async def test_interruption_silences_the_speaker(
    open_session: Any, echo_server: EchoServer, record_property: RecordProperty
) -> None:
    transport: TimedEcho = await open_session()
    flushed_at: list[float] = []
    transport.on("user-started-speaking", lambda _: flushed_at.append(time.perf_counter()))
    with sandbox.Listener(sandbox.SD_SPEAKER_MONITOR) as ear:
        await echo_server.send_audio(tone(900, 3.0), "long-reply")
        await wait_for_tone(ear, 900)
        await asyncio.sleep(0.5)
        await echo_server.send({"type": "speech.started"})  # the user barges in
        async with asyncio.timeout(2):
            while not flushed_at:
                await asyncio.sleep(0.005)
        await asyncio.sleep(0.5)
    _, last, audible = tone_span(ear, 900)
    silent_after = (last - flushed_at[0]) * 1000
    assert audible < 1.5, "the 3 s reply kept playing after the flush"
    assert silent_after < 300, f"still audible {silent_after:.0f} ms after the flush"
    # What the provider was told was heard matches what came out of the speaker.
    truncate = transport.truncations[0]
    assert truncate["item_id"] == "long-reply"
    assert abs(truncate["audio_end_ms"] - audible * 1000) < 100
    report(record_property, "flush_to_silence_on_monitor_ms", silent_after)
    report(record_property, "truncate_minus_heard_ms", truncate["audio_end_ms"] - audible * 1000)


async def test_switching_the_speaker_moves_the_sound(
    open_session: Any, echo_server: EchoServer, record_property: RecordProperty
) -> None:
    transport: TimedEcho = await open_session(input_enabled=False)
    updates: list[rtvi.RTVIMessage] = []
    transport.on("speaker-updated", updates.append)
    with (
        sandbox.Listener(sandbox.SD_SPEAKER_MONITOR) as speaker,
        sandbox.Listener(sandbox.SD_MIC) as mic,  # what virtual_mic_src plays
    ):
        await echo_server.send_audio(tone(800, 2.0), "reply")
        await wait_for_tone(speaker, 800)
        await asyncio.sleep(0.6)
        switched_at = time.perf_counter()
        await transport.update_speaker("virtual_mic_src")
        switch_ms = (time.perf_counter() - switched_at) * 1000
        await asyncio.sleep(1.9)
    _, speaker_last, on_speaker = tone_span(speaker, 800)
    mic_first, _, on_mic = tone_span(mic, 800)
    assert on_speaker > 0.5 and on_mic > 0.5, (on_speaker, on_mic)
    assert speaker_last < switched_at + 0.2, "the old speaker kept playing"
    assert mic_first > switched_at - 0.05, "the new device played before the switch"
    # Nothing lost or doubled across the switch, give or take a block or two.
    assert abs(on_speaker + on_mic - 2.0) < 0.06, (on_speaker, on_mic)
    assert transport.selected_speaker is not None
    assert transport.selected_speaker.name == "virtual_mic_src"
    assert len(updates) == 1
    report(record_property, "speaker_switch_call_ms", switch_ms)
    report(record_property, "speaker_switch_heard_gap_ms", (mic_first - speaker_last) * 1000)
    report(record_property, "speaker_switch_audio_lost_ms", (2.0 - on_speaker - on_mic) * 1000)


# ---------------------------------------------------------------- failures and cleanup
async def test_a_lost_speaker_is_a_device_error_and_the_session_goes_on(
    open_session: Any, echo_server: EchoServer
) -> None:
    transport: TimedEcho = await open_session()
    errors: list[rtvi.RTVIMessage] = []
    transport.on("device-error", errors.append)
    await asyncio.sleep(0.2)
    assert sandbox.unplug("output") == 1
    async with asyncio.timeout(3):
        while not errors:
            await asyncio.sleep(0.01)
    assert isinstance(errors[0], rtvi.DeviceErrorEvent)
    assert "speaker 'virtual_speaker' stopped" in errors[0].data.message
    assert transport.state.value == "ready"
    before = len(echo_server.audio_in)
    await asyncio.sleep(0.3)
    assert len(echo_server.audio_in) > before  # the mic still streams
    await transport.update_speaker("virtual_speaker")  # and a speaker can be picked again
    media = transport.media
    assert isinstance(media, SoundDeviceMediaManager) and media.open_stream_count == 2


async def test_disconnect_releases_every_stream_task_and_thread(
    echo_server: EchoServer, tmp_path: Path
) -> None:
    native = audio_threads()
    media = SoundDeviceMediaManager("virtual_mic", "virtual_speaker")
    transport = EchoTransport(make_options(echo_server), media=media)
    for _ in range(2):  # a transport is reusable
        await transport.connect()
        assert media.open_stream_count == 2
        assert audio_threads() > native  # PortAudio's threads are running
        await echo_server.send_audio(tone(500, 0.3), "x")
        await transport.update_speaker("virtual_mic_src")
        await asyncio.sleep(0.2)
        await transport.disconnect()
        assert media.open_stream_count == 0
        assert SoundDeviceMediaManager.live_stream_count() == 0
        assert session_tasks() == []
        async with asyncio.timeout(2):
            while audio_threads() > native:
                await asyncio.sleep(0.01)
