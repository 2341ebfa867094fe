"""``DemoBot``: a no-API-key voice bot that really listens and really speaks.

It transcribes the user's turn offline with Whisper tiny.en (:mod:`.whisper`,
the ``demo`` extra of rtws-openai; pocketsphinx, far less accurate, if only it
is installed) and answers
"You said: <words>. <a small twist>" with espeak-ng (Debian ``espeak-ng``),
resampled to the API's 24 kHz. Both are optional: without ASR it says how
much speech it heard, without espeak-ng it plays the user's own voice back a
little faster and higher, and the transcript says which one is missing. ASR
and TTS block, so they run in worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import io
import shutil
import subprocess
import threading
import wave
from typing import Any

import numpy as np
import soxr

from .bots import SAMPLE_RATE, Int16Array, Reply, Turn, stand_in_speech
from .images import describe_picture
from .whisper import WhisperRecognizer, whisper_available

ASR_RATE = 16000
#: Played back this much faster (and higher) when there is no TTS.
ECHO_SPEEDUP = 1.15
NO_ASR_NOTE = "(Speech recognition is off: pip install 'rtws-openai[demo]' to hear your words.)"
NO_TTS_NOTE = "(espeak-ng is not installed, so here is your own voice, a little faster.)"
GREETING = "Hello! I am the rtws demo bot. Say something and I will repeat it."


def pocketsphinx_available() -> bool:
    return importlib.util.find_spec("pocketsphinx") is not None


def recognizer_name() -> str | None:
    """The recognizer the demo bot will use: the best one installed, or None."""
    if whisper_available():
        return "whisper tiny.en"
    if pocketsphinx_available():
        return "pocketsphinx"
    return None


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def to_int16(samples: Any) -> Int16Array:
    array = np.asarray(samples, dtype=np.float64)
    return np.clip(np.round(array), -32768, 32767).astype(np.int16)


class SphinxRecognizer:
    """pocketsphinx with its bundled en-US model; one decoder, used by one thread at a time."""

    def __init__(self) -> None:
        self._decoder: Any = None
        self._lock = threading.Lock()

    def transcribe(self, pcm: Int16Array, rate: int = SAMPLE_RATE) -> str:
        if pcm.size == 0:
            return ""
        audio = to_int16(soxr.resample(pcm.astype(np.float32), rate, ASR_RATE))
        with self._lock:
            if self._decoder is None:
                pocketsphinx: Any = importlib.import_module("pocketsphinx")
                self._decoder = pocketsphinx.Decoder(samprate=ASR_RATE, loglevel="FATAL")
            decoder = self._decoder
            decoder.start_utt()
            decoder.process_raw(audio.tobytes(), full_utt=True)
            decoder.end_utt()
            hypothesis = decoder.hyp()
        return str(hypothesis.hypstr).strip() if hypothesis is not None else ""


def espeak(text: str, voice: str = "en-us", words_per_minute: int = 165) -> Int16Array:
    """``text`` spoken by espeak-ng, as PCM16 at 24 kHz (text goes in on stdin, not argv)."""
    result = subprocess.run(
        ["espeak-ng", "--stdout", "-v", voice, "-s", str(words_per_minute)],
        input=text.encode(),
        capture_output=True,
        timeout=60,
        check=True,
    )
    with wave.open(io.BytesIO(result.stdout)) as wav:
        rate = wav.getframerate()
        # espeak-ng streams to stdout, so the header's length is a placeholder: read all.
        frames = wav.readframes(wav.getnframes())
    pcm = np.frombuffer(frames[: len(frames) // 2 * 2], dtype="<i2")
    return to_int16(soxr.resample(pcm.astype(np.float32), rate, SAMPLE_RATE))


def sped_up(pcm: Int16Array, factor: float = ECHO_SPEEDUP) -> Int16Array:
    """Played at the same rate, the result is ``factor`` faster and higher."""
    if pcm.size == 0:
        return pcm
    return to_int16(soxr.resample(pcm.astype(np.float32), SAMPLE_RATE * factor, SAMPLE_RATE))


def twist(words: str, turn_index: int) -> str:
    said = words.split()
    choices = (
        f"Backwards, that is: {' '.join(reversed(said))}.",
        f"That was {len(said)} word{'s' if len(said) != 1 else ''}.",
        "Say something else and I will repeat it.",
    )
    return choices[turn_index % len(choices)]


class DemoBot:
    """Answers every user turn with real speech; ``asr``/``tts`` False force the fallbacks."""

    def __init__(
        self,
        *,
        asr: bool = True,
        tts: bool = True,
        voice: str = "en-us",
        words_per_minute: int = 165,
    ) -> None:
        self.recognizer = recognizer_name() if asr else None
        self.asr = self.recognizer is not None
        self.tts = tts and espeak_available()
        self.voice = voice
        self.words_per_minute = words_per_minute
        self._recognizer: WhisperRecognizer | SphinxRecognizer = (
            WhisperRecognizer() if self.recognizer == "whisper tiny.en" else SphinxRecognizer()
        )

    async def transcribe(self, audio: Int16Array) -> str | None:
        if not self.asr:
            return None
        return await asyncio.to_thread(self._recognizer.transcribe, audio, SAMPLE_RATE)

    async def respond(self, turn: Turn) -> Reply:
        text = await self._answer(turn)
        if turn.images:  # the camera is on: say something true about what it shows
            seen = await asyncio.to_thread(describe_picture, turn.images[-1][1])
            text = f"{seen} {text}"
        if "audio" not in turn.output_modalities:
            return Reply.say(text)
        if self.tts:
            audio = await asyncio.to_thread(espeak, text, self.voice, self.words_per_minute)
            return Reply.say(text, audio)
        if turn.audio.size:
            return Reply.say(f"{text} {NO_TTS_NOTE}", sped_up(turn.audio))
        return Reply.say(f"{text} {NO_TTS_NOTE}", stand_in_speech(text))

    async def _answer(self, turn: Turn) -> str:
        if turn.function_outputs:
            return " ".join(
                f"The {out.name or 'function'} call returned {out.output}."
                for out in turn.function_outputs
            )
        if turn.text and turn.text.strip():
            heard = turn.text.strip().rstrip(".!?")
            return f"You said: {heard}. {twist(heard, turn.index)}"
        if turn.audio.size == 0:
            return GREETING
        if not self.asr:
            return f"I heard about {turn.audio_seconds:.1f} seconds of speech. {NO_ASR_NOTE}"
        words = (
            turn.transcript if turn.transcript is not None else await self.transcribe(turn.audio)
        )
        words = (words or "").strip().rstrip(".!?")  # Whisper punctuates; the answer adds its own
        if not words:
            return "I heard you, but I could not make out any words."
        return f"You said: {words}. {twist(words, turn.index)}"
