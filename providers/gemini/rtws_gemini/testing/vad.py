"""A small energy voice-activity detector: what makes the fake hear turns in real audio.

Gemini's server VAD is a model; the fake only needs the same observable
behaviour: a start of speech after ``prefix_padding_ms`` of voice, an end
after ``silence_duration_ms`` of quiet, counted in audio time (so tests that
stream faster than real time see the same turns).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

#: dBFS above which a 20 ms frame counts as voice, per start-of-speech sensitivity.
THRESHOLD_DB = {"START_SENSITIVITY_HIGH": -50.0, "START_SENSITIVITY_LOW": -35.0}
DEFAULT_THRESHOLD_DB = -45.0
#: Default silence that ends a turn, per end-of-speech sensitivity.
SILENCE_MS = {"END_SENSITIVITY_HIGH": 300, "END_SENSITIVITY_LOW": 800}
DEFAULT_SILENCE_MS = 500
DEFAULT_PREFIX_MS = 40


@dataclass(frozen=True, slots=True)
class VadEvent:
    kind: Literal["start", "end"]
    #: Position in the input stream (samples since the connection's first audio).
    sample: int


class EnergyVAD:
    """Frame energy with hysteresis; feed PCM16 at ``rate``, get start/end events."""

    def __init__(
        self,
        rate: int,
        *,
        threshold_db: float = DEFAULT_THRESHOLD_DB,
        prefix_padding_ms: int = DEFAULT_PREFIX_MS,
        silence_duration_ms: int = DEFAULT_SILENCE_MS,
        frame_ms: int = 20,
    ) -> None:
        self.rate = rate
        self.threshold_db = threshold_db
        self.frame = max(1, rate * frame_ms // 1000)
        self.start_frames = max(1, -(-prefix_padding_ms // frame_ms))
        self.end_frames = max(1, -(-silence_duration_ms // frame_ms))
        self.in_speech = False
        self._pending = np.zeros(0, dtype=np.int16)
        self._position = 0
        self._run = 0
        self._run_start = 0

    @classmethod
    def from_setup(cls, rate: int, config: dict[str, object]) -> EnergyVAD:
        """Build from a setup's ``automaticActivityDetection`` object (normalised)."""
        start = str(config.get("startOfSpeechSensitivity") or "")
        end = str(config.get("endOfSpeechSensitivity") or "")
        prefix = config.get("prefixPaddingMs")
        silence = config.get("silenceDurationMs")
        return cls(
            rate,
            threshold_db=THRESHOLD_DB.get(start, DEFAULT_THRESHOLD_DB),
            prefix_padding_ms=prefix if isinstance(prefix, int) else DEFAULT_PREFIX_MS,
            silence_duration_ms=silence
            if isinstance(silence, int)
            else SILENCE_MS.get(end, DEFAULT_SILENCE_MS),
        )

    def process(self, pcm: npt.NDArray[np.int16]) -> list[VadEvent]:
        samples = np.concatenate([self._pending, pcm]) if len(self._pending) else pcm
        events: list[VadEvent] = []
        whole = len(samples) - len(samples) % self.frame
        for offset in range(0, whole, self.frame):
            frame = samples[offset : offset + self.frame].astype(np.float64)
            rms = float(np.sqrt(np.mean(frame * frame)))
            voiced = 20.0 * np.log10(max(rms, 1e-9) / 32768.0) > self.threshold_db
            event = self._step(voiced, self._position + offset)
            if event is not None:
                events.append(event)
        self._position += whole
        self._pending = samples[whole:].copy()
        return events

    def flush(self) -> list[VadEvent]:
        """End of the audio stream: a turn in progress ends now."""
        if not self.in_speech:
            return []
        self.in_speech = False
        self._run = 0
        return [VadEvent("end", self._position)]

    def _step(self, voiced: bool, position: int) -> VadEvent | None:
        # Count the frames that disagree with the current state; flip after enough of them.
        if voiced != self.in_speech:
            if self._run == 0:
                self._run_start = position
            self._run += 1
        else:
            self._run = 0
        needed = self.end_frames if self.in_speech else self.start_frames
        if self._run < needed:
            return None
        self.in_speech = not self.in_speech
        self._run = 0
        return VadEvent("start" if self.in_speech else "end", self._run_start)
