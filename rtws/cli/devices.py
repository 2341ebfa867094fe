"""Which listed devices a person means, and the format a session really opens each at.

PortAudio lists more than the microphones and speakers a user has. Through a
sound server (PulseAudio, PipeWire) its ALSA host API shows:

- ``default`` and ``pulse``: two names for the sound server's default device;
- monitors: the sound a speaker plays, offered as a "microphone";
- the sink that feeds a virtual microphone (a null sink whose monitor is remapped
  into the mic, as ``scripts/audio-sandbox`` and many virtual-cable setups do):
  playing the bot there speaks into the user's own mic.

The ``i``/``s`` keys skip those, and ``rtws devices`` labels them. The same
listing reports PortAudio's numbers for the ALSA plugin devices (44.1 kHz, 32
channels, whatever the sound server really runs), so ``rtws devices`` shows the
rate and channels a session's stream would open at instead, as negotiated by the
media manager itself.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Sequence

from ..errors import DeviceError
from ..media.base import AudioDevice
from ..media.sounddevice import SoundDeviceMediaManager
from .keys import next_device

#: Names the ALSA host API gives the sound server's default device; ``default`` is kept.
SERVER_ALIASES = ("pulse", "pipewire", "sysdefault")
#: Suffixes of the sink that feeds a virtual microphone of the same base name.
FEED_SUFFIXES = ("_src", "-src", " src", "_feed", "-feed", "_sink", "-sink")
MONITOR_SUFFIXES = (".monitor", "_monitor", "-monitor", " monitor")


@functools.cache
def server_default(kind: str) -> str | None:
    """The sound server's default sink or source name (``pactl``), or None if unknown.

    Asked once per process: it tells which listed device ``default`` stands for.
    """
    if shutil.which("pactl") is None:
        return None
    what = "get-default-source" if kind == "audioinput" else "get-default-sink"
    try:
        done = subprocess.run(
            ["pactl", what], capture_output=True, text=True, timeout=2, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    name = done.stdout.strip()
    return name if done.returncode == 0 and name else None


def device_note(device: AudioDevice, others: Sequence[AudioDevice]) -> str | None:
    """Why a user would not mean ``device`` (a monitor, an alias, a mic's feed), or None.

    ``others`` is every device listed with it, mics and speakers, for the names
    a feed or a monitor refers to.
    """
    name = device.name
    lowered = name.casefold()
    names = {d.name for d in others if d.kind == device.kind}
    if lowered in SERVER_ALIASES and "default" in names:
        return "alias of default"
    if lowered == "default":
        target = server_default(device.kind)
        if target is not None and target != "default" and target in names:
            return f"alias of {target}"
    if device.kind == "audioinput":
        for suffix in MONITOR_SUFFIXES:
            if lowered.endswith(suffix):
                return f"monitor of {name[: -len(suffix)]}"
        if lowered.startswith("monitor of "):
            return f"monitor of {name[len('monitor of ') :]}"
        return None
    mics = {d.name for d in others if d.kind == "audioinput"}
    for suffix in FEED_SUFFIXES:
        if lowered.endswith(suffix) and name[: -len(suffix)] in mics:
            return f"feeds mic {name[: -len(suffix)]}"
    return None


def next_switch(
    devices: Sequence[AudioDevice],
    current: AudioDevice | None,
    everything: Sequence[AudioDevice],
) -> AudioDevice | None:
    """The device the ``i``/``s`` key moves to from ``current``, or None if there is no other.

    Devices with a note are skipped; a ``current`` that is an alias (``default``)
    counts as the device it stands for, so the key never "switches" to the same one.
    """
    if current is not None:
        note = device_note(current, everything) or ""
        target = note.removeprefix("alias of ") if note.startswith("alias of ") else None
        current = next((d for d in devices if d.name == target), current)
    chosen = current.id if current is not None else None
    targets = [d for d in devices if device_note(d, everything) is None or d.id == chosen]
    return next_device(targets, current)


def stream_format(media: SoundDeviceMediaManager, device: AudioDevice) -> str:
    """``"48000 Hz x1"``: what a session's stream opens ``device`` at, or why it cannot."""
    try:
        rate, channels = media.stream_format(device)
    except DeviceError as exc:
        return f"unusable: {str(exc).split(';')[0]}"
    return f"{rate} Hz x{channels}"
