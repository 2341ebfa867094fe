"""Turn latency as a user hears it: end of their speech → the bot's first sample played.

The ``ttfb`` metric starts when rtws *learns* that the user's turn ended (a
server event, itself sent only after the server's VAD waited out its silence
window) and stops when the first bot audio *arrives*. Neither end is what a
recording of the conversation shows, so neither figure matches one. This
module measures the figure that does (docs/concepts/latency.md):

- **start**: the end of the user's speech in the mic audio. The server names
  it as a position in the audio it received (OpenAI's ``audio_end_ms``, less
  the silence its VAD waited for); :meth:`TurnLatency.sent` keeps, for every
  chunk sent, where it ends in that timeline and when its last sample was
  captured, so the position maps back to a capture time;
- **end**: the moment the speaker was handed the reply's first sample (the
  playout buffer stamps each start of playback).

Both are ``time.perf_counter()`` instants on this machine. Left out, and so
not in the figure: the microphone's and the speaker's own hardware latency.
"""

from __future__ import annotations

import array
import time

from . import rtvi
from .media.base import AudioChunk, MediaManager

#: Chunks remembered for mapping (20 ms each: 30 s of audio).
_MARKS_KEPT = 1500


class TurnLatency:
    """One session's turn-latency clock, fed by a provider (see the module docstring)."""

    def __init__(self) -> None:
        self._sent_ms = 0.0
        # Each chunk sent, in a ring: where it starts and ends in the server's input
        # timeline (ms), and when its last sample was captured. Flat arrays of doubles,
        # not a tuple per chunk: 50 tuples a second, kept 30 s, made every session hold
        # ~100 kB more and the garbage collector run full passes over them.
        self._starts = array.array("d", bytes(8 * _MARKS_KEPT))
        self._ends = array.array("d", bytes(8 * _MARKS_KEPT))
        self._captured = array.array("d", bytes(8 * _MARKS_KEPT))
        self._count = 0
        self._speech_end: float | None = None
        self._reply_after: float | None = None

    def reset(self) -> None:
        """A new server session: its input timeline starts again at 0."""
        self._sent_ms = 0.0
        self._count = 0
        self._speech_end = None
        self._reply_after = None

    def sent(self, chunk: AudioChunk) -> None:
        """A mic chunk went to the server (call it for every one, in order)."""
        start = self._sent_ms
        end = self._sent_ms = start + len(chunk.pcm) * 500.0 / chunk.sample_rate  # PCM16: 2 B
        i = self._count % _MARKS_KEPT
        self._starts[i], self._ends[i], self._captured[i] = start, end, chunk.captured_at
        self._count += 1

    def capture_time(self, position_ms: float) -> float | None:
        """When the mic captured the sample at ``position_ms`` of the server's timeline.

        None when that audio is older than what is remembered, or was never sent.
        """
        for n in range(max(0, self._count - _MARKS_KEPT), self._count):
            i = n % _MARKS_KEPT
            if self._starts[i] <= position_ms <= self._ends[i]:
                return self._captured[i] - (self._ends[i] - position_ms) / 1000.0
        return None

    def speech_ended(self, position_ms: float) -> None:
        """The server says the user's speech ended at ``position_ms`` of its timeline."""
        self._speech_end = self.capture_time(position_ms)
        self._reply_after = time.perf_counter()

    @property
    def pending(self) -> bool:
        """Whether a turn is waiting for its reply's first sample (checked per reply chunk,
        so the lookup below runs only while a figure can still come)."""
        return self._speech_end is not None and self._reply_after is not None

    def measure(self, media: MediaManager, item_id: str | None) -> float | None:
        """Seconds from the end of speech to the first sample of ``item_id`` played.

        None until the speaker has started playing that item (a figure comes
        once per turn). A reply queued behind audio still playing has no start
        of its own, and is not measured.
        """
        speech_end, after = self._speech_end, self._reply_after
        if speech_end is None or after is None:
            return None
        for started_at, item in media.playout_starts():
            if started_at >= after and item == item_id:
                self._speech_end = self._reply_after = None
                return started_at - speech_end
        return None

    def metrics(
        self, media: MediaManager, item_id: str | None, processor: str, model: str | None
    ) -> rtvi.Metrics | None:
        """:meth:`measure` as the ``metrics`` event that reports it (``turn_latency``)."""
        seconds = self.measure(media, item_id)
        if seconds is None:
            return None
        value = {"processor": processor, "model": model, "value": round(seconds, 4)}
        return rtvi.Metrics.model_validate({"data": {"turn_latency": [value]}})
