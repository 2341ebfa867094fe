"""Audio levels for meters: RMS in dBFS mapped to 0..1.

A linear RMS meter sits near zero for normal speech; dBFS matches how loud
things sound. -60 dBFS (near silence) maps to 0 and 0 dBFS to 1, so a
full-scale sine (-3 dBFS RMS) reads 0.95 and -20 dBFS reads 0.67.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FLOOR_DB = -60.0


def mean_square(pcm: npt.NDArray[np.int16]) -> float:
    """Mean of the squared samples, full scale = 1.0.

    A plain reduction, not ``np.dot``: BLAS would start its thread pool from
    inside an audio callback.
    """
    n = len(pcm)
    if n == 0:
        return 0.0
    samples = pcm.astype(np.float32)
    return float(np.add.reduce(samples * samples)) / (n * 1073741824.0)  # 32768 ** 2


def level_of(mean_sq: float) -> float:
    """The meter value of a block with this :func:`mean_square` (10·log10 of it is dBFS)."""
    if mean_sq <= 0.0:
        return 0.0
    db = 10.0 * math.log10(mean_sq)
    return min(1.0, max(0.0, (db - FLOOR_DB) / -FLOOR_DB))


def level(pcm: npt.NDArray[np.int16]) -> float:
    return level_of(mean_square(pcm))


class LevelMeter:
    """Peak-hold meter: written by the audio thread, read (and reset) ~10 times a second.

    A float store is atomic under the GIL, so no lock is needed; a read that
    races an update loses at most one block's level, which a meter can afford.
    It runs on every block both ways, so it keeps the loudest block's mean
    square (the level is monotonic in it) and takes the logarithm only on read:
    about 2 µs a block instead of 12.
    """

    def __init__(self) -> None:
        self._max = 0.0

    def update(self, pcm: npt.NDArray[np.int16]) -> None:
        value = mean_square(pcm)
        if value > self._max:
            self._max = value

    def read(self) -> float:
        value, self._max = self._max, 0.0
        return level_of(value)
