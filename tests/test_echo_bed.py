"""The sandbox's echo test bed: ``audio-sandbox echo on|off|status`` and ``rtws.sandbox_echo``."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from rtws import sandbox
from rtws.sandbox_echo import echo_off, echo_on, echo_path, echo_routes

Int16Array = npt.NDArray[np.int16]
RATE = 48000

pytestmark = pytest.mark.devices


@pytest.fixture(autouse=True)
def echo_always_removed() -> Iterator[None]:
    try:
        yield
    finally:
        echo_off()
        assert echo_routes() == []


def click_response(level_db: float, delay_ms: int, reflections: int) -> tuple[float, float]:
    """Play a click on the virtual speaker; (delay ms, level dB) of its echo in the virtual mic.

    Both times come from PortAudio's stream timestamps, so the delay is the echo
    path from the speaker's DAC to the mic's ADC, as a canceller sees it.
    """
    import sounddevice as sd

    played: list[float] = []
    heard: list[tuple[float, Int16Array]] = []
    calls = 0

    def out_cb(outdata: Int16Array, frames: int, ti: Any, status: Any) -> None:
        nonlocal calls
        outdata.fill(0)
        calls += 1
        if calls == 25:
            outdata[:48, 0] = 20000
            played.append(ti.outputBufferDacTime + time.perf_counter() - ti.currentTime)

    def in_cb(indata: Int16Array, frames: int, ti: Any, status: Any) -> None:
        heard.append(
            (ti.inputBufferAdcTime + time.perf_counter() - ti.currentTime, indata[:, 0].copy())
        )

    opts: dict[str, Any] = {"samplerate": RATE, "channels": 1, "dtype": "int16", "blocksize": 960}
    with (
        echo_path(level_db, delay_ms, reflections),
        sd.InputStream(device=sandbox.SD_MIC, callback=in_cb, latency="low", **opts),
        sd.OutputStream(device=sandbox.SD_SPEAKER, callback=out_cb, latency="low", **opts),
    ):
        time.sleep(1.5)
    assert played, "the click was never played"
    for stamp, block in heard:
        loud = np.flatnonzero(np.abs(block) > 300)
        if loud.size and stamp > played[0] - 0.01:
            peak = float(np.abs(block[loud[0] : loud[0] + 48]).max())
            return (stamp + loud[0] / RATE - played[0]) * 1000.0, 20 * np.log10(peak / 20000)
    raise AssertionError("the click never came back through the mic")


@pytest.mark.parametrize(("level_db", "delay_ms"), [(-10, 40), (-3, 120)])
def test_the_speaker_comes_back_through_the_mic_at_the_level_and_delay_asked(
    level_db: float, delay_ms: int
) -> None:
    delay, level = click_response(level_db, delay_ms, 0)
    print(f"\n[measured] echo of a click: {delay:.1f} ms after the DAC, {level:.1f} dB")
    assert delay_ms - 10 <= delay <= delay_ms + 30
    assert abs(level - level_db) <= 1.5


def test_reflections_are_later_and_quieter_copies() -> None:
    echo_on(-10, 40, 3)
    routes = echo_routes()
    assert [r.split("latency_msec=")[1].split()[0] for r in routes] == ["40", "77", "128", "193"]
    out = subprocess.run(
        ["pactl", "list", "sink-inputs"], env=sandbox.pulse_env(), capture_output=True, text=True
    ).stdout
    for level in ("-10.00 dB", "-16.00 dB", "-22.00 dB", "-28.00 dB"):
        assert level in out
    echo_on(-6, 60, 0)  # replaces what was on
    assert len(echo_routes()) == 1


def test_the_echo_is_removed_even_when_the_block_fails() -> None:
    routes: list[str] = []

    def failing_test() -> None:
        with echo_path(-10, 40):
            routes.extend(echo_routes())
            raise RuntimeError("a failing test")

    with pytest.raises(RuntimeError):
        failing_test()
    assert len(routes) == 3 and echo_routes() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["on", "loud"], "LEVEL_DB must be a number"),
        (["on", "-10", "2"], "DELAY_MS must be an integer from 5 to 2000"),
        (["on", "-10", "40", "12"], "REFLECTIONS must be 0 to 9"),
        (["sideways"], "usage: audio-sandbox echo on|off|status"),
    ],
)
def test_bad_echo_arguments_are_refused_with_the_reason(args: list[str], message: str) -> None:
    done = subprocess.run(
        [str(sandbox.script_path()), "echo", *args], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0 and message in done.stderr
    assert echo_routes() == []
