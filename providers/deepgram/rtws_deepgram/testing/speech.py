"""The fake agent's voice and ears.

Tests get a deterministic, speech-like tone (:func:`speech_like_tone`) as
long as the text would take to say. The demo (``python -m
rtws_deepgram.testing``, ``rtws talk deepgram``) really speaks and listens
when the OpenAI provider's demo helpers are installed: espeak-ng for the
voice, pocketsphinx for the words. They are imported, not copied, and only
when asked for: the fake itself needs neither.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import numpy.typing as npt
import soxr

Int16Array = npt.NDArray[np.int16]


def speech_like_tone(text: str, rate: int) -> Int16Array:
    """An audible stand-in for ``text`` spoken: one voiced burst per word, pauses between.

    Each word lasts about 60 ms a letter, with a pitch of its own (from its
    letters) and a syllable-like loudness contour, so replies differ audibly
    and a VAD or level meter sees speech-shaped audio.
    """
    words = text.split() or ["..."]
    gap = np.zeros(int(0.04 * rate), np.int16)
    parts: list[Int16Array] = []
    for word in words:
        n = max(1, int(min(0.6, 0.06 * len(word) + 0.08) * rate))
        t = np.arange(n) / rate
        pitch = 150.0 + sum(map(ord, word)) % 90
        envelope = np.sin(np.pi * t / t[-1]) ** 2 if n > 1 else np.ones(1)
        voice = np.sin(2 * np.pi * pitch * t) + 0.4 * np.sin(4 * np.pi * pitch * t)
        parts += [(0.35 * 32767 * envelope * voice / 1.4).astype(np.int16), gap]
    return np.concatenate(parts[:-1])


def resample(pcm: Int16Array, rate_in: int, rate_out: int) -> Int16Array:
    if rate_in == rate_out or pcm.size == 0:
        return pcm
    out = soxr.resample(pcm.astype(np.float32), rate_in, rate_out)
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


class Voice:
    """Text → PCM16 at a rate; with ``real=True`` espeak-ng (when available), else the tone."""

    def __init__(self, *, real: bool = False) -> None:
        self._demo: Any = _demo_helpers() if real else None
        self.speaks = self._demo is not None and bool(self._demo.espeak_available())
        self.hears = self._demo is not None and bool(self._demo.pocketsphinx_available())
        self._recognizer: Any = self._demo.SphinxRecognizer() if self._demo and self.hears else None

    async def say(self, text: str, rate: int) -> Int16Array:
        if not self.speaks:
            return speech_like_tone(text, rate)
        pcm: Int16Array = await asyncio.to_thread(self._demo.espeak, text)
        return resample(pcm, 24000, rate)  # espeak() answers at the OpenAI rate, 24 kHz

    async def transcribe(self, pcm: Int16Array, rate: int) -> str | None:
        """The words in ``pcm``, or None when the fake has no speech recognition."""
        if self._recognizer is None:
            return None
        return str(await asyncio.to_thread(self._recognizer.transcribe, pcm, rate))


def _demo_helpers() -> Any:
    try:
        from rtws_openai.testing import demo
    except ImportError:
        return None
    return demo
