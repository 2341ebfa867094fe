"""SoundDeviceMediaManager on the sandbox's virtual devices (scripts/audio-sandbox).

Enumeration, selection, error messages, rate negotiation, channel mixing,
device loss and leaks, with real PortAudio streams. End-to-end sessions
through a transport are in test_devices.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from rtws import sandbox
from rtws.audio import write_wav
from rtws.errors import DeviceError
from rtws.media.base import AudioChunk, MediaFormat
from rtws.media.sounddevice import SoundDeviceMediaManager
from tests.conftest import DATA, make_options
from tests.echo_provider import EchoServer, EchoTransport
from tests.resources import audio_threads

FORMAT = MediaFormat(input_sample_rate=16000, output_sample_rate=24000)


# The root conftest skips these without devices, or fails them when CI requires devices.
pytestmark = pytest.mark.devices


@pytest.fixture(autouse=True)
def no_stream_leaks() -> Iterator[None]:
    """No PortAudio stream or native thread may outlive a test. The lock keeps
    concurrent test runs on this machine from hearing each other."""
    with sandbox.lock_devices():
        before = audio_threads()
        yield
        assert SoundDeviceMediaManager.live_stream_count() == 0, "PortAudio streams leaked"
        for _ in range(100):
            if audio_threads() <= before:
                return
            time.sleep(0.01)
        raise AssertionError(f"native threads leaked: {before} before, {audio_threads()} after")


@pytest.fixture
async def manager() -> AsyncIterator[SoundDeviceMediaManager]:
    media = SoundDeviceMediaManager("virtual_mic", "virtual_speaker")
    yield media
    await media.stop()


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.3) -> npt.NDArray[np.int16]:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def peak_hz(audio: npt.NDArray[np.int16], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio.astype(np.float64)))
    return float(np.argmax(spectrum) * rate / len(audio))


async def collect(media: SoundDeviceMediaManager, seconds: float) -> list[AudioChunk]:
    chunks: list[AudioChunk] = []

    async def pump() -> None:
        async for chunk in media.mic_chunks():
            chunks.append(chunk)

    task = asyncio.create_task(pump())
    await asyncio.sleep(seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return chunks


# ---------------------------------------------------------------- enumeration
async def test_lists_virtual_mics_and_speakers() -> None:
    media = SoundDeviceMediaManager()
    mics = await media.get_all_mics()
    speakers = await media.get_all_speakers()
    mic_names = {d.name for d in mics}
    speaker_names = {d.name for d in speakers}
    assert {"virtual_mic", "virtual_speaker_monitor"} <= mic_names
    assert {"virtual_speaker", "virtual_mic_src"} <= speaker_names
    # One-directional devices are listed on one side only.
    assert "virtual_speaker" not in mic_names
    assert "virtual_mic" not in speaker_names
    assert all(d.kind == "audioinput" for d in mics)
    assert all(d.kind == "audiooutput" for d in speakers)
    for devices in (mics, speakers):
        assert len({d.id for d in devices}) == len(devices)
        assert sum(d.is_default for d in devices) == 1
        assert all(d.default_sample_rate > 0 and d.max_channels > 0 for d in devices)


async def test_ids_stay_the_same_after_a_rescan() -> None:
    media = SoundDeviceMediaManager()
    before = await media.get_all_speakers()
    SoundDeviceMediaManager.rescan()
    assert await media.get_all_speakers() == before


async def test_rescan_is_refused_while_a_stream_is_open(manager: SoundDeviceMediaManager) -> None:
    await manager.start(FORMAT)
    with pytest.raises(DeviceError, match=r"cannot rescan .* 2 stream\(s\) are open"):
        SoundDeviceMediaManager.rescan()


async def test_defaults_are_selected_when_nothing_is_asked_for() -> None:
    media = SoundDeviceMediaManager()
    await media.initialize()
    assert media.selected_mic is not None and media.selected_mic.is_default
    assert media.selected_speaker is not None and media.selected_speaker.is_default


# ---------------------------------------------------------------- selection
async def test_select_by_id_exact_name_substring_or_index() -> None:
    media = SoundDeviceMediaManager()
    speakers = {d.name: d for d in await media.get_all_speakers()}
    wanted = speakers["virtual_mic_src"]
    assert media.find_device(wanted.id, "audiooutput") == wanted
    assert media.find_device("virtual_mic_src", "audiooutput") == wanted
    assert media.find_device("MIC_SRC", "audiooutput") == wanted  # unique, any case
    assert media.find_device(wanted, "audiooutput") == wanted
    # "virtual_speaker" is also a substring of "virtual_speaker_monitor", but that is
    # a mic: the exact name wins among speakers, the substring is unique among mics.
    assert media.find_device("virtual_speaker", "audiooutput").name == "virtual_speaker"
    assert media.find_device("speaker", "audioinput").name == "virtual_speaker_monitor"
    import sounddevice as sd

    index = int(sd.query_devices("virtual_mic_src")["index"])
    assert media.find_device(index, "audiooutput") == wanted
    assert media.find_device(str(index), "audiooutput") == wanted


async def test_ambiguous_name_lists_the_candidates() -> None:
    media = SoundDeviceMediaManager()
    with pytest.raises(DeviceError, match="matches several speakers") as caught:
        media.find_device("virtual", "audiooutput")
    assert "virtual_speaker@" in str(caught.value) and "virtual_mic_src@" in str(caught.value)


async def test_unknown_device_names_it_and_lists_the_available_ones() -> None:
    media = SoundDeviceMediaManager(input_device="no-such-mic")
    with pytest.raises(DeviceError) as caught:
        await media.initialize()
    message = str(caught.value)
    assert "no microphone matches 'no-such-mic'" in message
    assert "'virtual_mic'" in message and "'virtual_speaker_monitor'" in message
    assert "virtual_mic_src" not in message  # only microphones are offered
    assert caught.value.device_id == "no-such-mic"
    assert caught.value.kind == "audioinput"
    # A speaker asked for as a mic is "unknown" too, with the same list.
    with pytest.raises(DeviceError, match="no microphone matches 'virtual_mic_src'"):
        await SoundDeviceMediaManager(input_device="virtual_mic_src").initialize()


async def test_switching_to_an_unknown_device_keeps_the_current_one(
    manager: SoundDeviceMediaManager,
) -> None:
    await manager.start(FORMAT)
    with pytest.raises(DeviceError, match="no speaker matches 'nope'"):
        await manager.update_speaker("nope")
    assert manager.selected_speaker is not None
    assert manager.selected_speaker.name == "virtual_speaker"
    assert manager.open_stream_count == 2
    assert len(await collect(manager, 0.2)) >= 5  # the mic still streams


async def test_connect_with_an_unknown_mic_fails_cleanly(echo_server: EchoServer) -> None:
    transport = EchoTransport(
        make_options(echo_server), media=SoundDeviceMediaManager(input_device="no-such-mic")
    )
    with pytest.raises(DeviceError, match="no microphone matches 'no-such-mic'"):
        await transport.connect()
    assert transport.state.value in ("error", "disconnected")
    await transport.disconnect()
    assert transport.media.open_stream_count == 0


# ---------------------------------------------------------------- formats
async def test_a_refused_rate_falls_back_to_the_device_rate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    media = SoundDeviceMediaManager(
        "virtual_mic", "virtual_speaker", input_rate=1_000_000, output_rate=1_000_000
    )
    with caplog.at_level(logging.WARNING, logger="rtws.media.sounddevice"):
        await media.start(FORMAT)
    try:
        assert media.selected_mic is not None and media.selected_speaker is not None
        default_in = media.selected_mic.default_sample_rate
        default_out = media.selected_speaker.default_sample_rate
        warnings = " | ".join(r.getMessage() for r in caplog.records)
        fallback = "refuses 1000000 Hz; opening it at its default rate"
        assert f"microphone 'virtual_mic' {fallback} {default_in} Hz" in warnings
        assert f"speaker 'virtual_speaker' {fallback} {default_out} Hz" in warnings
        chunks = await collect(media, 0.3)
        assert chunks and all(c.sample_rate == 16000 and len(c.pcm) == 640 for c in chunks)
    finally:
        await media.stop()


async def test_a_supported_requested_rate_is_used() -> None:
    media = SoundDeviceMediaManager("virtual_mic", "virtual_speaker", input_rate=16000)
    await media.start(FORMAT)
    try:
        assert media._input is not None and media._input.device_rate == 16000
        assert media._output is not None and media.selected_speaker is not None
        assert media._output.device_rate == media.selected_speaker.default_sample_rate
    finally:
        await media.stop()


async def test_stereo_streams_are_mixed_to_and_from_mono(tmp_path: Path) -> None:
    """channels=2 takes the path a stereo-only device takes: downmix in, copy out."""
    media = SoundDeviceMediaManager("virtual_mic", "virtual_speaker", channels=2)
    await media.start(FORMAT)
    try:
        assert media._in is not None and media._in.channels == 2
        assert media._out is not None and media._out.channels == 2
        with sandbox.Listener(sandbox.SD_SPEAKER_MONITOR, rate=24000) as ear:
            media.play(tone(700, 0.6, 24000).tobytes(), "t")
            media.end_of_stream("t")
            write_wav(tmp_path / "tone.wav", tone(400, 0.6, 24000), 24000)
            feeding = asyncio.create_task(sandbox.afeed(tmp_path / "tone.wav"))
            chunks = await collect(media, 1.0)
            await feeding
        played = ear.audio()
        assert abs(peak_hz(played, 24000) - 700) < 5
        heard = np.concatenate([c.samples for c in chunks])
        assert abs(peak_hz(heard, 16000) - 400) < 5
        assert np.abs(heard).max() > 0.2 * 32767  # averaged, not halved or wrapped
    finally:
        await media.stop()


def test_a_device_that_cannot_be_opened_is_named_with_the_alternatives(tmp_path: Path) -> None:
    """A broken ALSA device (PulseAudio sink that does not exist), in a child process:
    ALSA reads ~/.asoundrc, and PortAudio only enumerates once per process."""
    (tmp_path / ".asoundrc").write_text(
        'pcm.rtws_broken { type pulse device "rtws_no_such_sink" '
        'hint { show on description "broken on purpose" } }\n'
    )
    script = textwrap.dedent(
        """
        import asyncio
        from rtws.errors import DeviceError
        from rtws.media.base import MediaFormat
        from rtws.media.sounddevice import SoundDeviceMediaManager

        async def main():
            media = SoundDeviceMediaManager("virtual_mic", "rtws_broken")
            try:
                await media.start(MediaFormat(16000, 24000))
            except DeviceError as exc:
                print("DeviceError:", exc)
            print("streams left:", SoundDeviceMediaManager.live_stream_count())

        asyncio.run(main())
        """
    )
    env = dict(os.environ, HOME=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).parent.parent,
        check=True,
    )
    out = result.stdout
    assert "DeviceError: speaker 'rtws_broken' could not be opened: " in out
    assert "available speakers:" in out and "'virtual_speaker'" in out
    assert "streams left: 0" in out  # the mic opened first was closed again


# ---------------------------------------------------------------- streaming, switching, loss
async def test_switching_mic_and_speaker_while_streaming(
    manager: SoundDeviceMediaManager,
) -> None:
    await manager.start(FORMAT)
    before = manager.stats.input_blocks
    chosen = await manager.update_mic("virtual_speaker_monitor")
    assert chosen.name == "virtual_speaker_monitor" and manager.selected_mic == chosen
    speaker = await manager.update_speaker("virtual_mic_src")
    assert manager.selected_speaker == speaker
    assert manager.open_stream_count == 2  # the old streams are closed
    chunks = await collect(manager, 0.3)
    assert len(chunks) >= 10 and manager.stats.input_blocks > before


def tone_amplitudes(audio: npt.NDArray[np.int16], rate: int, freq: float, window_ms: float) -> Any:
    """Amplitude (full scale = 1) of ``freq`` in consecutive windows: other sounds barely count."""
    n = round(rate * window_ms / 1000)
    windows = audio[: len(audio) // n * n].astype(np.float64).reshape(-1, n) / 32768
    phasor = np.exp(-2j * np.pi * freq * np.arange(n) / rate)
    return 2 * np.abs(windows @ phasor) / n


async def test_switching_the_mic_leaves_no_gap(
    manager: SoundDeviceMediaManager, tmp_path: Path, record_property: Any
) -> None:
    """'default' is the same virtual mic: a steady tone must run on across the switch."""
    write_wav(tmp_path / "tone.wav", tone(523, 1.2, 24000), 24000)
    await manager.start(FORMAT)
    chunks: list[AudioChunk] = []

    async def pump() -> None:
        async for chunk in manager.mic_chunks():
            chunks.append(chunk)

    pumping = asyncio.create_task(pump())
    feeding = asyncio.create_task(sandbox.afeed(tmp_path / "tone.wav"))
    await asyncio.sleep(0.6)
    await manager.update_mic("default")
    await feeding
    await asyncio.sleep(0.2)
    pumping.cancel()
    await asyncio.gather(pumping, return_exceptions=True)
    audio = np.concatenate([c.samples for c in chunks])
    amplitude = tone_amplitudes(audio, 16000, 523, 5)
    on = np.flatnonzero(amplitude > 0.1)
    gap_ms = np.count_nonzero(amplitude[on[0] : on[-1] + 1] < 0.1) * 5
    extra_ms = len(on) * 5 - 1200  # audio heard twice across the switch
    record_property("mic_switch_gap_ms", gap_ms)
    record_property("mic_switch_overlap_ms", extra_ms)
    print(f"\n[measured] mic switch: gap {gap_ms} ms, overlap {extra_ms} ms")
    assert gap_ms <= 20, f"{gap_ms} ms of the tone missing across the switch"
    assert extra_ms <= 60


async def test_a_speaker_at_another_rate_gets_the_queued_audio_resampled(
    manager: SoundDeviceMediaManager, record_property: Any
) -> None:
    """Issue 18 item 14: a switch mid-reply used to drop what was queued for the old rate."""
    await manager.start(FORMAT)
    assert manager.selected_speaker is not None
    old_rate = manager.selected_speaker.default_sample_rate
    with (
        sandbox.Listener(sandbox.SD_SPEAKER_MONITOR) as old_ear,
        sandbox.Listener(sandbox.SD_MIC) as new_ear,  # what virtual_mic_src plays
    ):
        await asyncio.sleep(0.2)
        manager.play(tone(800, 2.0, 24000), "reply")  # all of it queued at once
        manager.end_of_stream("reply")
        await asyncio.sleep(0.6)
        manager.output_rate = 48000 if old_rate != 48000 else 32000
        await manager.update_speaker("virtual_mic_src")
        assert manager.format is not None
        await asyncio.sleep(1.9)
    played_ms = manager.played_ms("reply")
    heard_s = [
        np.count_nonzero(tone_amplitudes(ear.audio(), ear.rate, 800, 5) > 0.1) * 0.005
        for ear in (old_ear, new_ear)
    ]
    record_property("speaker_rate_switch_audio_lost_ms", round((2.0 - sum(heard_s)) * 1000))
    print(f"\n[measured] across a rate switch: heard {heard_s} s of a 2.0 s tone")
    assert heard_s[0] > 0.4 and heard_s[1] > 1.0, heard_s
    assert abs(sum(heard_s) - 2.0) < 0.06, "audio lost (or doubled) across the switch"
    # Played positions carried over, converted to the new rate: truncation stays right.
    assert played_ms == pytest.approx(2000, abs=25)


async def test_callback_errors_are_contained_and_reported_once() -> None:
    class Failing(SoundDeviceMediaManager):
        """A backend bug: the output side raises on every block."""

        def _pull_output(self, out: npt.NDArray[np.int16]) -> int:
            raise ZeroDivisionError("boom")

    media = Failing("virtual_mic", "virtual_speaker")
    errors: list[DeviceError] = []
    media.set_device_error_callback(errors.append)
    await media.start(FORMAT)
    try:
        await asyncio.sleep(0.3)
        assert media.stats.extra["callback_errors"] >= 5  # it kept running
        assert len(errors) == 1
        assert "speaker 'virtual_speaker' audio callback failed: ZeroDivisionError: boom" in str(
            errors[0]
        )
        assert len(await collect(media, 0.2)) >= 5  # the mic is unaffected
    finally:
        await media.stop()


@pytest.mark.parametrize("direction", ["output", "input"])
async def test_a_device_lost_mid_stream_is_reported_and_the_rest_goes_on(
    manager: SoundDeviceMediaManager, direction: str
) -> None:
    errors: list[DeviceError] = []
    manager.set_device_error_callback(errors.append)
    await manager.start(FORMAT)
    await asyncio.sleep(0.2)
    assert sandbox.unplug("output" if direction == "output" else "input") == 1
    async with asyncio.timeout(3):
        while not errors:
            await asyncio.sleep(0.01)
    label = "speaker 'virtual_speaker'" if direction == "output" else "microphone 'virtual_mic'"
    message = str(errors[0])
    assert message.startswith(f"{label} stopped (unplugged or failed)")
    assert "available " in message
    assert manager.open_stream_count == 1
    assert manager.stats.extra["device_losses"] == 1
    if direction == "output":
        assert manager.selected_speaker is None
        assert len(await collect(manager, 0.3)) >= 5  # the mic keeps going
        await manager.update_speaker("virtual_speaker")
    else:
        assert manager.selected_mic is None
        await manager.update_mic("virtual_mic")
        assert len(await collect(manager, 0.3)) >= 5  # a new mic brings audio back
    assert manager.open_stream_count == 2


async def test_start_stop_cycles_leave_nothing_open(manager: SoundDeviceMediaManager) -> None:
    for _ in range(3):
        await manager.start(FORMAT)
        assert manager.open_stream_count == 2
        await manager.update_speaker("virtual_mic_src")
        await manager.update_speaker("virtual_speaker")
        await manager.stop()
        assert manager.open_stream_count == 0
        assert SoundDeviceMediaManager.live_stream_count() == 0


async def test_speech_in_the_mic_arrives_as_provider_chunks(
    manager: SoundDeviceMediaManager,
) -> None:
    await manager.start(FORMAT)
    feeding = asyncio.create_task(sandbox.afeed(DATA / "speech_24k.wav"))
    chunks = await collect(manager, 2.6)
    await feeding
    heard = np.concatenate([c.samples for c in chunks])
    assert np.sqrt(np.mean(heard.astype(np.float64) ** 2)) > 500  # speech, not silence
    seqs = [c.seq for c in chunks]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no chunk lost


# ---------------------------------------------------------------- the sandbox itself
ROOT = Path(__file__).parent.parent


def test_sandbox_check_command_finds_the_devices() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rtws.sandbox", "check", "--virtual"],
        capture_output=True, text=True, timeout=30, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok: ")
    assert sandbox.devices_available()


def test_feed_and_record_through_the_virtual_mic(tmp_path: Path) -> None:
    write_wav(tmp_path / "tone.wav", tone(523, 0.5, 24000), 24000)
    with sandbox.record(tmp_path / "mic.wav", 16000, device=sandbox.MIC) as recording:
        sandbox.feed(tmp_path / "tone.wav")
    heard = recording.audio()
    assert abs(peak_hz(heard, 16000) - 523) < 3
    # How long the tone lasted, from its amplitude in 10 ms windows (other sounds barely count).
    n = 160
    windows = heard[: len(heard) // n * n].astype(np.float64).reshape(-1, n) / 32768
    phasor = np.exp(-2j * np.pi * 523 * np.arange(n) / 16000)
    amplitude = 2 * np.abs(windows @ phasor) / n
    assert 0.45 <= np.count_nonzero(amplitude > 0.1) * 0.010 <= 0.55
    with pytest.raises(sandbox.SandboxError, match="no such WAV file"):
        sandbox.feed(tmp_path / "missing.wav")


def test_lock_devices_keeps_other_processes_out() -> None:
    probe = (
        "from rtws import sandbox\n"
        "try:\n"
        "    with sandbox.lock_devices(timeout=0.2):\n"
        "        print('got it')\n"
        "except sandbox.SandboxError as exc:\n"
        "    print(exc)\n"
    )

    def other_process() -> str:
        return subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, cwd=ROOT,
            check=True,
        ).stdout  # fmt: skip

    with sandbox.lock_devices():  # nested inside the fixture's hold: re-entrant
        pass
    assert "another process held the audio devices" in other_process()


@pytest.fixture
def private_sandbox() -> Iterator[dict[str, str]]:
    """An environment that points the script at its own daemon and config dir, so testing
    it never touches the machine's running sandbox or /etc."""
    if shutil.which("pulseaudio") is None:
        pytest.skip("pulseaudio is not installed")
    base = Path(tempfile.mkdtemp(prefix="asb-"))  # short: unix socket paths max out at 108
    env = dict(
        os.environ,
        AUDIO_SANDBOX_DIR=str(base / "state"),
        AUDIO_SANDBOX_SYSCONFDIR=str(base / "etc"),
    )
    yield env
    subprocess.run([str(SCRIPT), "down"], env=env, capture_output=True, timeout=30, check=False)
    shutil.rmtree(base, ignore_errors=True)


SCRIPT = ROOT / "scripts" / "audio-sandbox"


def test_audio_sandbox_script_up_is_idempotent_and_down_cleans_up(
    private_sandbox: dict[str, str],
) -> None:
    env = private_sandbox
    etc = Path(env["AUDIO_SANDBOX_SYSCONFDIR"])

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    assert run("status").returncode == 3
    first = run("up")
    assert first.returncode == 0, first.stderr
    assert "started pulseaudio" in first.stderr
    alsa = etc / "alsa" / "conf.d" / "99-zz-audio-sandbox.conf"
    assert alsa.read_text().count("handle_underrun false") == 3  # pulse, and both outputs
    written = alsa.stat().st_mtime_ns
    second = run("up")
    assert second.returncode == 0, second.stderr
    assert "started" not in second.stderr  # nothing restarted ...
    assert alsa.stat().st_mtime_ns == written  # ... or rewritten
    server = f"unix:{env['AUDIO_SANDBOX_DIR']}/native"
    modules = subprocess.run(
        ["pactl", f"--server={server}", "list", "short", "modules"],
        capture_output=True, text=True, timeout=10, check=True,
    ).stdout  # fmt: skip
    assert modules.count("module-loopback") == 2  # the keepalives, not doubled
    assert modules.count("module-null-sink") == 3
    status = run("status")
    assert status.returncode == 0 and "virtual_speaker" in status.stdout
    assert run("env").stdout.strip() == f"export PULSE_SERVER={server}"
    down = run("down")
    assert down.returncode == 0, down.stderr
    assert run("status").returncode == 3
    assert not alsa.exists()
    assert not (etc / "pulse" / "client.conf.d" / "99-audio-sandbox.conf").exists()
