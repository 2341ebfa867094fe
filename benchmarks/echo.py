"""``python -m benchmarks.echo``: what echo cancellation costs a session, in CPU and mic latency.

K sessions of ``OpenAIRealtimeTransport`` talk to the benchmark's fake server
(its own process) through a simulated 48 kHz sound card: file media paced in
real time that, like ``SoundDeviceMediaManager``, hands the canceller every
block it plays with its DAC time and every mic block with its ADC time. The
same run is made twice, in two fresh processes, with ``echo_cancellation``
off and on; each measures its own user+sys CPU over a window after the
sessions settled. The latency the canceller adds to the mic has two parts:
AEC3's own constant delay (its filter bank; measured here by
cross-correlating a burst train before and after the canceller), and the
time each ``process()`` call takes (20 ms device blocks are whole 10 ms
frames, so nothing waits for framing).

Prints one JSON object: ``cpu_percent`` off/on (of one core, for K
sessions), ``ratio`` on/off, ``per_session_ms_per_s`` of CPU,
``aec3_constant_delay_ms``, ``processing_ms_per_block`` (wall time in
``process()``, p50/p99/max: on a busy machine its tail is the scheduler's),
``added_mic_latency_ms_p50`` (the two together) and ``aec_cpu_per_block_ms``
(the thread's CPU time in ``process()``, which neighbours do not inflate).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .workload import API_KEY, DEVICE_RATE, mic_cycle

Int16Array = npt.NDArray[np.int16]
ROOT = Path(__file__).resolve().parent
#: The simulated card's output latency: the DAC plays a block this long after it is pulled.
OUTPUT_LATENCY_S = 0.04


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _arm(url: str, sessions: int, warmup: float, window: float, aec: bool) -> dict[str, Any]:
    from rtws_openai import OpenAIRealtimeOptions, OpenAIRealtimeTransport

    from rtws import FileMediaManager
    from rtws.audio import echo

    block_ms: list[float] = []
    block_cpu_ms: list[float] = []
    process = echo.EchoCanceller.process

    def timed(self: echo.EchoCanceller, mic: Int16Array, adc_time: float) -> Int16Array:
        started, cpu = time.perf_counter(), time.thread_time()
        out = process(self, mic, adc_time)
        block_cpu_ms.append((time.thread_time() - cpu) * 1000.0)
        block_ms.append((time.perf_counter() - started) * 1000.0)
        return out

    echo.EchoCanceller.process = timed  # type: ignore[method-assign]

    class CardMedia(FileMediaManager):
        """File media that behaves like a sound card towards the echo canceller."""

        echo_cancellation_default = True
        supports_echo_cancellation = True

        def _push_input(
            self,
            block: Int16Array | None,
            captured_at: float | None = None,
            adc_time: float | None = None,
        ) -> None:
            stamp = time.perf_counter()
            adc = stamp - len(block) / DEVICE_RATE if block is not None else None
            super()._push_input(block, stamp, adc)

        def _pull_output(self, out: Int16Array) -> int:
            real = super()._pull_output(out)
            self._push_far(out, time.perf_counter() + OUTPUT_LATENCY_S, DEVICE_RATE)
            return real

    cycle = mic_cycle(DEVICE_RATE)
    transports: list[OpenAIRealtimeTransport] = []
    for k in range(sessions):
        media = CardMedia(
            np.roll(np.tile(cycle, 200), -k * len(cycle) // sessions),
            input_rate=DEVICE_RATE,
            output_rate=DEVICE_RATE,
            realtime=True,
            keep_output=False,
        )
        options = OpenAIRealtimeOptions.model_validate(
            {"api_key": API_KEY, "base_url": url, "echo_cancellation": aec}
        )
        transport = OpenAIRealtimeTransport(options, media)
        await transport.connect()
        transports.append(transport)
    try:
        await asyncio.sleep(warmup)
        block_ms.clear()
        block_cpu_ms.clear()
        cpu, wall = _cpu_seconds(), time.perf_counter()
        await asyncio.sleep(window)
        cpu, wall = _cpu_seconds() - cpu, time.perf_counter() - wall
        running = [t.media.echo_cancellation for t in transports]
    finally:
        for transport in transports:
            await transport.disconnect()
    result: dict[str, Any] = {
        "aec": aec,
        "sessions": sessions,
        "cancelling": sum(running),
        "cpu_percent": round(cpu / wall * 100.0, 2),
        "per_session_ms_per_s": round(cpu / wall / sessions * 1000.0, 3),
    }
    for name, samples in (("aec_block_ms", block_ms), ("aec_block_cpu_ms", block_cpu_ms)):
        if samples:
            ms = np.array(samples)
            result[name] = {
                "blocks": len(ms),
                "p50": round(float(np.percentile(ms, 50)), 3),
                "p99": round(float(np.percentile(ms, 99)), 3),
                "max": round(float(ms.max()), 3),
            }
    return result


def algorithmic_delay_ms(rate: int = DEVICE_RATE) -> float:
    """AEC3's constant mic delay at ``rate``: where a burst train comes out of the canceller."""
    from rtws.audio.echo import EchoCanceller

    frame = rate // 100
    t = np.arange(frame) / rate
    burst = (8000 * np.sin(2 * np.pi * 1000 * t) * np.hanning(frame)).astype(np.int16)
    mic = np.zeros(rate * 3, np.int16)
    for k in range(5, 30):
        mic[k * rate // 10 : k * rate // 10 + frame] = burst
    canceller = EchoCanceller(rate)
    silence = np.zeros(2 * frame, np.int16)
    out: list[Int16Array] = []
    for i in range(0, len(mic), 2 * frame):
        canceller.add_reference(silence, i / rate, rate)
        out.append(canceller.process(mic[i : i + 2 * frame], i / rate))
    x, y = mic[rate : 2 * rate].astype(np.float64), np.concatenate(out).astype(np.float64)
    lag = max(range(3 * frame), key=lambda k: float(x @ y[rate + k : 2 * rate + k]))
    return lag / rate * 1000.0


def _run_arm(url: str, args: argparse.Namespace, aec: bool) -> dict[str, Any]:
    command = [
        sys.executable, "-m", "benchmarks.echo",
        "--arm", "on" if aec else "off",
        "--url", url,
        "--sessions", str(args.sessions),
        "--warmup", str(args.warmup),
        "--window", str(args.window),
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT.parent, timeout=600, check=False
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise SystemExit(f"the {'on' if aec else 'off'} arm failed: {done.stderr[-2000:]}")
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.echo", description=__doc__)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before the window")
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--arm", choices=["on", "off"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.arm is not None:
        result = asyncio.run(
            _arm(args.url, args.sessions, args.warmup, args.window, args.arm == "on")
        )
        print(json.dumps(result))
        return
    from .run import Server
    from .sysinfo import machine

    delay_ms = algorithmic_delay_ms()
    server = Server(None)
    try:
        off = _run_arm(server.url, args, aec=False)
        on = _run_arm(server.url, args, aec=True)
    finally:
        server.stop()
    processing_p50 = float(on["aec_block_ms"]["p50"]) if "aec_block_ms" in on else 0.0
    print(
        json.dumps(
            {
                "benchmark": "echo cancellation, 48 kHz simulated devices",
                "machine": machine(),
                "off": off,
                "on": on,
                "ratio": round(on["cpu_percent"] / max(off["cpu_percent"], 1e-9), 2),
                "aec3_constant_delay_ms": round(delay_ms, 2),
                "processing_ms_per_block": on.get("aec_block_ms"),
                "added_mic_latency_ms_p50": round(delay_ms + processing_p50, 2),
                "aec_cpu_per_block_ms": on.get("aec_block_cpu_ms"),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
