"""End to end on the sandbox's virtual sound devices, against the fake GA server.

Speech is played into ``virtual_mic`` (paplay into ``virtual_mic_src``) and
what the bot says is captured from ``virtual_speaker_monitor`` in process
(:class:`rtws.sandbox.Listener`), so the audio really goes through PortAudio
and PulseAudio. Measurements are printed (``pytest -s``) and attached to the
report as properties; nothing asserts on speed, only on amounts of audio.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from rtws_openai import OpenAIRealtimeTransport
from rtws_openai.testing import FakeRealtimeServer, Reply, ScriptedBot

from providers.openai.tests.support import RATE, SPEECH_WAV, EventLog
from rtws import sandbox
from rtws.audio import read_wav, write_wav
from rtws.media.sounddevice import SoundDeviceMediaManager

Int16Array = npt.NDArray[np.int16]
RecordProperty = Callable[[str, object], None]
#: Not a frequency other device tests play, in case they share the sandbox at the same time.
TONE_HZ = 1370.0
#: One device block (20 ms), the tolerance the issue sets for the truncate position.
BLOCK_MS = 20.0
#: The analysis window of the monitor recording adds up to this much uncertainty.
WINDOW_MS = 5.0


# The root conftest skips these without devices, or fails them when CI requires devices.
pytestmark = pytest.mark.devices


@pytest.fixture(autouse=True)
def no_stream_leaks() -> Iterator[None]:
    python = {t.ident for t in threading.enumerate()}
    yield
    assert SoundDeviceMediaManager.live_stream_count() == 0, "PortAudio streams leaked"
    for _ in range(100):
        if not [t for t in threading.enumerate() if t.ident not in python and t.is_alive()]:
            return
        time.sleep(0.01)
    raise AssertionError("Python threads leaked")


def tone(seconds: float, amplitude: float = 0.3) -> Int16Array:
    t = np.arange(round(seconds * RATE)) / RATE
    return (amplitude * 32767 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.int16)


def tone_windows(ear: sandbox.Listener) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Per 5 ms window of the monitor: is the tone audible, and when did the window end."""
    audio, times = ear.audio(), ear.sample_times()
    n = round(ear.rate * WINDOW_MS / 1000)
    frames = len(audio) // n
    x = audio[: frames * n].astype(np.float64) / 32768.0
    phasor = np.exp(-2j * np.pi * TONE_HZ * np.arange(frames * n) / ear.rate)
    amplitude = 2 * np.abs((x * phasor).reshape(frames, n).sum(axis=1)) / n
    return amplitude > 0.1, times[(np.arange(frames) + 1) * n - 1]


@asynccontextmanager
async def speaker_monitor() -> AsyncIterator[sandbox.Listener]:
    """What the virtual speaker plays, captured in process from its monitor.

    Entered once the capture really runs (PulseAudio starts a stream lazily) and
    emptied of what it caught so far: a monitor may first deliver older audio.
    """
    with sandbox.Listener(sandbox.SD_SPEAKER_MONITOR) as ear:
        async with asyncio.timeout(5):
            while len(ear.audio()) < 0.2 * ear.rate:
                await asyncio.sleep(0.01)
        ear.clear()
        yield ear


async def heard(ear: sandbox.Listener, timeout: float = 5.0) -> float:
    """Wait for the tone on the monitor; when it was first heard."""
    async with asyncio.timeout(timeout):
        while True:
            audible, ends = tone_windows(ear)
            if audible.any():
                return float(ends[np.flatnonzero(audible)[0]])
            await asyncio.sleep(0.01)


def report(record_property: RecordProperty, name: str, value: float) -> None:
    record_property(name, round(value, 1))
    print(f"\n[measured] {name} = {value:.1f} ms")


async def test_spoken_wav_on_devices_gives_a_transcript_and_a_reply_on_the_speaker(
    openai_fake: FakeRealtimeServer,
    device_session: Callable[[], OpenAIRealtimeTransport],
    record_property: RecordProperty,
) -> None:
    openai_fake.bot = ScriptedBot(
        [Reply.say("I hear you.", audio=tone(0.8))], transcripts=["hello from the mic"]
    )
    transport = device_session()
    log = EventLog(transport)
    stopped_at = log.clock("user-stopped-speaking")
    await transport.connect()
    async with speaker_monitor() as ear:
        async with asyncio.timeout(10):
            await sandbox.afeed(SPEECH_WAV)
        final = await log.wait("user-transcription", where=lambda d: d["final"], timeout=5)
        first = await heard(ear)
        await log.wait("bot-stopped-speaking", timeout=5)
        await asyncio.sleep(0.2)
    audible, _ = tone_windows(ear)
    assert final.to_dict()["data"]["text"] == "hello from the mic"
    vad = [
        (e["type"].rsplit(".", 1)[-1], e.get("audio_start_ms", e.get("audio_end_ms")))
        for e in openai_fake.sent
        if e["type"].startswith("input_audio_buffer.speech")
    ]
    assert audible.sum() * WINDOW_MS == pytest.approx(800, abs=2 * BLOCK_MS), (
        f"reply cut short; speech seen by the server: {vad}, events: {log.types()}"
    )
    speech_seconds = len(read_wav(SPEECH_WAV)[0]) / RATE
    assert len(openai_fake.audio_in) / 2 / RATE >= speech_seconds  # the mic reached the server
    report(record_property, "openai_speech_end_to_speaker_ms", (first - stopped_at[0]) * 1000)


async def test_barge_in_on_devices_silences_the_speaker_and_truncates_what_was_heard(
    openai_fake: FakeRealtimeServer,
    device_session: Callable[[], OpenAIRealtimeTransport],
    record_property: RecordProperty,
    tmp_path: Path,
) -> None:
    openai_fake.pace = 1.0
    openai_fake.bot = ScriptedBot([Reply.say("A long story.", audio=tone(4.0))])
    clip = tmp_path / "barge_in.wav"
    write_wav(clip, read_wav(SPEECH_WAV)[0][: RATE // 2], RATE)
    transport = device_session()
    log = EventLog(transport)
    # Emitted right after the flush that cut the bot off (not any earlier speech_started).
    flushed_at = log.clock("bot-interrupted")
    await transport.connect()
    async with speaker_monitor() as ear:
        await transport.send_text("Tell me a story.")
        await heard(ear)
        await asyncio.sleep(0.8)
        async with asyncio.timeout(10):
            await sandbox.afeed(clip)  # the user talks over the bot
        try:
            truncate = await openai_fake.wait_received("conversation.item.truncate", timeout_s=10)
        except TimeoutError:
            kinds = ("speech_started", "speech_stopped", "response.created", "response.done")
            vad = [e["type"] for e in openai_fake.sent if e["type"].endswith(kinds)]
            raise AssertionError(
                f"no barge-in: the server saw {vad[-12:]} (are other tests using the sandbox?)"
            ) from None
        await asyncio.sleep(0.5)
    audible, ends = tone_windows(ear)
    heard_ms = audible.sum() * WINDOW_MS
    last = float(ends[np.flatnonzero(audible)[-1]])
    silent_after_ms = (last - flushed_at[0]) * 1000
    error_ms = truncate["audio_end_ms"] - heard_ms
    report(record_property, "openai_flush_to_silence_on_monitor_ms", silent_after_ms)
    report(record_property, "openai_truncate_minus_heard_ms", error_ms)
    assert heard_ms < 3000, "the reply kept playing after the barge-in"
    assert abs(error_ms) <= BLOCK_MS + WINDOW_MS, (
        f"truncate says {truncate['audio_end_ms']} ms, the speaker played {heard_ms:.0f} ms"
    )
    assert len(flushed_at) == 1
