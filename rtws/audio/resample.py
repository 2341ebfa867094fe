"""Streaming sample-rate conversion between device rates and provider rates.

soxr keeps filter state across calls, so audio resampled chunk by chunk is
the same as resampling it in one piece: no clicks at chunk borders.

Quality is latency here: the longer a recipe's filter, the more samples it
holds back before answering. Measured on 20 ms blocks (soxr 1.1):

=========  ===========  ===========  ===========
recipe     48k → 16k    48k → 24k    24k → 48k
=========  ===========  ===========  ===========
``"LQ"``   6 ms         1 ms         3 ms
``"MQ"``   15 ms        26 ms        15 ms
``"HQ"``   21 ms        32 ms        29 ms
=========  ===========  ===========  ===========

Speech for a model at 16 or 24 kHz does not need more than ``"LQ"`` (a real
band-limited filter, 16-bit precision), so that is the default; set
``TransportOptions.resample_quality`` for music-grade conversion.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

Int16Array = npt.NDArray[np.int16]


class StreamResampler:
    """PCM16 mono resampler that keeps its state between chunks (passthrough at equal rates)."""

    def __init__(self, in_rate: int, out_rate: int, quality: str = "LQ") -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {in_rate} -> {out_rate}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.quality = quality
        self._stream: soxr.ResampleStream | None = None
        self.reset()

    def reset(self) -> None:
        """Forget buffered history (after a flush: old audio must not leak into new)."""
        if self.in_rate == self.out_rate:
            self._stream = None
        else:
            self._stream = soxr.ResampleStream(
                self.in_rate, self.out_rate, 1, dtype="int16", quality=self.quality
            )

    def process(self, pcm: Int16Array) -> Int16Array:
        if self._stream is None:
            return pcm
        return self._stream.resample_chunk(pcm)

    def flush(self) -> Int16Array:
        """The samples still held back by the filter (end of a stream), then a fresh start."""
        if self._stream is None:
            return np.zeros(0, dtype=np.int16)
        tail = self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
        self.reset()
        return tail
