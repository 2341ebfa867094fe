"""The client kinds compared: rtws, a bare websocket client (the floor), openai-agents.

Each drives one session of the workload and reports through a
:class:`~benchmarks.probes.SessionProbe`; the worker runs K of them in one
process and measures that process's CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ..probes import SessionProbe, Window

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
