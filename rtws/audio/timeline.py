"""The far-end reference on a clock: what the speaker played, findable by when it played.

An echo canceller compares the mic with what the speaker played *at the
moment the echo was captured*. Mic and speaker are two PortAudio streams with
their own threads, block timings and latencies (maybe two devices at two
rates), so "the block the output callback handled just before this mic block"
is not it: that block reaches the air an output latency later, and the mic
block left the air an input latency earlier. What lines them up is
PortAudio's stream timestamps: each output block comes with the time its
first sample reaches the DAC, each input block with the time its first
sample left the ADC. This module keeps the played samples in a ring indexed
by that time, at the mic's rate, and reads them back for a mic block's time.

Timestamps jitter, and an AEC wants a continuous reference: a block that
lands within ``tolerance`` of where the previous one ended is placed right
after it; only a bigger jump (a stream that stopped, a mute) re-anchors on
the timestamp, and is counted as a resync (a device switch re-anchors
explicitly). The tolerance is 50 ms, more than two blocks: through
PulseAudio a mic block's stamp now and then reads exactly one block (20 ms)
off while its audio is contiguous, and following that stamp shifted the
echo against its reference until AEC3 re-learned it — long enough for the
bot to interrupt itself (measured on the test bed, one session in eight).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]


class ReferenceTimeline:
    """A ring of played samples at ``rate``, addressed by ``time.perf_counter()`` seconds.

    Single-threaded: the consumer (the mic path) calls both :meth:`write` and
    :meth:`read`, after collecting the output callback's blocks elsewhere.
    """

    def __init__(self, rate: int, history_s: float = 4.0, tolerance_s: float = 0.05) -> None:
        self.rate = rate
        self.capacity = max(1, round(rate * history_s))
        self.tolerance = max(1, round(rate * tolerance_s))
        self._ring = np.zeros(self.capacity, dtype=np.int16)
        self._origin: float | None = None  # the time of sample index 0
        self._write_start = 0  # the first index ever written
        self._write_end = 0  # index after the last sample written
        self._written = False
        self._reanchor = False
        self._read_next: int | None = None
        #: Samples the mic asked for that had not been written yet (the reference came late).
        self.late_samples = 0
        #: Times a block did not continue the previous one (timestamps jumped).
        self.write_resyncs = 0
        self.read_resyncs = 0

    def index_at(self, t: float) -> int:
        if self._origin is None:
            self._origin = t
        return round((t - self._origin) * self.rate)

    @property
    def written_until(self) -> int:
        return self._write_end

    def write(self, samples: Int16Array, start_time: float) -> None:
        """Store a played block whose first sample reached the DAC at ``start_time``."""
        n = len(samples)
        if not n:
            return
        start = self.index_at(start_time)
        if self._written and not self._reanchor and abs(start - self._write_end) <= self.tolerance:
            start = self._write_end
        elif self._written and not self._reanchor:
            self.write_resyncs += 1
        else:
            self._written = True
            self._write_start = self._write_end = start
        if start > self._write_end:
            # Nothing was played in between: the ring must say silence there.
            self._fill(self._write_end, min(start, self._write_end + self.capacity), None)
        self._fill(start, start + n, samples)
        self._write_end = max(self._write_end, start + n)
        self._reanchor = False

    def read(self, n: int, start_time: float) -> Int16Array:
        """``n`` samples of what was played from ``start_time`` on (zeros where nothing was)."""
        return self.read_at(self.locate(n, start_time), n)

    def locate(self, n: int, start_time: float) -> int:
        """Where the ``n`` samples read for ``start_time`` start: right after the previous
        read when the stamp agrees within the tolerance, else at the stamp (a resync)."""
        start = self.index_at(start_time)
        expected = self._read_next
        if expected is not None and abs(start - expected) <= self.tolerance:
            start = expected
        elif expected is not None:
            self.read_resyncs += 1
        self._read_next = start + n
        return start

    def read_at(self, start: int, n: int) -> Int16Array:
        """``n`` samples from index ``start``; what is not written yet counts as late."""
        out = np.zeros(n, dtype=np.int16)
        # Only what is still in the ring and already written is real.
        lo = max(start, self._write_end - self.capacity, self._write_start)
        hi = min(start + n, self._write_end)
        if start + n > self._write_end:
            self.late_samples += start + n - max(start, self._write_end)
        if hi > lo:
            out[lo - start : hi - start] = self._slice(lo, hi)
        return out

    def forget_alignment(self) -> None:
        """A device changed: the next blocks, read and written, anchor on their timestamps."""
        self._read_next = None
        self._reanchor = True

    def _fill(self, lo: int, hi: int, samples: Int16Array | None) -> None:
        if hi <= lo:
            return
        if hi - lo > self.capacity:  # only the newest capacity samples can be kept
            if samples is not None:
                samples = samples[hi - lo - self.capacity :]
            lo = hi - self.capacity
        a, b = lo % self.capacity, hi % self.capacity
        if a < b:
            self._ring[a:b] = 0 if samples is None else samples
        else:
            split = self.capacity - a
            if samples is None:
                self._ring[a:] = 0
                self._ring[:b] = 0
            else:
                self._ring[a:] = samples[:split]
                self._ring[:b] = samples[split:]

    def _slice(self, lo: int, hi: int) -> Int16Array:
        a, b = lo % self.capacity, hi % self.capacity
        if a < b:
            return self._ring[a:b]
        return np.concatenate((self._ring[a:], self._ring[:b]))
