"""The ``rtws`` command line, run for real: subprocesses, a local fake server, a pty.

Commands run as ``python -m rtws.cli`` (what the ``rtws`` script calls) with
their real media: WAV files, or the sandbox's virtual sound devices for the
tests marked ``devices``. The live view is checked by feeding it events and
rendering to a recording console; keys and terminal restoration in a pty.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from rtws_openai import OpenAIRealtimeOptions, OpenAIRealtimeTransport
from rtws_openai.testing import DEFAULT_API_KEY, FakeRealtimeServer, Reply, ScriptedBot

from rtws import TransportOptions, rtvi
from rtws.audio import read_wav, write_wav
from rtws.cli import main
from rtws.cli.devices import device_note, next_switch
from rtws.cli.errors import CLIError
from rtws.cli.keys import next_device
from rtws.cli.options import build_options, load_config, options_model, url_field
from rtws.cli.record import StereoRecorder
from rtws.cli.session import TurnTracker
from rtws.cli.view import Line, SessionView
from rtws.media.base import AudioDevice, MediaFormat
from rtws.media.sounddevice import SoundDeviceMediaManager
from tests.conftest import DATA
from tests.echo_provider import EchoOptions, EchoTransport

ROOT = Path(__file__).resolve().parents[1]
SPEECH = DATA / "speech_24k.wav"


# ====================================================================== helpers
def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "COLUMNS")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rtws.cli", *args],
        capture_output=True,
        text=True,
        env=env or cli_env(),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


async def run_cli_async(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> tuple[int, str, str]:
    """The CLI in a subprocess while this loop keeps serving a fake server."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rtws.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env or cli_env(),
        cwd=ROOT,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "no error message"
    assert lines[0].startswith("rtws: error: "), stderr
    return lines


def wav_info(path: Path) -> tuple[int, int, np.ndarray[Any, np.dtype[np.int16]]]:
    """(channels, rate, frames x channels samples)."""
    with wave.open(str(path), "rb") as wav:
        channels, rate = wav.getnchannels(), wav.getframerate()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return channels, rate, data.reshape(-1, channels)


def peak(samples: np.ndarray[Any, Any]) -> int:
    return int(np.abs(samples.astype(np.int32)).max()) if samples.size else 0


@pytest.fixture(scope="module")
def no_sound_env() -> dict[str, str]:
    """An environment where PortAudio finds no device: the sound server is pointed nowhere.

    That is the whole story in a container; a machine with sound cards PortAudio
    reaches directly (ALSA hardware) still has devices, and these tests skip there.
    """
    env = cli_env(PULSE_SERVER="unix:/nonexistent/rtws-test")
    probe = run_cli("devices", "--json", env=env)
    if probe.returncode == 0:
        pytest.skip("this machine has sound cards that do not go through a sound server")
    return env


# ====================================================================== demo
def test_demo_on_files_prints_both_transcripts_and_writes_the_reply(tmp_path: Path) -> None:
    reply, record = tmp_path / "reply.wav", tmp_path / "both.wav"
    result = run_cli(
        "demo", "--input", str(SPEECH), "--output", str(reply), "--record", str(record)
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    you = [line for line in lines if line.startswith("you: ")]
    bot = [line for line in lines if line.startswith("bot: ")]
    assert you, result.stdout
    assert len(you[0]) > len("you: "), result.stdout
    assert bot, result.stdout
    assert any("You said:" in line for line in bot), result.stdout  # the demo bot's answer
    pcm, rate = read_wav(reply)
    assert len(pcm) / rate > 0.5
    assert peak(pcm) > 1000
    channels, record_rate, both = wav_info(record)
    assert (channels, record_rate) == (2, 24000)
    assert peak(both[:, 0]) > 1000, "the user's speech is missing from the left channel"
    assert peak(both[:, 1]) > 1000, "the bot's reply is missing from the right channel"
    assert f"recording: {record}" in result.stdout


def test_demo_without_sound_devices_falls_back_to_the_bundled_speech(
    tmp_path: Path, no_sound_env: dict[str, str]
) -> None:
    """A machine with no sound devices: the demo still runs, on rtws's own WAV file."""
    result = run_cli("demo", env=no_sound_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "using the bundled speech file" in result.stdout
    assert any(line.startswith("bot: ") for line in result.stdout.splitlines()), result.stdout
    pcm, _ = read_wav(tmp_path / "demo-reply.wav")
    assert peak(pcm) > 1000


def test_demo_reports_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(
            "demo", "--port", str(port), "--input", str(SPEECH), "--output", str(tmp_path / "r.wav")
        )
    assert result.returncode == 1
    lines = error_lines(result.stderr)
    assert f"127.0.0.1:{port}" in lines[0]
    assert lines[1].startswith("rtws: hint: ") and "--port" in lines[1]


@pytest.mark.devices
def test_demo_on_sound_devices_greets_and_records_both_sides(tmp_path: Path) -> None:
    record = tmp_path / "both.wav"
    result = run_cli(
        "demo",
        "--mic", "virtual_mic",
        "--speaker", "virtual_speaker",
        "--duration", "3",
        "--record", str(record),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "connected: openai" in result.stdout
    channels, _, both = wav_info(record)
    assert channels == 2
    seconds = len(both) / 24000
    assert 1.5 < seconds < 10, seconds
    # The greeting really went through PortAudio: the tap saw it on the speaker's side.
    assert peak(both[:, 1]) > 1000, f"no greeting on the speaker side:\n{result.stdout}"


# ====================================================================== devices
@pytest.mark.devices
def test_devices_json_lists_the_virtual_devices() -> None:
    result = run_cli("devices", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    mics = {d["name"]: d for d in doc["mics"]}
    speakers = {d["name"]: d for d in doc["speakers"]}
    assert "virtual_mic" in mics
    assert "virtual_speaker" in speakers
    for device in [*doc["mics"], *doc["speakers"]]:
        assert set(device) == {
            "id", "name", "kind", "default_sample_rate", "max_channels", "is_default",
            "stream_sample_rate", "stream_channels", "note",
        }  # fmt: skip
        assert device["default_sample_rate"] > 0
        assert device["max_channels"] > 0
    assert {d["kind"] for d in doc["mics"]} == {"audioinput"}
    assert sum(d["is_default"] for d in doc["mics"]) <= 1


@pytest.mark.devices
async def test_devices_shows_the_format_a_session_really_opens(tmp_path: Path) -> None:
    """Not PortAudio's listed defaults (44.1 kHz x32 for the ALSA plugin devices): the
    rate and channels the streams of a session really open at, and why some are skipped."""
    code, out, err = await run_cli_async("devices", "--json")
    assert code == 0, err
    doc = json.loads(out)
    mics = {d["name"]: d for d in doc["mics"]}
    speakers = {d["name"]: d for d in doc["speakers"]}
    assert mics["virtual_speaker_monitor"]["note"] == "monitor of virtual_speaker"
    assert speakers["virtual_mic_src"]["note"] == "feeds mic virtual_mic"
    assert mics["virtual_mic"]["note"] is None and speakers["virtual_speaker"]["note"] is None
    assert speakers["pulse"]["note"] == "alias of default"
    media = SoundDeviceMediaManager("virtual_mic", "virtual_speaker")
    await media.start(MediaFormat(input_sample_rate=24000, output_sample_rate=24000))
    try:
        assert media._input is not None and media._output is not None
        opened = (media._input.device_rate, media._output.device_rate)
    finally:
        await media.stop()
    listed = (
        mics["virtual_mic"]["stream_sample_rate"],
        speakers["virtual_speaker"]["stream_sample_rate"],
    )
    assert listed == opened
    assert mics["virtual_mic"]["stream_channels"] == 1  # mono, not the 32 PortAudio lists


def test_switch_keys_skip_monitors_feeds_and_aliases() -> None:
    def dev(name: str, kind: str) -> AudioDevice:
        return AudioDevice(
            id=f"{name}@ALSA",
            name=name,
            kind=kind,
            default_sample_rate=48000,
            max_channels=2,  # type: ignore[arg-type]
        )

    mics = [dev(n, "audioinput") for n in ("pulse", "desk_mic.monitor", "usb_mic", "virtual_mic")]
    speakers = [dev(n, "audiooutput") for n in ("pulse", "virtual_mic_src", "headphones", "hdmi")]
    everything = [*mics, *speakers]
    notes = {d.name + "/" + d.kind: device_note(d, everything) for d in everything}
    assert notes == {
        "pulse/audioinput": None,  # no `default` listed: pulse is the only name for it
        "desk_mic.monitor/audioinput": "monitor of desk_mic",
        "usb_mic/audioinput": None,
        "virtual_mic/audioinput": None,
        "pulse/audiooutput": None,
        "virtual_mic_src/audiooutput": "feeds mic virtual_mic",
        "headphones/audiooutput": None,
        "hdmi/audiooutput": None,
    }
    assert next_switch(speakers, speakers[2], everything) == speakers[3]
    assert next_switch(speakers, speakers[3], everything) == speakers[0]  # wraps past the feed
    assert next_switch(mics, mics[2], everything) == mics[3]
    assert next_switch(mics, mics[3], everything) == mics[0]  # never into the monitor
    with_default = [*mics, dev("default", "audioinput")]
    assert device_note(mics[0], with_default) == "alias of default"
    assert next_switch(with_default, mics[2], with_default) == mics[3]


@pytest.mark.devices
def test_switch_keys_on_the_sandbox_never_pick_the_same_device_again() -> None:
    """The sandbox has one real mic and one real speaker, each also listed as `default`
    and `pulse`, plus a monitor and the mic's feed sink: there is nothing to switch to."""
    media = SoundDeviceMediaManager()
    mics = asyncio.run(media.get_all_mics())
    speakers = asyncio.run(media.get_all_speakers())
    everything = [*mics, *speakers]
    default_mic = next(d for d in mics if d.is_default)
    default_speaker = next(d for d in speakers if d.is_default)
    assert device_note(default_mic, everything) == "alias of virtual_mic"
    assert next_switch(mics, default_mic, everything) is None
    assert next_switch(speakers, default_speaker, everything) is None
    virtual_mic = next(d for d in mics if d.name == "virtual_mic")
    assert next_switch(mics, virtual_mic, everything) is None


@pytest.mark.devices
def test_devices_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "Microphones" in out and "Speakers" in out
    assert "virtual_mic" in out and "virtual_speaker" in out


def test_devices_without_any_sound_device_is_one_clear_line(no_sound_env: dict[str, str]) -> None:
    result = run_cli("devices", env=no_sound_env)
    assert result.returncode == 1
    lines = error_lines(result.stderr)
    assert "no microphone and no speaker" in lines[0]
    assert "audio-sandbox" in lines[1]
    assert result.stdout == ""


def test_devices_without_portaudio_says_how_to_install_it(tmp_path: Path) -> None:
    """PortAudio missing: sounddevice raises OSError on import. A module standing in for it
    raises exactly that, since uninstalling the system library is not an option here."""
    (tmp_path / "sounddevice.py").write_text('raise OSError("PortAudio library not found")\n')
    env = cli_env(PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    result = run_cli("devices", env=env)
    assert result.returncode == 1
    lines = error_lines(result.stderr)
    assert "PortAudio is not available" in lines[0]
    assert "libportaudio2" in lines[0]


# ====================================================================== talk: errors
def test_unknown_provider_lists_the_installed_ones() -> None:
    result = run_cli("talk", "nosuchprovider")
    assert result.returncode == 2
    lines = error_lines(result.stderr)
    assert "'nosuchprovider'" in lines[0]
    assert "installed: " in lines[0] and "openai" in lines[0]
    assert len(lines) == 2 and lines[1].startswith("rtws: hint: ")


def test_a_typo_of_a_provider_suggests_the_installed_name_never_a_package() -> None:
    result = run_cli("talk", "opneai")
    assert result.returncode == 2
    lines = error_lines(result.stderr)
    assert "did you mean 'openai'?" in lines[0]
    assert lines[1] == "rtws: hint: rtws talk openai"
    assert "rtws-opneai" not in result.stderr and "pip install" not in result.stderr


def test_without_rich_the_command_names_its_extra() -> None:
    """`pip install rtws` alone has no rich: the command says which extra brings it."""
    code = "import sys; sys.modules['rich'] = None; from rtws.cli import main"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "rtws: error: the rtws command needs its extra: pip install 'rtws[cli]'"
    )


def test_bad_option_value_names_the_field() -> None:
    result = run_cli("talk", "openai", "--option", "speed=9")
    assert result.returncode == 2
    lines = error_lines(result.stderr)
    assert len(lines) == 2
    assert "'speed'" in lines[0] and "1.5" in lines[0]


# The next ones call ``main()`` in this process: same code, no interpreter start-up.
def test_unknown_option_lists_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["talk", "openai", "-o", "spede=1.2"]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert "no option 'spede'" in lines[0]
    assert "speed" in lines[1] and "voice" in lines[1]


def test_a_pasted_secret_without_a_key_is_never_echoed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["talk", "openai", "-o", "sk-live-abcdef0123456789"]) == 2
    err = capsys.readouterr().err
    assert "abcdef0123456789" not in err
    assert "KEY=VALUE" in error_lines(err)[0]


def test_media_flags_that_contradict_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["talk", "openai", "--mic", "x", "--output", "o.wav"]) == 2
    assert "--mic/--speaker" in error_lines(capsys.readouterr().err)[0]
    assert main(["talk", "openai", "--input", "/nonexistent/in.wav"]) == 2
    assert "no such WAV file" in error_lines(capsys.readouterr().err)[0]


def test_list_options_shows_the_provider_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["talk", "openai", "--list-options"]) == 0
    out = capsys.readouterr().out
    for name in ("voice", "instructions", "turn_detection", "connect_timeout"):
        assert name in out


def test_version_names_the_providers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("rtws ") and "openai" in out


# ====================================================================== talk: sessions
async def test_talk_to_a_fake_server_with_files_config_and_flags(tmp_path: Path) -> None:
    bot = ScriptedBot([Reply.say("Hello from the fake server.")], transcripts=["hello there"])
    config = tmp_path / "rtws.toml"
    config.write_text(
        'instructions = "Be brief."\n[openai]\nvoice = "cedar"\n[gemini]\nvoice = "Kore"\n'
    )
    output = tmp_path / "out.wav"
    async with FakeRealtimeServer(bot=bot) as server:
        code, out, err = await run_cli_async(
            "talk", "openai",
            "--url", server.url,
            "--config", str(config),
            "--option", "turn_detection.silence_duration_ms=300",
            "--input", str(SPEECH),
            "--output", str(output),
            "--duration", "3",
            env=cli_env(OPENAI_API_KEY=DEFAULT_API_KEY),
        )  # fmt: skip
        received = server.received
        audio_in = server.audio_in
    assert code == 0, err
    assert "you: hello there" in out.splitlines()
    assert any(line.startswith("bot: Hello from the fake server.") for line in out.splitlines())
    update = next(e for e in received if e["type"] == "session.update")["session"]
    assert update["instructions"] == "Be brief."
    assert update["audio"]["output"]["voice"] == "cedar"
    assert update["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 300
    assert len(audio_in) >= 2 * 24000 * 2  # the whole file went up (PCM16, 24 kHz)
    pcm, _ = read_wav(output)
    assert peak(pcm) > 1000
    assert f"bot audio: {output}" in out


async def test_talk_answers_function_calls_and_ends_when_the_input_is_answered(
    tmp_path: Path,
) -> None:
    bot = ScriptedBot(
        [Reply.call("get_weather", {"city": "Paris"}), Reply.say("I cannot check the weather.")],
        transcripts=["what is the weather"],
    )
    async with FakeRealtimeServer(bot=bot) as server:
        code, out, err = await run_cli_async(
            "talk", "openai",
            "--url", server.url,
            "--option", 'tools=[{"name": "get_weather"}]',
            "--input", str(SPEECH),
            "--output", str(tmp_path / "out.wav"),
            env=cli_env(OPENAI_API_KEY=DEFAULT_API_KEY),
        )  # fmt: skip
        outputs = [
            e["item"]
            for e in server.received
            if e["type"] == "conversation.item.create"
            and e["item"]["type"] == "function_call_output"
        ]
    assert code == 0, err
    assert 'get_weather({"city": "Paris"})' in out
    assert any(line.startswith("bot: I cannot check the weather.") for line in out.splitlines())
    assert len(outputs) == 1
    assert "not available in the rtws command line" in outputs[0]["output"]


async def test_record_without_realtime_against_a_real_time_server_keeps_the_reply_whole(
    tmp_path: Path,
) -> None:
    """Without --realtime the file device runs as fast as it can; a server that streams
    in real time makes it wait between chunks. Those waits are no time at all: the bot
    channel of --record must hold the reply once, unbroken, as the --output file does."""
    tone = (np.sin(2 * np.pi * 300 * np.arange(48000) / 24000) * 8000).astype(np.int16)
    bot = ScriptedBot([Reply.say("A two second tone.", tone)], transcripts=["hello there"])
    output, record = tmp_path / "a.wav", tmp_path / "both.wav"
    async with FakeRealtimeServer(bot=bot, pace=1.0) as server:
        code, _, err = await run_cli_async(
            "talk", "openai",
            "--url", server.url,
            "--input", str(SPEECH),
            "--output", str(output),
            "--record", str(record),
            env=cli_env(OPENAI_API_KEY=DEFAULT_API_KEY),
        )  # fmt: skip
    assert code == 0, err
    reply, _ = read_wav(output)
    channels, rate, both = wav_info(record)
    assert (channels, rate) == (2, 24000)
    for name, audio in (("output", reply), ("bot channel", both[:, 1])):
        loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > 100)
        span = (loud[-1] - loud[0]) / 24000
        # 300 Hz has a zero crossing every 40 samples: a longer quiet run is a gap (a click).
        gaps = int(np.count_nonzero(np.diff(loud) > 60))
        assert abs(span - 2.0) < 0.05 and gaps == 0, f"{name}: {span:.2f} s, {gaps} gaps"
    assert peak(both[: len(both) // 3, 0]) > 1000  # the user's speech, on the left
    user = np.flatnonzero(np.abs(both[:, 0].astype(np.int32)) > 1000)
    reply = np.flatnonzero(np.abs(both[:, 1].astype(np.int32)) > 100)
    assert user[-1] < reply[0]  # the reply comes after the user's speech, not over it


async def test_a_barge_in_shows_the_cut_sentence_interrupted_and_the_next_reply_whole(
    tmp_path: Path,
) -> None:
    """The user talks over a long reply: its sentence in progress is printed as cut, the
    next reply (played to its end) is not labelled."""
    speech, rate = read_wav(SPEECH)
    talk = np.concatenate(
        [speech, np.zeros(rate * 5 // 2, np.int16), speech, np.zeros(rate * 3, np.int16)]
    )
    mic = tmp_path / "mic.wav"
    write_wav(mic, talk, rate)
    tone = (np.sin(2 * np.pi * 300 * np.arange(24000 * 6) / 24000) * 6000).astype(np.int16)
    long_reply = "Yes. Then a second sentence that goes on for quite a long while before it ends."
    bot = ScriptedBot(
        [Reply.say(long_reply, tone), Reply.say("Okay, stopping.", tone[:12000])],
        transcripts=["hello", "stop"],
    )
    async with FakeRealtimeServer(bot=bot, pace=1.0) as server:
        code, out, err = await run_cli_async(
            "talk", "openai",
            "--url", server.url,
            "--input", str(mic),
            "--output", str(tmp_path / "out.wav"),
            "--realtime",
            "--duration", "14",
            env=cli_env(OPENAI_API_KEY=DEFAULT_API_KEY),
        )  # fmt: skip
    assert code == 0, err
    bot_lines = [line for line in out.splitlines() if line.startswith("bot: ")]
    assert bot_lines[0].startswith("bot: Yes."), out
    cut = [line for line in bot_lines if "[interrupted]" in line]
    assert len(cut) == 1 and cut[0].startswith("bot: Then a second"), out
    assert "goes on for quite a long while before it ends" not in cut[0]  # cut, not whole
    assert bot_lines[-1].startswith("bot: Okay, stopping."), out
    assert "[interrupted]" not in bot_lines[-1]


async def test_talk_with_a_wrong_key_is_one_line_and_a_hint(tmp_path: Path) -> None:
    async with FakeRealtimeServer() as server:
        code, _, err = await run_cli_async(
            "talk", "openai", "--url", server.url, "--output", str(tmp_path / "o.wav"),
            env=cli_env(OPENAI_API_KEY="sk-wrong-key-0123456789abcdef"),
        )  # fmt: skip
    assert code == 1
    lines = error_lines(err)
    assert len(lines) == 2
    assert "0123456789abcdef" not in err  # the key is never printed
    assert "API key" in lines[0] or "401" in lines[0]
    assert "OPENAI_API_KEY" in lines[1]


async def test_talk_to_gemini_through_the_same_flags(tmp_path: Path) -> None:
    """Nothing in the CLI is OpenAI-specific: --url lands in Gemini's ``host`` field."""
    from rtws_gemini.testing import FakeGeminiServer

    output = tmp_path / "g.wav"
    async with FakeGeminiServer(api_key="fake-gemini-key-0123", playback_wait=0) as server:
        code, out, err = await run_cli_async(
            "talk", "gemini",
            "--url", server.url,
            "--option", "api_key=fake-gemini-key-0123",
            "--input", str(DATA / "speech_16k.wav"),
            "--output", str(output),
        )  # fmt: skip
    assert code == 0, err
    assert "connected: gemini" in out
    assert any(line.startswith("you: ") for line in out.splitlines()), out
    assert any(line.startswith("bot: ") for line in out.splitlines()), out
    assert peak(read_wav(output)[0]) > 1000


@pytest.mark.devices
def test_talk_with_an_unknown_microphone_lists_the_real_ones() -> None:
    result = run_cli(
        "talk", "openai", "--mic", "no-such-mic", "--url", "ws://127.0.0.1:9/v1/realtime",
        env=cli_env(OPENAI_API_KEY=DEFAULT_API_KEY),
    )  # fmt: skip
    assert result.returncode == 1
    lines = error_lines(result.stderr)
    assert "no microphone matches 'no-such-mic'" in lines[0] and "virtual_mic" in lines[0]
    assert "rtws devices" in lines[1]


# ====================================================================== the live view
def render(view: SessionView, width: int = 100) -> str:
    console = Console(record=True, width=width, color_system=None, force_terminal=False)
    console.print(view)
    return console.export_text()


def feed(view: SessionView, *messages: rtvi.RTVIMessage) -> None:
    for message in messages:
        view.handle(message)


def test_view_shows_state_levels_transcripts_calls_and_latency() -> None:
    lines: list[Line] = []
    view = SessionView("openai", keys_help=True, on_line=lines.append)
    view.set_devices("USB mic", "Headphones")
    feed(
        view,
        rtvi.TransportStateChanged(
            data=rtvi.TransportStateChangedData(state="ready", previous="connected")
        ),
        rtvi.BotReady(
            data=rtvi.BotReadyData(about={"provider": "openai", "model": "gpt-realtime"})
        ),
        rtvi.UserAudioLevel(data=rtvi.AudioLevelData(value=0.5)),
        rtvi.BotAudioLevel(data=rtvi.AudioLevelData(value=1.0)),
        rtvi.UserStartedSpeaking(),
        rtvi.user_transcription("what's the ", final=False),
        rtvi.user_transcription("weather", final=False),
    )
    text = render(view)
    assert "openai gpt-realtime · ready" in text
    assert "what's the weather …" in text  # still streaming
    assert "m mute" in text and "q quit" in text
    mic_row = next(row for row in text.splitlines() if "USB mic" in row)
    assert mic_row.count("█") == 12  # half of the meter
    speaker_row = next(row for row in text.splitlines() if "Headphones" in row)
    assert speaker_row.count("█") == 24
    assert "no reply yet" in text

    feed(
        view,
        rtvi.user_transcription("What's the weather?", final=True),
        rtvi.UserStoppedSpeaking(),
        rtvi.LLMFunctionCallInProgress(
            data=rtvi.LLMFunctionCallInProgressData(
                tool_call_id="call_1", function_name="get_weather", arguments={"city": "Paris"}
            )
        ),
        rtvi.LLMFunctionCallStopped(
            data=rtvi.LLMFunctionCallStoppedData(
                tool_call_id="call_1",
                cancelled=False,
                function_name="get_weather",
                result={"sky": "clear"},
            )
        ),
        rtvi.Metrics.model_validate({"data": {"ttfb": [{"processor": "openai", "value": 0.4}]}}),
        rtvi.BotTTSText(data=rtvi.TextData(text="It is ")),
        rtvi.BotTTSText(data=rtvi.TextData(text="sunny")),
    )
    text = render(view)
    assert "What's the weather?" in text and "what's the weather …" not in text
    assert 'get_weather({"city": "Paris"})' in text
    assert 'get_weather → {"sky": "clear"}' in text
    assert "It is sunny …" in text
    assert "ttfb last 400 ms · avg 400 ms · 1 turn" in text  # labelled: not what users wait

    feed(
        view,
        rtvi.bot_output("It is sunny in Paris.", spoken=True),
        rtvi.Metrics.model_validate({"data": {"ttfb": [{"processor": "openai", "value": 0.6}]}}),
        rtvi.BotTTSText(data=rtvi.TextData(text="And warm")),
        rtvi.BotInterrupted(),
        rtvi.Error(data=rtvi.ErrorData(error="rate limited", fatal=False)),
    )
    text = render(view)
    assert "It is sunny in Paris." in text
    assert "And warm [interrupted]" in text  # cut: finished as far as it got
    assert "avg 500 ms · 2 turns" in text
    assert "!! rate limited" in text
    # Plain output got every finished line once, in order, with the turn's latency.
    plain = [line.plain() for line in lines]
    assert plain[0] == "connected: openai gpt-realtime"
    you = plain.index("you: What's the weather?")
    said = plain.index("bot: It is sunny in Paris.")  # ttfb is not shown as a turn's latency
    assert you < said
    assert plain[-2:] == ["bot: And warm [interrupted]", "rate limited"]
    assert [line.text for line in view.transcript] == [
        "What's the weather?",
        "It is sunny in Paris.",
        "And warm",
    ]


def test_view_keeps_fatal_errors_out_of_the_plain_output() -> None:
    printed: list[Line] = []
    view = SessionView("openai", on_line=printed.append)
    view.handle(rtvi.Error(data=rtvi.ErrorData(error="bad key", fatal=True)))
    assert view.fatal_error == "bad key"
    assert printed == []
    assert "bad key" in render(view)


def test_view_shows_the_cut_sentence_as_interrupted_and_the_next_reply_whole() -> None:
    """What the OpenAI transport emits around a barge-in: sentence one finished, sentence
    two streaming when the user cuts in (no bot-output follows for it), then a new reply."""
    printed: list[Line] = []
    view = SessionView("openai", on_line=printed.append)
    feed(
        view,
        rtvi.BotStartedSpeaking(),
        rtvi.BotTTSText(data=rtvi.TextData(text="First sentence. ")),
        rtvi.bot_output("First sentence.", spoken=True),
        rtvi.BotTTSText(data=rtvi.TextData(text="Second one, cut")),
        rtvi.UserStartedSpeaking(),
        rtvi.BotInterrupted(),
        rtvi.BotStoppedSpeaking(),
        rtvi.UserStoppedSpeaking(),
        rtvi.user_transcription("stop", final=True),
        rtvi.BotStartedSpeaking(),
        rtvi.BotTTSText(data=rtvi.TextData(text="Okay, ")),
        rtvi.BotTTSText(data=rtvi.TextData(text="stopping.")),
        rtvi.bot_output("Okay, stopping.", spoken=True),
        rtvi.BotStoppedSpeaking(),
    )
    shown = [(line.who, line.text, line.interrupted) for line in printed]
    assert shown == [
        ("bot", "First sentence.", False),
        ("bot", "Second one, cut", True),
        ("you", "stop", False),
        ("bot", "Okay, stopping.", False),
    ]
    assert "Second one, cut [interrupted]" in render(view)


def test_view_splits_a_reply_into_sentences_and_shows_a_cut_reply_once() -> None:
    """The core's default: one bot-output per reply, at its end (a cut one's marked
    interrupted, after the barge-in). The view prints sentences as the deltas complete
    them, the cut sentence as far as it got, and no line twice."""
    printed: list[Line] = []
    view = SessionView("openai", on_line=printed.append)
    feed(
        view,
        rtvi.BotTTSText(data=rtvi.TextData(text="One. Two")),
        rtvi.BotTTSText(data=rtvi.TextData(text=" words.")),
        rtvi.bot_output("One. Two words.", spoken=True),
        rtvi.BotTTSText(data=rtvi.TextData(text="Yes. Then a sec")),
        rtvi.BotInterrupted(),
        rtvi.bot_output("Yes. Then a second", spoken=True, spoken_status="interrupted"),
        rtvi.bot_output("Unheard.", spoken=True, spoken_status="interrupted"),  # not audible
        rtvi.bot_output("Typed, no deltas.", spoken=False),
    )
    shown = [(line.text, line.interrupted) for line in printed]
    assert shown == [
        ("One.", False),
        ("Two words.", False),
        ("Yes.", False),
        ("Then a sec", True),
        ("Unheard.", True),
        ("Typed, no deltas.", False),
    ]
    assert all(line.final for line in view.lines)


def test_view_shows_the_turn_latency_once_measured_instead_of_ttfb() -> None:
    printed: list[str] = []  # as printed, at the time
    view = SessionView("openai", on_line=lambda line: printed.append(line.plain()))

    def turn(ttfb: float, latency: float, text: str) -> None:
        feed(
            view,
            rtvi.UserStoppedSpeaking(),
            rtvi.Metrics.model_validate(
                {"data": {"ttfb": [{"processor": "openai", "value": ttfb}]}}
            ),
            rtvi.BotTTSText(data=rtvi.TextData(text=text)),
            rtvi.Metrics.model_validate(
                {"data": {"turn_latency": [{"processor": "openai", "value": latency}]}}
            ),
            rtvi.bot_output(text, spoken=True),
        )

    turn(0.2, 0.8, "One.")
    turn(0.3, 0.9, "Two.")
    assert view.latencies_ms == [800.0, 900.0]  # ttfb, another metric, is not mixed in
    assert printed == ["bot: One.  (800 ms)", "bot: Two.  (900 ms)"]
    assert "last 900 ms · avg 850 ms · 2 turns" in render(view)
    # A reply whose sentence is printed before playback starts: the latency follows it.
    feed(
        view,
        rtvi.UserStoppedSpeaking(),
        rtvi.BotTTSText(data=rtvi.TextData(text="Three.")),
        rtvi.bot_output("Three.", spoken=True),
        rtvi.Metrics.model_validate(
            {"data": {"turn_latency": [{"processor": "openai", "value": 0.7}]}}
        ),
    )
    assert printed[-2:] == ["bot: Three.", "turn latency 700 ms"]


def test_view_mute_and_device_switches() -> None:
    view = SessionView("gemini")
    view.set_devices("Mic A", "Speaker A")
    view.handle(rtvi.UserAudioLevel(data=rtvi.AudioLevelData(value=0.9)))
    view.set_muted(True)
    view.handle(rtvi.SpeakerUpdated(data=rtvi.DeviceData(device={"id": "b", "name": "Speaker B"})))
    text = render(view)
    mic_row = next(row for row in text.splitlines() if "Mic A" in row)
    assert "[muted]" in mic_row and "█" not in mic_row  # a muted mic shows no level
    assert "Speaker B" in text and "speaker: Speaker B" in text
    assert "microphone muted" in text


# ====================================================================== building blocks
def test_turn_tracker_waits_for_every_user_turn_to_be_answered() -> None:
    turns = TurnTracker()
    assert not turns.answered
    for message in (rtvi.UserStartedSpeaking(), rtvi.UserStoppedSpeaking(), rtvi.BotLLMStarted()):
        turns.handle(message)
    assert not turns.answered
    turns.handle(rtvi.BotStartedSpeaking())
    turns.handle(rtvi.BotStoppedSpeaking())
    assert not turns.answered  # the response is still open
    turns.handle(rtvi.BotLLMStopped())
    assert turns.answered
    turns.handle(rtvi.UserStoppedSpeaking())  # a second turn, not answered yet
    assert not turns.answered


def test_options_model_from_class_attribute_or_init_annotation() -> None:
    assert options_model(OpenAIRealtimeTransport) is OpenAIRealtimeOptions
    assert options_model(EchoTransport) is EchoOptions

    class AnnotatedOnly(EchoTransport):
        options_class = TransportOptions

        def __init__(self, options: EchoOptions | None = None, media: Any = None) -> None:
            super().__init__(options or EchoOptions(url="ws://127.0.0.1:1"), media)

    assert options_model(AnnotatedOnly) is EchoOptions
    assert url_field(OpenAIRealtimeOptions) == "base_url"
    assert url_field(EchoOptions) == "url"


def test_build_options_precedence_nesting_and_text_values(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        'voice = "ash"\nspeed = 1.1\n[openai]\nvoice = "cedar"\n'
        "[openai.turn_detection]\nsilence_duration_ms = 700\n[gemini]\nvoice = 'Kore'\n"
    )
    loaded = load_config(config, "openai")
    assert loaded == {
        "voice": "cedar",
        "speed": 1.1,
        "turn_detection": {"silence_duration_ms": 700},
    }
    options = build_options(
        OpenAIRealtimeOptions,
        "openai",
        config=loaded,
        assignments=["speed=1.2", "instructions=true", "model=4", "reconnect.max-attempts=0"],
        overrides={"base_url": "ws://127.0.0.1:9/v1/realtime"},
    )
    assert isinstance(options, OpenAIRealtimeOptions)
    assert options.voice == "cedar"  # the [openai] table beats the shared key
    assert options.speed == 1.2  # --option beats the file
    assert options.instructions == "true" and options.model == "4"  # JSON-looking text
    assert options.reconnect.max_attempts == 0
    assert options.turn_detection is not None
    assert options.turn_detection.type == "server_vad"  # laid over the default
    assert getattr(options.turn_detection, "silence_duration_ms") == 700  # noqa: B009
    assert options.base_url == "ws://127.0.0.1:9/v1/realtime"


def test_build_options_errors_name_the_field_and_hide_secrets() -> None:
    with pytest.raises(CLIError) as bad:
        build_options(OpenAIRealtimeOptions, "openai", assignments=["turn_detection.threshold=2"])
    assert "'turn_detection.threshold'" in bad.value.message
    assert bad.value.code == 2
    with pytest.raises(CLIError) as secret:
        build_options(
            OpenAIRealtimeOptions,
            "openai",
            assignments=['ephemeral={"mode": "endpoint", "endpoint_headers": {"x": 1}}'],
        )
    assert "ephemeral" in secret.value.message
    with pytest.raises(CLIError) as nested:
        build_options(OpenAIRealtimeOptions, "openai", assignments=["reconnect.tries=2"])
    assert "no option 'reconnect.tries'" in nested.value.message
    assert nested.value.hint is not None and "max_attempts" in nested.value.hint


def test_stereo_recorder_aligns_two_device_rates(tmp_path: Path) -> None:
    path = tmp_path / "rec.wav"
    recorder = StereoRecorder(path, 24000)
    t48 = np.arange(48000) / 48000
    mic = (np.sin(2 * np.pi * 440 * t48) * 10000).astype(np.int16)
    for start in range(0, 48000, 960):  # one second of 20 ms blocks at 48 kHz
        recorder.tap("mic", mic[start : start + 960], 48000)
    bot = np.full(480, 8000, dtype=np.int16)
    for _ in range(25):  # half a second at 24 kHz
        recorder.tap("bot", bot, 24000)
    recorder.drain()
    assert recorder.frames > 0
    recorder.close()
    channels, rate, both = wav_info(path)
    assert (channels, rate) == (2, 24000)
    assert abs(len(both) - 24000) < 100
    assert peak(both[2000:22000, 0]) > 9000
    assert peak(both[1000:11000, 1]) == 8000
    assert peak(both[13000:, 1]) == 0  # padded with silence after the bot stopped


def test_next_device_wraps_and_skips_when_alone() -> None:
    def device(i: str) -> AudioDevice:
        return AudioDevice(
            id=i, name=i, kind="audiooutput", default_sample_rate=48000, max_channels=2
        )

    a, b, c = device("a"), device("b"), device("c")
    assert next_device([a, b, c], a) == b
    assert next_device([a, b, c], c) == a
    assert next_device([a, b, c], None) == a
    assert next_device([a], a) is None
    assert next_device([], None) is None


# ====================================================================== keys in a terminal
class PtyCLI:
    """The CLI on a pseudo-terminal that is its controlling terminal, as in a real shell."""

    def __init__(self, *args: str) -> None:
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.initial = termios.tcgetattr(self.slave)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rtws.cli", *args],
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            cwd=ROOT,
            env=cli_env(TERM="xterm-256color"),
            start_new_session=True,
            preexec_fn=_take_controlling_terminal,
        )
        self.output = b""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    return
                if not data:
                    return
                with self._lock:
                    self.output += data
            elif self.proc.poll() is not None:
                return

    def text(self) -> str:
        with self._lock:
            return self.output.decode(errors="replace")

    def wait_for(self, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while what not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{what!r} never appeared; output:\n{self.text()[-3000:]}")
            time.sleep(0.05)

    def cbreak_active(self) -> bool:
        lflag = termios.tcgetattr(self.slave)[3]
        return not lflag & termios.ICANON and not lflag & termios.ECHO

    def press(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._reader.join(timeout=5)
        os.close(self.master)
        os.close(self.slave)


def _take_controlling_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@contextlib.contextmanager
def pty_cli(*args: str) -> Iterator[PtyCLI]:
    cli = PtyCLI(*args)
    try:
        yield cli
    finally:
        cli.close()


def file_session(tmp_path: Path) -> list[str]:
    """A demo that stays up until told to stop (real-time files, long duration)."""
    return [
        "demo", "--input", str(SPEECH), "--output", str(tmp_path / "o.wav"),
        "--realtime", "--duration", "60",
    ]  # fmt: skip


def test_keys_m_mutes_and_q_quits_and_the_terminal_is_restored(tmp_path: Path) -> None:
    with pty_cli(*file_session(tmp_path)) as cli:
        cli.wait_for("q quit")
        cli.wait_for("connected: openai")
        assert cli.cbreak_active()  # keys are read one by one, without echo
        cli.press("m")
        cli.wait_for("microphone muted")
        cli.press("q")
        assert cli.proc.wait(timeout=20) == 0, cli.text()[-2000:]
        assert termios.tcgetattr(cli.slave) == cli.initial
        assert "Traceback" not in cli.text()


def test_ctrl_c_leaves_the_terminal_and_session_clean(tmp_path: Path) -> None:
    with pty_cli(*file_session(tmp_path)) as cli:
        cli.wait_for("connected: openai")
        assert cli.cbreak_active()
        cli.press("\x03")  # the terminal turns it into SIGINT for the foreground group
        assert cli.proc.wait(timeout=20) == 130, cli.text()[-2000:]
        assert termios.tcgetattr(cli.slave) == cli.initial
        text = cli.text()
        assert "Traceback" not in text
        assert "\x1b[?25h" in text  # the cursor was shown again


@pytest.mark.devices
def test_key_s_cycles_the_speaker_on_sound_devices(tmp_path: Path) -> None:
    """From an alias (`pulse`) `s` moves to a real speaker; from the sandbox's only real
    speaker there is nothing to move to: not its feed sink, not `default` or `pulse`."""
    with pty_cli("demo", "--speaker", "pulse", "--duration", "60") as cli:
        cli.wait_for("connected: openai")
        cli.press("s")
        cli.wait_for("speaker: virtual_speaker")  # the info line of the speaker-updated event
        cli.press("s")
        cli.wait_for("no other speaker to switch to")
        cli.press("q")
        assert cli.proc.wait(timeout=20) == 0, cli.text()[-2000:]
        assert termios.tcgetattr(cli.slave) == cli.initial
