"""The virtual devices' names, whether they are up, and who may use them now.

Split from :mod:`rtws.sandbox` because everything touching the sandbox needs
these (the audio helpers, the echo route, the tests' skips), while few need
the script control: this is the part with no subprocess of its own besides
PortAudio's view of the devices. ``rtws.sandbox`` re-exports it all.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

#: PulseAudio names (paplay / parecord / pactl).
SPEAKER = "virtual_speaker"
SPEAKER_MONITOR = "virtual_speaker.monitor"
MIC = "virtual_mic"
MIC_FEED = "virtual_mic_src"

#: The same devices as sounddevice / PortAudio names them (ALSA pcms).
SD_SPEAKER = "virtual_speaker"
SD_SPEAKER_MONITOR = "virtual_speaker_monitor"
SD_MIC = "virtual_mic"
SD_MIC_FEED = "virtual_mic_src"
VIRTUAL_INPUTS = (SD_MIC, SD_SPEAKER_MONITOR)
VIRTUAL_OUTPUTS = (SD_SPEAKER, SD_MIC_FEED)


class SandboxError(RuntimeError):
    """The virtual devices or their tools are missing or failed."""


# ---------------------------------------------------------------- checking
def check(*, virtual: bool = False, rescan: bool = False) -> str | None:
    """Why sound devices cannot be used, or None when they can.

    ``virtual=True`` also requires the sandbox's named devices and its
    command-line tools (what :func:`feed` and :func:`record` need).
    ``rescan=True`` restarts PortAudio first to see devices added since
    sounddevice was imported; it must not be used while any stream is open.
    """
    try:
        import sounddevice as sd
    except (OSError, ImportError) as exc:  # OSError: the PortAudio library is missing
        return f"PortAudio is not available: {exc}"
    if rescan:
        from .media.sounddevice import SoundDeviceMediaManager

        SoundDeviceMediaManager.rescan()
    try:
        devices: list[dict[str, Any]] = list(sd.query_devices())
    except sd.PortAudioError as exc:
        return f"PortAudio cannot list devices: {exc}"
    inputs = [str(d["name"]) for d in devices if int(d["max_input_channels"]) > 0]
    outputs = [str(d["name"]) for d in devices if int(d["max_output_channels"]) > 0]
    if not inputs or not outputs:
        missing = "input" if not inputs else "output"
        return f"PortAudio sees no {missing} device (headless? run scripts/audio-sandbox up)"
    if virtual:
        absent = [n for n in (*VIRTUAL_INPUTS, *VIRTUAL_OUTPUTS) if n not in inputs + outputs]
        if absent:
            names = ", ".join(absent)
            return f"PortAudio lacks the virtual devices {names} (run scripts/audio-sandbox up)"
        tools = [t for t in ("paplay", "parecord", "pactl") if shutil.which(t) is None]
        if tools:
            return f"PulseAudio tools missing: {', '.join(tools)} (apt install pulseaudio-utils)"
        info = subprocess.run(
            ["pactl", "info"], env=pulse_env(), capture_output=True, timeout=10, check=False
        )
        if info.returncode != 0:
            return (
                "the audio-sandbox PulseAudio server does not answer (run scripts/audio-sandbox up)"
            )
    return None


def devices_available() -> bool:
    """True when PortAudio sees at least one input and one output device."""
    return check() is None


def pulse_env() -> dict[str, str]:
    """The environment for PulseAudio tools: points at the sandbox's server when none is set."""
    env = dict(os.environ)
    if "PULSE_SERVER" not in env:
        state = Path(os.environ.get("AUDIO_SANDBOX_DIR", "/tmp/audio-sandbox"))
        if (state / "native").exists():
            env["PULSE_SERVER"] = f"unix:{state / 'native'}"
    return env


_held = threading.local()  # re-entrancy: a second flock on a new fd would wait for ourselves


@contextlib.contextmanager
def lock_devices(timeout: float = 300.0) -> Generator[None]:
    """Hold the virtual devices for this block; other processes using this wait their turn.

    The devices are one per machine, and two test runs at once hear each
    other's audio. Every test that plays or records should hold this lock.
    Nesting it (a fixture and a test both taking it) is fine.
    """
    depth: int = getattr(_held, "depth", 0)
    if depth:
        _held.depth = depth + 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    path = Path(tempfile.gettempdir()) / "rtws-audio-devices.lock"
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SandboxError(
                        f"another process held the audio devices for {timeout:g} s ({path})"
                    ) from None
                time.sleep(0.05)
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0
    finally:
        os.close(fd)  # releases the lock
