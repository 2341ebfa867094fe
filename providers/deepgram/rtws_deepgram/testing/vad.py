"""An energy voice-activity detector: how the fake hears turns in real PCM.

Deepgram's listen model finds turns with a neural end-of-turn detector; the
fake only needs the observable behaviour: ``UserStartedSpeaking`` shortly
after voice starts, the user's turn over after a stretch of quiet. Both are
counted in audio time, so a client streaming faster than real time gets the
same turns.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

Edge = Literal["start", "end"]


class EnergyVAD:
    """Frame energy with hysteresis: feed PCM16 mono at ``rate``, get ``"start"``/``"end"``."""

    def __init__(
        self,
        rate: int,
        *,
        threshold_db: float = -45.0,
        start_ms: int = 60,
        end_ms: int = 500,
        frame_ms: int = 20,
    ) -> None:
        self.frame = max(1, rate * frame_ms // 1000)
        self.threshold_db = threshold_db
        self.start_frames = max(1, -(-start_ms // frame_ms))
        self.end_frames = max(1, -(-end_ms // frame_ms))
        self.in_speech = False
        self.voiced_samples = 0  # of the current (or last) turn
        self._pending = np.zeros(0, dtype=np.int16)
        self._run = 0

    def process(self, pcm: npt.NDArray[np.int16]) -> list[Edge]:
        samples = np.concatenate([self._pending, pcm]) if len(self._pending) else pcm
        whole = len(samples) - len(samples) % self.frame
        edges: list[Edge] = []
        for offset in range(0, whole, self.frame):
            frame = samples[offset : offset + self.frame].astype(np.float64)
            rms = float(np.sqrt(np.mean(frame * frame)))
            voiced = 20.0 * np.log10(max(rms, 1e-9) / 32768.0) > self.threshold_db
            if self.in_speech:
                self.voiced_samples += self.frame
            # Count the frames that disagree with the current state; flip after enough.
            self._run = self._run + 1 if voiced != self.in_speech else 0
            if self._run >= (self.end_frames if self.in_speech else self.start_frames):
                self.in_speech = not self.in_speech
                self._run = 0
                if self.in_speech:
                    self.voiced_samples = self.start_frames * self.frame
                edges.append("start" if self.in_speech else "end")
        self._pending = samples[whole:].copy()
        return edges
