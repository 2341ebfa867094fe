"""The client kinds compared: rtws, a bare websocket client (the floor), openai-agents.

Each drives one session of the workload and reports through a
:class:`~benchmarks.probes.SessionProbe`; the worker runs K of them in one
process and measures that process's CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ..probes import SessionProbe, Window, now
from ..workload import CYCLE_S, PROVIDER_RATE

Int16Array = npt.NDArray[np.int16]


@dataclass(frozen=True)
class SessionSpec:
    """What one session of a run needs; arrays are shared by every session of the process."""

    url: str  # ws://127.0.0.1:PORT/v1/realtime
    index: int
    count: int
    window: Window
    mic: Int16Array  # the mic signal at ``device_rate``, read from ``phase``
    mic_provider: (
        Int16Array  # the same signal at the provider's 24 kHz (clients without resampling)
    )
    device_rate: int = 48000
    chunk_ms: int = 20
    prebuffer_ms: int = 40
    deflate: bool = False
    barge_in: bool = False

    @property
    def phase_s(self) -> float:
        """Where in the first 2 s cycle this session starts: sessions are spread over a cycle."""
        return 2.0 * self.index / max(1, self.count)


class BenchSession(Protocol):
    probe: SessionProbe

    async def start(self) -> None:
        """Connect and start streaming; returns once audio flows both ways."""
        ...

    async def stop(self) -> None: ...

    def window_opened(self) -> None:
        """Snapshot counters (drops, underruns) as the measurement window opens."""
        ...

    def collect(self) -> None:
        """At the window's close: counters since :meth:`window_opened` into the probe."""
        ...


async def paced_mic(spec: SessionSpec) -> AsyncIterator[tuple[int, float, bytes]]:
    """The hand-written clients' microphone: one 24 kHz chunk per ``chunk_ms`` on a
    real-time schedule, looping over the shared signal from this session's phase.

    Yields ``(index, available_at, pcm)``; the caller sends the chunk in the loop body,
    and the next one is due ``chunk_ms`` after this one, however long that took.
    """
    mic = spec.mic_provider
    step = PROVIDER_RATE * spec.chunk_ms // 1000
    pos = round(spec.phase_s * PROVIDER_RATE) % round(CYCLE_S * PROVIDER_RATE)
    period = spec.chunk_ms / 1000
    index = 0
    due = now()
    while True:
        available = now()
        if pos + step > len(mic):
            pos = 0
        pcm = mic[pos : pos + step].tobytes()
        pos += step
        index += 1
        yield index, available, pcm
        due += period
        await asyncio.sleep(max(0.0, due - now()))


def speaker_bytes_per_tick(spec: SessionSpec) -> int:
    """PCM16 bytes at 24 kHz a "speaker" plays in one ``chunk_ms`` tick."""
    return 2 * PROVIDER_RATE * spec.chunk_ms // 1000


async def cancel_tasks(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel a hand-written client's tasks and wait for them (whatever they raised)."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
