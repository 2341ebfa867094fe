"""Test signals and the measurements the conformance checks make on them.

Synthetic signals instead of recorded speech keep the kit free of data files
and make every check exact: a tone has one frequency to find in the output,
and a chirp lines up with its received copy at exactly one lag, so "the
server got the mic audio" becomes a correlation number, not a guess.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]

#: Samples whose magnitude is above this count as sound (PCM16 full scale is 32767).
AUDIBLE = 100


def tone(seconds: float, rate: int, freq: float = 440.0, amp: float = 0.5) -> Int16Array:
    """A sine at ``freq`` Hz; what the fake server "says" in the kit's checks."""
    t = np.arange(round(seconds * rate)) / rate
    return (amp * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def chirp(
    seconds: float, rate: int, f0: float = 200.0, f1: float = 3000.0, amp: float = 0.4
) -> Int16Array:
    """A linear sweep from ``f0`` to ``f1`` Hz: unlike a tone, it aligns at one lag only."""
    t = np.arange(round(seconds * rate)) / rate
    k = (f1 - f0) / seconds
    return (amp * 32767 * np.sin(2 * np.pi * (f0 * t + 0.5 * k * t * t))).astype(np.int16)


def alignment(received: Int16Array, expected: Int16Array) -> tuple[int, float]:
    """Where ``expected`` sits inside ``received`` and how well it matches there.

    Returns ``(lag, correlation)``: ``received[lag:lag + len(expected)]`` is
    the best match and ``correlation`` its Pearson coefficient (1.0 = the same
    waveform, whatever the gain). Received audio shorter than ``expected``
    matches nothing and yields ``(0, 0.0)``.
    """
    r = received.astype(np.float64)
    e = expected.astype(np.float64)
    if len(r) < len(e) or len(e) < 2:
        return 0, 0.0
    n = len(r) + len(e)
    size = 1 << (n - 1).bit_length()
    spectrum = np.fft.rfft(r, size) * np.conj(np.fft.rfft(e, size))
    scores = np.fft.irfft(spectrum, size)[: len(r) - len(e) + 1]
    lag = int(np.argmax(scores))
    window = r[lag : lag + len(e)]
    if window.std() == 0 or e.std() == 0:
        return lag, 0.0
    return lag, float(np.corrcoef(window, e)[0, 1])


def audible_span(pcm: Int16Array) -> tuple[int, int] | None:
    """``(first, last)`` indices of audible samples, or None if ``pcm`` is silent."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > AUDIBLE)
    if not len(loud):
        return None
    return int(loud[0]), int(loud[-1])


def dominant_frequency(pcm: Int16Array, rate: int) -> float:
    """The strongest frequency in ``pcm`` (Hz), resolution ``rate / len(pcm)``."""
    if len(pcm) < 2:
        return 0.0
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    spectrum[0] = 0.0
    return float(np.argmax(spectrum) * rate / len(pcm))
