"""The benchmark workload, shared by the fake server and every client so results compare.

Per session: PCM16 mono audio sent in 20 ms ``input_audio_buffer.append`` chunks
on a real-time schedule (50 messages a second up). The mic signal repeats a 2 s
cycle: a short spoken syllable (0.1 s), then a quiet room. The fake server's VAD
(``silence_duration_ms`` 80) ends a turn every 2 s of audio and streams a 1.8 s
reply in 40 ms ``response.output_audio.delta`` pieces, paced in real time, with
transcript deltas (about 37 messages a second down, all events counted).

Why the utterance is short: the reply must end before the next utterance starts.
openai-agents barges in (truncate + cancel) on every ``speech_started`` whatever
``interrupt_response`` says, so with overlapping speech it would drop most of each
reply and do less work than the clients it is compared with. Mic content does not
change what a client spends: every chunk is sent, speech or not.

Sessions start staggered over one cycle so K sessions do not all receive their
replies in the same 40 ms: a real fleet of users is not synchronised either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]

PROVIDER_RATE = 24000
DEVICE_RATE = 48000
CHUNK_MS = 20
PIECE_MS = 40
CYCLE_S = 2.0
SPEECH_S = 0.1
REPLY_S = 1.8
#: Twelve words: with 45 audio pieces that is one transcript delta every ~4 pieces.
REPLY_TEXT = "Sure, here is a short answer that takes under two seconds to say."
#: Silence after speech that ends a turn in the steady workload.
VAD_SILENCE_MS = 80
API_KEY = "sk-fake-rtws-0123456789abcdef"  # the fake server's DEFAULT_API_KEY


def speech_like(
    seconds: float,
    rate: int,
    seed: int = 0,
    level: float = 0.25,
    syllable_s: tuple[float, float] = (0.12, 0.24),
) -> Int16Array:
    """Voiced bursts (a few harmonics under a syllable envelope) over a low noise floor.

    Loud enough for the fake's energy VAD (about -20 dBFS RMS), with pitch and
    syllable length varying so resamplers and meters see speech-like, not tonal,
    input. The noise floor keeps the signal free of exact zeros, so the last
    non-zero sample of an interrupted reply is the last sample played.
    """
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    out = np.zeros(n, dtype=np.float64)
    pos = 0
    while pos < n:
        syllable = round(rate * rng.uniform(*syllable_s))
        end = min(n, pos + syllable)
        t = np.arange(end - pos) / rate
        pitch = rng.uniform(110.0, 220.0)
        envelope = np.sin(np.pi * np.arange(end - pos) / syllable) ** 2
        voiced = sum(
            (0.6**h) * np.sin(2 * np.pi * pitch * (h + 1) * t + rng.uniform(0, 2 * np.pi))
            for h in range(4)
        )
        out[pos:end] = envelope * voiced
        pos = end
    out *= level / max(1e-9, float(np.sqrt(np.mean(out**2))))
    noise = rng.normal(0.0, 10.0 ** (-62 / 20), n)
    return np.round(np.clip(out + noise, -1.0, 1.0) * 32767.0).astype(np.int16)


def silence(seconds: float, rate: int, seed: int = 1) -> Int16Array:
    """A quiet room (-66 dBFS noise), not digital zero: what a real mic delivers."""
    rng = np.random.default_rng(seed)
    return np.round(rng.normal(0.0, 16.0, round(seconds * rate))).astype(np.int16)


def mic_cycle(rate: int) -> Int16Array:
    """One 2 s cycle of the steady workload: one 0.1 s syllable, then a quiet room."""
    syllable = speech_like(SPEECH_S, rate, seed=7, syllable_s=(SPEECH_S, SPEECH_S))
    return np.concatenate([syllable, silence(CYCLE_S - SPEECH_S, rate)])


def reply_audio() -> Int16Array:
    """The fake's 1.8 s reply at the provider rate."""
    return speech_like(REPLY_S, PROVIDER_RATE, seed=11, level=0.2)


@dataclass(frozen=True)
class BargeIn:
    """One interruption cycle: speech, then a pause long enough for a reply to start.

    With the API's default VAD (500 ms of silence ends a turn) the reply starts
    0.5 s into the pause; the user speaks again ``pause_s`` after their last word,
    cutting the reply about ``pause_s - 0.5 s`` in (plus the VAD's 30 ms onset).
    """

    speech_s: float
    pause_s: float


def barge_in_cycles(count: int, seed: int = 3) -> list[BargeIn]:
    """Pauses spread so interruptions land anywhere in the first ~1.2 s of a reply."""
    rng = np.random.default_rng(seed)
    return [BargeIn(0.9, float(rng.uniform(0.7, 1.7))) for _ in range(count)]


def barge_in_mic(cycles: list[BargeIn], rate: int) -> Int16Array:
    parts: list[Int16Array] = []
    for i, cycle in enumerate(cycles):
        parts.append(speech_like(cycle.speech_s, rate, seed=100 + i))
        parts.append(silence(cycle.pause_s, rate, seed=200 + i))
    return np.concatenate(parts)
