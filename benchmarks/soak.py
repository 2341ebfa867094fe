"""Soak: a long session at accelerated pacing, to show memory stays flat.

``python -m benchmarks.soak`` (``--minutes 30`` by default) runs one echo
session (the reference provider in ``tests/echo_provider.py``, its server in
loopback mode: every mic chunk comes back as bot audio) over file media that
runs as fast as the session can go. Every simulated minute it also makes the
server interrupt the bot (barge-in and truncation) and send transcripts, and
every five minutes it drops the connection so the session reconnects. An
``events()`` reader consumes every event, as an application would.

Memory is sampled (RSS after a full garbage collection, plus the count of
live Python objects) once per simulated minute. The first two minutes are
warm-up (allocators and caches fill); the figure of merit is the growth from
there to the end, and the slope of a least-squares line through the samples.
Mic audio is fed a minute at a time, so the input itself does not count.

Prints a JSON report; ``--json PATH`` also writes it to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import SecretStr
from websockets.asyncio.server import ServerConnection

from rtws import FileMediaManager, ReconnectPolicy, TransportState, rtvi

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.echo_provider
from tests.echo_provider import EchoOptions, EchoServer, EchoTransport

RATE = 16000
BLOCK_MS = 20.0
FEED_AHEAD_S = 30.0
RECONNECT_EVERY_MIN = 5
KEY = "sk-soak-0123456789"


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def speech_like(seconds: float, seed: int) -> np.ndarray[Any, np.dtype[np.int16]]:
    """A minute of voiced bursts and pauses (the content matters less than its steady flow)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = (np.sin(2 * np.pi * 0.5 * t) > 0).astype(np.float64)
    voice = np.sin(2 * np.pi * 180 * t) * 0.3 + rng.normal(0, 0.02, len(t))
    return (voice * envelope * 32767 * 0.5).astype(np.int16)


class SoakServer(EchoServer):
    """The echo server in loopback mode, minus its test records.

    ``EchoServer`` keeps every message and all mic audio it received, for
    assertions; over a long run that would be the only thing growing.
    """

    def __init__(self) -> None:
        super().__init__(api_key=KEY, echo=True)

    async def _handle(self, conn: ServerConnection) -> None:
        self.connections = [conn]  # close_all() reaches the live one; old ones are let go
        async for frame in conn:
            msg = json.loads(frame)
            kind = msg.get("type")
            if kind == "session.start":
                await conn.send(json.dumps({"type": "session.ready"}))
            elif kind == "audio":
                await self._echo(conn, base64.b64decode(msg["audio"]))
            elif kind == "text":
                reply = {"type": "transcript", "role": "bot", "text": f"you said {msg['text']}"}
                await conn.send(json.dumps(reply))


@dataclass
class Sample:
    minute: int
    wall_s: float
    rss_mib: float
    objects: int


@dataclass
class Report:
    simulated_minutes: float
    wall_s: float
    speedup: float
    rss_start_mib: float
    rss_end_mib: float
    rss_growth_mib: float
    rss_slope_mib_per_10_min: float
    objects_start: int
    objects_end: int
    reconnects: int
    interruptions: int
    events_read: int
    chunks_sent: int
    chunks_dropped: int
    mic_blocks_dropped: int
    malformed_messages: int
    samples: list[Sample] = field(default_factory=list[Sample])


def slope_per_10_min(samples: list[Sample]) -> float:
    if len(samples) < 2:
        return 0.0
    x = np.array([s.minute for s in samples], dtype=np.float64)
    y = np.array([s.rss_mib for s in samples], dtype=np.float64)
    return float(np.polyfit(x, y, 1)[0] * 10)


async def soak(minutes: float, warmup_minutes: int = 2) -> Report:
    async with SoakServer() as server:
        media = FileMediaManager(
            speech_like(FEED_AHEAD_S, 0),
            input_rate=RATE,
            realtime=False,
            block_ms=BLOCK_MS,
            keep_output=False,
        )
        options = EchoOptions(
            url=server.url,
            api_key=SecretStr(KEY),
            reconnect=ReconnectPolicy(initial_delay=0.01, max_delay=0.05, jitter=0.0),
            ping_interval=None,
        )
        transport = EchoTransport(options, media)
        events_read = 0

        async def read_events() -> None:
            nonlocal events_read
            async for _ in transport.events(maxsize=10_000):
                events_read += 1

        reader = asyncio.create_task(read_events())
        interruptions = 0
        fed_s = FEED_AHEAD_S
        samples: list[Sample] = []
        started = time.perf_counter()
        await transport.connect()
        minute = 0
        while True:
            simulated_s = media.stats.input_blocks * BLOCK_MS / 1000
            if simulated_s >= minutes * 60:
                break
            if fed_s - simulated_s < FEED_AHEAD_S:
                media.feed(speech_like(60.0, int(fed_s)))
                fed_s += 60.0
            if simulated_s >= (minute + 1) * 60:
                minute += 1
                await _each_minute(server, transport, minute)
                interruptions += 1
                if minute >= warmup_minutes:
                    gc.collect()
                    samples.append(
                        Sample(
                            minute,
                            round(time.perf_counter() - started, 2),
                            round(rss_mib(), 2),
                            len(gc.get_objects()),
                        )
                    )
            await asyncio.sleep(0.01)
        wall = time.perf_counter() - started
        stats = transport.stats
        await transport.disconnect()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        simulated_min = media.stats.input_blocks * BLOCK_MS / 60000
        return Report(
            simulated_minutes=round(simulated_min, 2),
            wall_s=round(wall, 1),
            speedup=round(simulated_min * 60 / wall, 1),
            rss_start_mib=samples[0].rss_mib if samples else 0.0,
            rss_end_mib=samples[-1].rss_mib if samples else 0.0,
            rss_growth_mib=round(samples[-1].rss_mib - samples[0].rss_mib, 2) if samples else 0.0,
            rss_slope_mib_per_10_min=round(slope_per_10_min(samples), 3),
            objects_start=samples[0].objects if samples else 0,
            objects_end=samples[-1].objects if samples else 0,
            reconnects=stats.reconnects,
            interruptions=interruptions,
            events_read=events_read,
            chunks_sent=stats.chunks_sent,
            chunks_dropped=stats.chunks_dropped_not_ready + stats.chunks_dropped_reconnecting,
            mic_blocks_dropped=media.stats.dropped_input_blocks,
            malformed_messages=stats.malformed_messages,
            samples=samples,
        )


async def _each_minute(server: EchoServer, transport: EchoTransport, minute: int) -> None:
    """What a conversation does besides streaming: barge-in, transcripts, now and then a drop."""
    if transport.state is not TransportState.READY:
        return
    await server.send({"type": "speech.started"})
    await server.send({"type": "transcript", "role": "user", "text": f"minute {minute}"})
    await server.send({"type": "speech.stopped"})
    await transport.send_message(rtvi.SendText(data=rtvi.SendTextData(content=f"m{minute}")))
    if minute % RECONNECT_EVERY_MIN == 0:
        await server.close_all(1011, "soak: scheduled drop")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=30.0, help="simulated minutes")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    report = asyncio.run(soak(args.minutes))
    text = json.dumps(asdict(report), indent=2)
    print(text)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    print(
        f"\n{report.simulated_minutes:g} simulated minutes in {report.wall_s:g} s "
        f"({report.speedup:g}x): RSS {report.rss_start_mib:.1f} -> {report.rss_end_mib:.1f} MiB "
        f"(slope {report.rss_slope_mib_per_10_min:+.2f} MiB / 10 min), "
        f"{report.reconnects} reconnects, {report.interruptions} interruptions",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
