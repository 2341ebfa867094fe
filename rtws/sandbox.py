"""Virtual sound devices for tests and CI: check them, start them, speak into them, listen.

``scripts/audio-sandbox`` (in the repository) starts a private PulseAudio
daemon with a virtual speaker and a virtual microphone that PortAudio lists
like real devices. This module is its Python side::

    python -m rtws.sandbox check    # exit 0 when PortAudio sees a mic and a speaker
    python -m rtws.sandbox up       # run the script's `up` (also: down, status)

and the helpers device tests use: :func:`check` says why devices are
missing, :func:`feed` plays a WAV into the virtual mic, :func:`record`
records what was played to the virtual speaker (parecord), :class:`Listener`
captures a device in-process with timestamps (for latencies),
:func:`unplug` makes a device vanish mid-stream, and :func:`lock_devices`
keeps concurrent test runs on one machine from hearing each other.

Where the script is found: ``$RTWS_AUDIO_SANDBOX`` if set, else
``scripts/audio-sandbox`` of the checkout this package runs from, else an
``audio-sandbox`` on ``PATH``. It is not shipped inside the wheel: it needs
root and apt, which an installed library should not carry around; copy it
from the repository into CI images instead.

Layout: this module controls the script (and pulls plugs); the device names,
:func:`check` and :func:`lock_devices` live in :mod:`rtws.sandbox_devices`,
feeding and recording in :mod:`rtws.sandbox_audio`. All of it is importable
from here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from .sandbox_audio import Listener, Recording, afeed, arecord, feed, record
from .sandbox_devices import (
    MIC,
    MIC_FEED,
    SD_MIC,
    SD_MIC_FEED,
    SD_SPEAKER,
    SD_SPEAKER_MONITOR,
    SPEAKER,
    SPEAKER_MONITOR,
    VIRTUAL_INPUTS,
    VIRTUAL_OUTPUTS,
    SandboxError,
    check,
    devices_available,
    lock_devices,
    pulse_env,
)

__all__ = [
    "MIC",
    "MIC_FEED",
    "SD_MIC",
    "SD_MIC_FEED",
    "SD_SPEAKER",
    "SD_SPEAKER_MONITOR",
    "SPEAKER",
    "SPEAKER_MONITOR",
    "VIRTUAL_INPUTS",
    "VIRTUAL_OUTPUTS",
    "Listener",
    "Recording",
    "SandboxError",
    "afeed",
    "arecord",
    "check",
    "devices_available",
    "feed",
    "lock_devices",
    "main",
    "pulse_env",
    "record",
    "run_script",
    "script_path",
    "unplug",
]


# ---------------------------------------------------------------- the script
def script_path() -> Path:
    """The audio-sandbox script (see the module docstring for the search order)."""
    configured = os.environ.get("RTWS_AUDIO_SANDBOX")
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise SandboxError(f"RTWS_AUDIO_SANDBOX={configured} is not a file")
        return path
    in_repo = Path(__file__).resolve().parent.parent / "scripts" / "audio-sandbox"
    if in_repo.is_file():
        return in_repo
    on_path = shutil.which("audio-sandbox")
    if on_path:
        return Path(on_path)
    raise SandboxError(
        "audio-sandbox script not found: set RTWS_AUDIO_SANDBOX to its path, or copy "
        "scripts/audio-sandbox from the rtws repository onto PATH"
    )


def run_script(*args: str) -> int:
    """Run ``audio-sandbox ARGS`` with this process's stdio; returns its exit status."""
    return subprocess.run([str(script_path()), *args], check=False).returncode


# ---------------------------------------------------------------- pulling the plug
def unplug(direction: Literal["output", "input"], pid: int | None = None) -> int:
    """Kill a process's PulseAudio streams, as if its device had been unplugged.

    PulseAudio moves streams off a removed sink instead of failing them, and
    pactl cannot kill a stream, so this loads the daemon's command-line
    module for a moment and uses pacmd. Returns how many streams it killed.
    """
    pid = os.getpid() if pid is None else pid
    kind = "sink-inputs" if direction == "output" else "source-outputs"
    env = pulse_env()
    listing = _run(["pactl", "--format=json", "list", kind], env).stdout
    streams: list[dict[str, Any]] = json.loads(listing or "[]")
    ids = [
        str(s["index"])
        for s in streams
        if str(s.get("properties", {}).get("application.process.id")) == str(pid)
    ]
    if not ids:
        return 0
    state = Path(os.environ.get("AUDIO_SANDBOX_DIR", "/tmp/audio-sandbox"))
    module = _run(["pactl", "load-module", "module-cli-protocol-unix"], env).stdout.strip()
    try:
        pacmd_env = dict(env, PULSE_RUNTIME_PATH=str(state / "run" / "pulse"))
        command = "kill-sink-input" if direction == "output" else "kill-source-output"
        for stream_id in ids:
            _run(["pacmd", command, stream_id], pacmd_env)
    finally:
        _run(["pactl", "unload-module", module], env)
    return len(ids)


def _run(args: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(args), env=env, capture_output=True, text=True, timeout=10, check=False
    )
    if result.returncode != 0:
        raise SandboxError(
            f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result


# ---------------------------------------------------------------- command line
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rtws.sandbox",
        description="Virtual sound devices for headless tests (wraps scripts/audio-sandbox).",
    )
    parser.add_argument(
        "command",
        choices=["check", "up", "down", "status"],
        help="check: exit 0 when PortAudio sees an input and an output device; "
        "up/down/status: run the audio-sandbox script",
    )
    parser.add_argument(
        "--virtual", action="store_true", help="check: also require the sandbox's virtual devices"
    )
    args = parser.parse_args(argv)
    if args.command == "check":
        reason = check(virtual=args.virtual)
        if reason is None:
            print("ok: PortAudio sees input and output devices")
            return 0
        print(reason)
        return 1
    try:
        return run_script(args.command)
    except SandboxError as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
