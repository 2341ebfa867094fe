"""The demo bot's recognizer hears espeak-ng phrases and the bundled speech (word error rate).

The figures are in docs/install.md; this keeps them true. Whisper tiny.en
missed 6 of 40 words here when it was chosen (pocketsphinx: 36 of 40).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from rtws_openai.testing.demo import espeak, espeak_available
from rtws_openai.testing.whisper import WhisperRecognizer, log_mel, whisper_available

from rtws.audio import read_wav
from tests.conftest import DATA

PHRASES = [
    "please turn on the lights in the kitchen",
    "how many minutes until the next train leaves",
    "can you tell me a joke about computers",
    "set an alarm for seven thirty tomorrow morning",
    "what time is it in new york right now",
]


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def errors(reference: str, hypothesis: str) -> int:
    """Word-level edit distance (substitutions, insertions, deletions)."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (r != h))
    return row[-1]


needs_whisper = pytest.mark.skipif(
    not whisper_available(), reason="the rtws-openai 'demo' extra is not installed"
)


@needs_whisper
@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")
def test_whisper_hears_espeak_phrases_at_the_24_khz_the_fake_receives() -> None:
    recognizer = WhisperRecognizer()
    missed = 0
    for phrase in PHRASES:
        heard = recognizer.transcribe(espeak(phrase), 24000)  # espeak() gives 24 kHz
        missed += errors(phrase, heard)
        print(f"[wer] {errors(phrase, heard)}/{len(words(phrase))}: {heard!r}")
    total = sum(len(words(p)) for p in PHRASES)
    assert missed / total <= 0.2, f"word error rate {missed}/{total}"


@needs_whisper
def test_whisper_hears_the_bundled_speech_and_not_silence() -> None:
    recognizer = WhisperRecognizer()
    pcm, rate = read_wav(DATA / "speech_16k.wav")
    heard = words(recognizer.transcribe(pcm, rate))
    assert heard[:2] == ["hello", "there"] and "test" in heard, heard
    assert recognizer.transcribe(np.zeros(0, np.int16), 16000) == ""


def test_log_mel_has_whisper_s_shape_and_scale() -> None:
    tone = np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000).astype(np.float32) * 0.5
    features = log_mel(tone)
    assert features.shape == (80, 3000) and features.dtype == np.float32
    # 8 decades of range at most, scaled as (log10 + 4) / 4; the tone's band is loudest.
    assert features.max() - features.min() <= 2.0 + 1e-6
    band = int(np.argmax(features[:, 50]))
    assert 20 < band < 40  # 1 kHz sits at mel band ~27 of 80 (Slaney scale, 0-8 kHz)
