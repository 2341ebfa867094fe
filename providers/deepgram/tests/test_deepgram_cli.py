"""``rtws talk deepgram`` against the fake, as a user runs it: a subprocess, WAV files, a key."""

from __future__ import annotations

import asyncio
import os
import sys
import wave
from pathlib import Path

import numpy as np
from rtws_deepgram.testing import DEFAULT_API_KEY, FakeDeepgramAgent, Reply

from rtws.audio import read_wav

from .conftest import SPEECH_16K

ROOT = Path(__file__).resolve().parents[3]


async def rtws_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rtws.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DEEPGRAM_API_KEY", "COLUMNS")}
    return {**clean, "PYTHONUNBUFFERED": "1", **extra}


async def talk_to(
    server: FakeDeepgramAgent, *args: str, key: str = DEFAULT_API_KEY
) -> tuple[int, str, str]:
    """``rtws talk deepgram`` on the fake, its speech as the mic."""
    return await rtws_cli(
        "talk", "deepgram", "--url", server.url, "--input", str(SPEECH_16K), *args,
        env=env(DEEPGRAM_API_KEY=key),
    )  # fmt: skip


async def test_rtws_talk_deepgram_with_files(tmp_path: Path) -> None:
    output = tmp_path / "out.wav"
    async with FakeDeepgramAgent(pace=0.0) as server:
        server.script(Reply(text="Hello from the fake agent.", heard="hello there"))
        code, out, err = await talk_to(
            server, "--option", "prompt=Be brief.", "--output", str(output)
        )
        settings = server.latest.settings
    assert code == 0, err
    lines = out.splitlines()
    assert "you: hello there" in lines
    assert any(line.startswith("bot: Hello from the fake agent.") for line in lines)
    assert settings is not None and settings["agent"]["think"]["prompt"] == "Be brief."
    pcm, _ = read_wav(output)
    assert np.abs(pcm.astype(np.int32)).max() > 1000


async def test_record_is_written_at_the_rate_the_options_chose(tmp_path: Path) -> None:
    """Deepgram's rates are options: the recording follows the session's, not a default."""
    record = tmp_path / "both.wav"
    async with FakeDeepgramAgent(pace=0.0) as server:
        server.script(Reply(text="Recorded.", heard="hello there"))
        code, _, err = await talk_to(
            server, "--option", "output_sample_rate=16000", "--record", str(record)
        )
        asked = server.latest.output_rate
    assert code == 0, err
    with wave.open(str(record), "rb") as wav:
        channels, rate = wav.getnchannels(), wav.getframerate()
        both = np.frombuffer(wav.readframes(wav.getnframes()), np.int16).reshape(-1, 2)
    assert asked == 16000 and (channels, rate) == (2, 16000)
    assert np.abs(both[:, 1].astype(np.int32)).max() > 1000  # the reply, on the right


async def test_rtws_talk_deepgram_with_a_wrong_key(tmp_path: Path) -> None:
    async with FakeDeepgramAgent(pace=0.0) as server:
        code, out, err = await talk_to(
            server, "--output", str(tmp_path / "o.wav"), key="dg-wrong-0123456789"
        )
    assert code != 0
    assert "401" in err and "Traceback" not in err and "0123456789" not in out + err


async def test_the_minimal_example_against_the_fake(tmp_path: Path) -> None:
    answer = tmp_path / "answer.wav"
    async with FakeDeepgramAgent(pace=0.0) as server:
        server.script(Reply(text="Hello from the example.", heard="hello"))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "examples/deepgram_minimal.py",
            "--input", str(SPEECH_16K), "--output", str(answer),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
            env=env(DEEPGRAM_API_KEY=DEFAULT_API_KEY, RTWS_EXAMPLE_URL=server.url),
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert out.decode().splitlines() == ["you: hello", "bot: Hello from the example."]
    pcm, _ = read_wav(answer)
    assert np.abs(pcm.astype(np.int32)).max() > 1000
