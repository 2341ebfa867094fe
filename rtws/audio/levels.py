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


def level(pcm: npt.NDArray[np.int16]) -> float:
    if len(pcm) == 0:
        return 0.0
    samples = pcm.astype(np.float32) / 32768.0
    rms = float(np.sqrt(np.mean(samples * samples)))
    if rms <= 0.0:
        return 0.0
    db = 20.0 * math.log10(rms)
    return min(1.0, max(0.0, (db - FLOOR_DB) / -FLOOR_DB))


class LevelMeter:
    """Peak-hold meter: written by the audio thread, read (and reset) ~10 times a second.

    A float store is atomic under the GIL, so no lock is needed; a read that
    races an update loses at most one block's level, which a meter can afford.
    """

    def __init__(self) -> None:
        self._max = 0.0

    def update(self, pcm: npt.NDArray[np.int16]) -> None:
        value = level(pcm)
        if value > self._max:
            self._max = value

    def read(self) -> float:
        value, self._max = self._max, 0.0
        return value
