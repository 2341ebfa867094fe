"""The playout (jitter) buffer between the network and the speaker.

Bot audio arrives in bursts; a sound card asks for a fixed block every few
milliseconds from its own thread. This buffer sits in between:

* it starts playing only once ``prebuffer`` samples are queued (or the
  provider said the item is complete), so network jitter does not turn into
  clicks at the start of every reply;
* when it runs dry mid-reply it plays silence and waits for the prebuffer
  again: never stale samples, never a half-filled block of garbage;
* ``flush()`` drops everything at once, so the very next block the device
  asks for is silent — interruption latency is one device block;
* it holds at most ``max_samples`` (``options.max_playout_s`` of audio):
  a server that sends audio far faster than it plays (520 deltas of 1 MB in
  5 s queued 8,500 s and 600 MB) gets the rest refused, and counted, by
  :class:`~rtws.audio.OutputPipeline` before any of it is resampled;
* it counts, per item, how many samples really left through the device
  callback. That, not the time since the first delta arrived, is what the
  user heard, and it is what a provider needs to truncate the model's memory
  of an interrupted reply (:class:`PlaybackMark`).

The reader is a real-time audio thread, the writer the event loop: one short
``threading.Lock`` guards the queue, held only for array copies.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]

#: Played counts are kept for this many recent items (older ones cannot be interrupted).
_ITEMS_KEPT = 64


@dataclass(frozen=True, slots=True)
class PlaybackMark:
    """What of the bot's audio was really heard, at the moment of a flush or query.

    ``item_id`` is the item being played (or about to be) — None when nothing
    was ever queued; ``played_ms`` is how much of *that item* left the output
    callback; ``dropped_ms`` how much queued audio a flush threw away.
    """

    item_id: str | None
    played_ms: int
    dropped_ms: int
    sample_rate: int


class PlayoutBuffer:
    """Device-rate PCM16 queue with prebuffering, underrun handling and per-item positions."""

    def __init__(
        self, sample_rate: int, prebuffer_samples: int, max_samples: int | None = None
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        self.sample_rate = sample_rate
        self.prebuffer_samples = max(0, prebuffer_samples)
        #: The most samples queued at once (None: no bound); see :meth:`room`.
        self.max_samples = max_samples
        self._lock = threading.Lock()
        self._segments: collections.deque[tuple[Int16Array, str | None]] = collections.deque()
        self._offset = 0  # samples of the head segment already played
        self._buffered = 0
        self._playing = False
        self._end_of_stream = False
        self._played: collections.OrderedDict[str | None, int] = collections.OrderedDict()
        self._last_item: str | None = None
        self._idle_since: float | None = time.monotonic()
        self.underruns = 0
        self.samples_played = 0
        #: ``(time.perf_counter(), item)`` each time playback (re)started: the moment the
        #: first sample of a reply was handed to the device (rtws.latency reads it).
        self.starts: collections.deque[tuple[float, str | None]] = collections.deque(maxlen=16)

    # ------------------------------------------------------------ writer side (event loop)
    def write(self, samples: Int16Array, item_id: str | None = None) -> None:
        if not len(samples):
            return
        with self._lock:
            self._segments.append((samples, item_id))
            self._buffered += len(samples)
            if self._idle_since is not None:
                # Audio is coming: the idle clock restarts, so a prebuffer that never
                # fills still ends the bot's turn, but a fresh one does not.
                self._idle_since = time.monotonic()

    def end_of_stream(self) -> None:
        """No more audio for now: play what is queued even if it is under the prebuffer."""
        with self._lock:
            if self._buffered:
                self._end_of_stream = True

    def flush(self) -> PlaybackMark:
        """Drop everything queued; the next block read is silence."""
        with self._lock:
            mark = self._mark_locked()
            dropped = self._buffered
            self._segments.clear()
            self._offset = 0
            self._buffered = 0
            self._playing = False
            self._end_of_stream = False
            if self._idle_since is None:
                self._idle_since = time.monotonic()
        return PlaybackMark(mark.item_id, mark.played_ms, self._ms(dropped), self.sample_rate)

    def mark(self) -> PlaybackMark:
        with self._lock:
            return self._mark_locked()

    def played_ms(self, item_id: str | None) -> int:
        with self._lock:
            return self._ms(self._played.get(item_id, 0))

    # ------------------------------------------------------------ reader side (audio thread)
    def read_into(self, out: Int16Array) -> int:
        """Fill ``out`` with queued audio then silence; returns how many samples were real."""
        needed = len(out)
        filled = 0
        with self._lock:
            if (
                not self._playing
                and self._buffered
                and (self._buffered >= self.prebuffer_samples or self._end_of_stream)
            ):
                self._playing = True
                self.starts.append((time.perf_counter(), self._segments[0][1]))
            if self._playing:
                segments = self._segments
                while filled < needed and segments:
                    seg, item = segments[0]
                    take = min(len(seg) - self._offset, needed - filled)
                    out[filled : filled + take] = seg[self._offset : self._offset + take]
                    filled += take
                    self._offset += take
                    self._count(item, take)
                    if self._offset == len(seg):
                        segments.popleft()
                        self._offset = 0
                self._buffered -= filled
                if filled < needed:
                    # Dry: the end of the stream, or an underrun to ride out on silence.
                    if not self._end_of_stream:
                        self.underruns += 1
                    self._end_of_stream = False
                    self._playing = False
            if filled:
                self._idle_since = None if self._buffered else time.monotonic()
            elif self._idle_since is None:
                self._idle_since = time.monotonic()
        if filled < needed:
            out[filled:] = 0
        self.samples_played += filled
        return filled

    # ------------------------------------------------------------ moving to another device
    def take_queued(self) -> tuple[list[tuple[Int16Array, str | None]], dict[str | None, int]]:
        """Empty the queue without playing it: (unplayed segments, samples played per item).

        For a speaker switch to another rate: the caller resamples the
        segments and hands both to the new buffer's :meth:`adopt`, so nothing
        queued is lost and played positions (what truncation reports) carry on.
        """
        with self._lock:
            segments = list(self._segments)
            if segments and self._offset:
                head, item = segments[0]
                segments[0] = (head[self._offset :], item)
            played = dict(self._played)
            self._segments.clear()
            self._offset = 0
            self._buffered = 0
            self._playing = False
        return segments, played

    def adopt(
        self, segments: list[tuple[Int16Array, str | None]], played: dict[str | None, int]
    ) -> None:
        """Queue what another buffer gave up (already at this rate), with its played counts."""
        with self._lock:
            for item, count in played.items():
                self._played[item] = self._played.get(item, 0) + count
                self._last_item = item
        for samples, item in segments:
            self.write(samples, item)

    # ------------------------------------------------------------ queries
    @property
    def buffered_ms(self) -> float:
        return self._buffered * 1000.0 / self.sample_rate

    @property
    def buffered_samples(self) -> int:
        return self._buffered

    def room(self) -> int | None:
        """Samples that may still be queued before ``max_samples`` (None: no bound)."""
        if self.max_samples is None:
            return None
        return max(0, self.max_samples - self._buffered)

    @property
    def is_playing(self) -> bool:
        return self._playing

    def idle_since(self) -> float | None:
        """``time.monotonic()`` since when nothing audible was played; None while playing."""
        return self._idle_since

    # ------------------------------------------------------------ internals
    def _count(self, item: str | None, samples: int) -> None:
        played = self._played
        if item == self._last_item and item in played:
            played[item] += samples  # still the newest entry: nothing to reorder
            return
        if item in played:
            played[item] += samples
            played.move_to_end(item)
        else:
            played[item] = samples
            if len(played) > _ITEMS_KEPT:
                played.popitem(last=False)
        self._last_item = item

    def _mark_locked(self) -> PlaybackMark:
        # The interrupted item is the one at the head of the queue (maybe not started
        # yet: then the user heard 0 ms of it), else the last one that played.
        item = self._segments[0][1] if self._segments else self._last_item
        return PlaybackMark(item, self._ms(self._played.get(item, 0)), 0, self.sample_rate)

    def _ms(self, samples: int) -> int:
        return round(samples * 1000 / self.sample_rate)


class OverflowReport:
    """Turns dropped bot audio into a user-facing warning, at most every ``interval`` seconds.

    A server flooding audio overflows the buffer on every delta; one ``error``
    event per delta would flood the user in turn.
    """

    def __init__(self, provider: str, max_playout_s: float, interval: float = 5.0) -> None:
        self._provider = provider
        self._max_playout_s = max_playout_s
        self._interval = interval
        self._reported_at = -float("inf")
        self.dropped_ms = 0

    def add(self, dropped_ms: int) -> str | None:
        """Count a drop; the warning to show now, or None if one was shown recently."""
        self.dropped_ms += dropped_ms
        now = time.monotonic()
        if now - self._reported_at < self._interval:
            return None
        self._reported_at = now
        return (
            f"the speaker buffer is full ({self._max_playout_s:g} s of bot audio, "
            f"options.max_playout_s): {self._provider} sends audio much faster than it "
            f"plays; {self.dropped_ms / 1000:.1f} s dropped so far"
        )
