"""The echo test bed from Python: the virtual speaker leaking into the virtual mic.

Laptop speakers are heard by the laptop's mic; a voice app that does not
cancel that echo interrupts itself. ``scripts/audio-sandbox echo on LEVEL
DELAY REFLECTIONS`` builds that path on the sandbox's virtual devices, and
:func:`echo_path` turns it on for one block and always off again, even when
the block fails::

    with echo_path(level_db=-10, delay_ms=40):
        ...  # a session on sandbox.SD_MIC / sandbox.SD_SPEAKER hears its own speaker

The route is machine-wide (one PulseAudio daemon): hold
:func:`rtws.sandbox.lock_devices` around it, as device tests do, so a
concurrent test run is not surprised by an echo.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Generator

from .sandbox import SandboxError, pulse_env, script_path


def _script(*args: str) -> str:
    result = subprocess.run(
        [str(script_path()), "echo", *args],
        env=pulse_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode not in (0, 3):  # 3: 'status' with no echo on
        raise SandboxError(
            f"audio-sandbox echo {' '.join(args)} failed ({result.returncode}): "
            f"{result.stderr.strip()}"
        )
    return result.stdout


def echo_on(level_db: float = -10.0, delay_ms: int = 40, reflections: int = 2) -> None:
    """Route the virtual speaker into the virtual mic (replacing an echo already on)."""
    _script("on", f"{level_db:g}", str(delay_ms), str(reflections))


def echo_off() -> None:
    """Remove the echo routes (idempotent)."""
    _script("off")


def echo_routes() -> list[str]:
    """The echo loopbacks now loaded (``pactl`` module lines); empty when the echo is off."""
    return [line for line in _script("status").splitlines() if "module-loopback" in line]


@contextlib.contextmanager
def echo_path(level_db: float = -10.0, delay_ms: int = 40, reflections: int = 2) -> Generator[None]:
    """The echo test bed for the duration of the block; removed however the block ends."""
    try:
        echo_on(level_db, delay_ms, reflections)
        yield
    finally:
        echo_off()
