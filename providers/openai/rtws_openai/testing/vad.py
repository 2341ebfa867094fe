"""Energy-based voice activity detection with hysteresis, shaped like ``server_vad``.

The service's VAD is a model; for a local fake an energy detector is enough
and is deterministic on recorded speech. Speech starts after
:data:`MIN_SPEECH_MS` of frames louder than the "on" level (set by
``threshold``) and stops after ``silence_duration_ms`` of frames quieter than
the "off" level, 6 dB lower, so a syllable's dip does not end the turn.
Times are milliseconds of audio appended in the session, as the API reports
them: ``audio_start_ms`` includes ``prefix_padding_ms``, ``audio_end_ms``
includes the silence that ended the turn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 24000
FRAME_MS = 10
MIN_SPEECH_MS = 30
#: dBFS of the "on" level at threshold 0 and how far threshold 1 raises it.
FLOOR_DB = -60.0
SPAN_DB = 50.0
HYSTERESIS_DB = 6.0


@dataclass(frozen=True)
class SpeechStarted:
    audio_start_ms: int  # onset minus prefix padding (not clamped to the buffer)
    onset_ms: int


@dataclass(frozen=True)
class SpeechStopped:
    audio_end_ms: int


VADEvent = SpeechStarted | SpeechStopped


def on_level_db(threshold: float) -> float:
    """The frame level (dBFS) that counts as speech: -35 dBFS at the default 0.5."""
    return FLOOR_DB + SPAN_DB * threshold


class EnergyVAD:
    """Feed PCM16 as it arrives; get speech start/stop events in session time."""

    def __init__(
        self,
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 500,
        start_ms: int = 0,
        sample_rate: int = SAMPLE_RATE,
    ) -> None:
        self.on_db = on_level_db(threshold)
        self.off_db = self.on_db - HYSTERESIS_DB
        self.prefix_padding_ms = prefix_padding_ms
        self.silence_duration_ms = silence_duration_ms
        self.frame_bytes = sample_rate * FRAME_MS // 1000 * 2
        self.speaking = False
        self._pending = bytearray()
        self._now_ms = start_ms
        self._loud_run = 0
        self._quiet_run = 0

    @property
    def now_ms(self) -> int:
        """Session time at the end of the last whole frame analysed."""
        return self._now_ms

    def reset(self, now_ms: int) -> None:
        """Forget the audio so far (the buffer was cleared) and continue from ``now_ms``."""
        self.speaking = False
        self._pending.clear()
        self._now_ms = now_ms
        self._loud_run = self._quiet_run = 0

    def feed(self, pcm: bytes) -> list[VADEvent]:
        frame_bytes = self.frame_bytes
        if not self._pending and len(pcm) % frame_bytes == 0:
            data: bytes | bytearray = pcm  # whole frames, the usual case: no copy
            whole = len(pcm)
        else:
            self._pending += pcm
            whole = len(self._pending) // frame_bytes * frame_bytes
            data = bytes(self._pending[:whole])
            del self._pending[:whole]
        if whole == 0:
            return []
        frames = np.frombuffer(data, dtype="<i2", count=whole // 2).astype(np.float64)
        frames = frames.reshape(-1, frame_bytes // 2)
        # Sums of squares for every frame in two numpy calls (exact: a frame's sum
        # stays far below 2**53); the rest per frame in plain floats, since numpy's
        # per-call cost dominates at two frames a chunk.
        full_scale = frames.shape[1] * 32768.0**2
        events: list[VADEvent] = []
        for energy in (frames * frames).sum(axis=1).tolist():
            self._now_ms += FRAME_MS
            level = 10.0 * math.log10(max(energy / full_scale, 1e-18))  # dBFS of the frame's RMS
            event = self._step(level)
            if event is not None:
                events.append(event)
        return events

    def _step(self, level: float) -> VADEvent | None:
        if not self.speaking:
            self._loud_run = self._loud_run + 1 if level >= self.on_db else 0
            if self._loud_run * FRAME_MS >= MIN_SPEECH_MS:
                self.speaking = True
                self._quiet_run = 0
                onset = self._now_ms - self._loud_run * FRAME_MS
                return SpeechStarted(onset - self.prefix_padding_ms, onset)
            return None
        self._quiet_run = self._quiet_run + 1 if level < self.off_db else 0
        if self._quiet_run and self._quiet_run * FRAME_MS >= self.silence_duration_ms:
            self.speaking = False
            self._loud_run = 0
            return SpeechStopped(self._now_ms)
        return None
