"""``python -m benchmarks.worker``: K sessions of one client kind in this process, measured.

The process connects K sessions (spread over one 2 s cycle), lets them settle,
then opens the measurement window: its own user+sys CPU (``getrusage``), its
RSS, the fake server's CPU (by pid) and every probe are read at the window's
edges. The result is one JSON object on stdout's last line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from . import stats
from .clients import BenchSession, SessionSpec
from .probes import SessionProbe, Window, schedule_lateness_ms
from .sysinfo import busy_seconds, process_cpu_seconds
from .workload import PIECE_MS, PROVIDER_RATE, barge_in_cycles, barge_in_mic, mic_cycle

#: Sessions connecting at once: enough to start 200 in a few seconds, few enough
#: that the fake's handshakes do not starve the sessions already streaming.
CONNECT_CONCURRENCY = 16


class FullCollections:
    """Python's full (generation 2) collections in the window, and how long each
    stopped the event loop: at scale they, not the work, set the tail latency."""

    def __init__(self) -> None:
        self._started = 0.0
        self._pauses: list[float] | None = None
        gc.callbacks.append(self._on_gc)

    def open(self) -> None:
        self._pauses = []

    def close(self) -> list[float]:
        gc.callbacks.remove(self._on_gc)
        pauses, self._pauses = self._pauses or [], None
        return pauses

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2 or self._pauses is None:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self._pauses.append((time.perf_counter() - self._started) * 1000.0)


def _factory(kind: str) -> Callable[[SessionSpec, SessionProbe], BenchSession]:
    if kind == "rtws":
        from .clients.rtws_client import RtwsSession

        return RtwsSession
    if kind == "bare":
        from .clients.bare import BareSession

        return BareSession
    if kind == "bare-floor":
        from .clients.bare import BareFloorSession

        return BareFloorSession
    if kind == "agents":
        from .clients.agents_client import AgentsSession

        return AgentsSession
    raise SystemExit(f"unknown client kind {kind!r}")


def _rss_bytes() -> int:
    """Resident set size of this process (``ru_maxrss`` would only give the peak)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Meter:
    """CPU seconds of something (the fake server, the whole machine) over the window."""

    def __init__(self, read: Callable[[], float | None]) -> None:
        self.read = read
        self.start: float | None = None

    def open(self) -> None:
        self.start = self.read()

    def close(self, seconds: float) -> float | None:
        end = self.read()
        if self.start is None or end is None:
            return None
        return (end - self.start) / seconds * 100.0


async def run(args: argparse.Namespace) -> dict[str, Any]:
    make = _factory(args.client)
    window = Window()
    if args.barge_in:
        cycles = barge_in_cycles(64)
        mic, mic_provider = (
            barge_in_mic(cycles, args.device_rate),
            barge_in_mic(cycles, PROVIDER_RATE),
        )
    else:
        mic, mic_provider = mic_cycle(args.device_rate), mic_cycle(PROVIDER_RATE)
    rss_base = _rss_bytes()
    probes = [SessionProbe(window) for _ in range(args.sessions)]
    sessions = [
        make(
            SessionSpec(
                url=args.url,
                index=i,
                count=args.sessions,
                window=window,
                mic=mic,
                mic_provider=mic_provider,
                device_rate=args.device_rate,
                chunk_ms=args.chunk_ms,
                prebuffer_ms=args.prebuffer_ms,
                deflate=args.deflate,
                barge_in=args.barge_in,
            ),
            probe,
        )
        for i, probe in enumerate(probes)
    ]
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def start(session: BenchSession) -> None:
        async with gate:
            await session.start()

    started = time.perf_counter()
    await asyncio.gather(*(start(s) for s in sessions))
    connect_s = time.perf_counter() - started
    if args.gc == "frozen":
        # What a long-running fleet process does after setup (the same for every
        # client): objects alive now (imports, sessions) leave the collector's
        # view, so a full pass walks only what was created since.
        gc.collect()
        gc.freeze()
    full_gc = FullCollections()
    await asyncio.sleep(args.warmup)

    pid = args.server_pid
    server = Meter(lambda: process_cpu_seconds(pid) if pid else None)
    machine = Meter(busy_seconds)
    wire_open = [_wire(s) for s in sessions]
    for session in sessions:
        session.window_opened()
    cpu_open = _cpu_seconds()
    server.open()
    machine.open()
    window.open()
    full_gc.open()
    await asyncio.sleep(args.window)
    gc_pauses = full_gc.close()
    window.close()
    cpu = _cpu_seconds() - cpu_open
    wall = window.ended - window.started
    server_pct = server.close(wall)
    machine_pct = machine.close(wall)
    rss = _rss_bytes()
    for session in sessions:
        session.collect()
    wire_close = [_wire(s) for s in sessions]
    await asyncio.gather(*(s.stop() for s in sessions), return_exceptions=True)

    k = args.sessions
    up = sum(c[0] - o[0] for o, c in zip(wire_open, wire_close, strict=True))
    down = sum(c[1] - o[1] for o, c in zip(wire_open, wire_close, strict=True))
    frames_down = sum(c[2] - o[2] for o, c in zip(wire_open, wire_close, strict=True))
    sent = sum(len(p.mic) for p in probes)
    result: dict[str, Any] = {
        "client": args.client,
        "sessions": k,
        "device_rate": args.device_rate,
        "chunk_ms": args.chunk_ms,
        "deflate": args.deflate,
        "barge_in": args.barge_in,
        "window_s": round(wall, 3),
        "connect_s": round(connect_s, 3),
        "cpu_pct": round(cpu / wall * 100.0, 2),
        "cpu_pct_per_session": round(cpu / wall * 100.0 / k, 4),
        "server_cpu_pct": None if server_pct is None else round(server_pct, 1),
        "gc": args.gc,
        "gc_full_pauses_ms": [round(p, 1) for p in gc_pauses],
        # CPU the rest of the machine used meanwhile: other work skews latency figures
        "other_cpu_pct": None
        if machine_pct is None
        else round(max(0.0, machine_pct - cpu / wall * 100.0 - (server_pct or 0.0)), 1),
        "rss_mb_per_session": round((rss - rss_base) / 2**20 / k, 3),
        "msgs_up_per_s": round(sent / wall / k, 1),
        "msgs_down_per_s": round(frames_down / wall / k, 1),
        "kbytes_up_per_s": round(up / wall / k / 1000, 1),
        "kbytes_down_per_s": round(down / wall / k / 1000, 1),
        "mic_to_wire_ms": stats.dist([(s - a) * 1000 for p in probes for _, a, s in p.mic]),
        "mic_content_ms": stats.dist([x for p in probes for x in p.mic_content_ms]),
        "wire_to_buffer_ms": stats.dist([(q - a) * 1000 for p in probes for a, q in p.rx]),
        "output_hold_ms": stats.dist([x for p in probes for x in p.out_hold_ms]),
        "send_lateness_ms": stats.dist(
            [
                x
                for p in probes
                for x in schedule_lateness_ms([(i, s) for i, _, s in p.mic], p.slot_s)
            ]
        ),
        "receive_lag_ms": stats.dist(
            [
                x
                for p in probes
                for times in p.items.values()
                for x in schedule_lateness_ms(list(enumerate(times)), PIECE_MS / 1000)
            ]
        ),
        "chunks_sent": sent,
        "chunks_expected": round(wall * 1000 / args.chunk_ms * k),
        "chunks_dropped": sum(p.chunks_dropped + p.seq_gaps for p in probes),
        "underruns": sum(p.underruns for p in probes),
        "replies": sum(len(p.items) for p in probes),
        "errors": [e for p in probes for e in p.errors][:5],
    }
    if args.barge_in:
        result["interruptions"] = _interruptions(probes)
    return result


def _wire(session: BenchSession) -> tuple[int, int, int]:
    wire = getattr(session, "wire", None)
    if wire is None or not getattr(session, "probed", True):
        return (0, 0, 0)
    return (wire.bytes_up, wire.bytes_down, wire.frames_down)


def _interruptions(probes: list[SessionProbe]) -> dict[str, Any]:
    items = [i for p in probes for i in p.interruptions]
    return {
        "count": len(items),
        "signal_to_flush_ms": stats.dist([(i.flushed_at - i.signal_at) * 1000 for i in items]),
        "signal_to_silence_ms": stats.dist(
            [max(0.0, i.last_audible_at - i.signal_at) * 1000 for i in items]
        ),
        "truncate_error_ms": stats.dist([i.audio_end_ms - i.played_ms for i in items]),
        "truncate_abs_error_ms": stats.dist([abs(i.audio_end_ms - i.played_ms) for i in items]),
        "first_delta_error_ms": stats.dist(
            [i.first_delta_ms - i.played_ms for i in items if not math.isnan(i.first_delta_ms)]
        ),
        "played_ms": stats.dist([i.played_ms for i in items]),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker", description=__doc__)
    parser.add_argument("--client", choices=("rtws", "bare", "bare-floor", "agents"), required=True)
    parser.add_argument("--url", required=True, help="the fake's ws://.../v1/realtime")
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--device-rate", type=int, default=48000)
    parser.add_argument("--chunk-ms", type=int, default=20)
    parser.add_argument("--prebuffer-ms", type=int, default=40)
    parser.add_argument("--deflate", action="store_true", help="permessage-deflate on")
    parser.add_argument("--barge-in", action="store_true", help="interruption workload")
    parser.add_argument("--server-pid", type=int, default=None)
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to a CPU")
    parser.add_argument(
        "--gc",
        choices=("default", "frozen"),
        default="default",
        help="frozen: gc.collect() + gc.freeze() once the sessions are connected",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    np.seterr(all="ignore")
    result = asyncio.run(run(args))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
