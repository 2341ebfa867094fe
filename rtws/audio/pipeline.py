"""The two PCM paths between a device and a provider, one object per direction.

Input: device blocks (any rate, any size) → provider-rate chunks of exactly
``chunk_ms``. Output: provider-rate audio → device-rate playout buffer.
Both keep a level meter (``metering`` switches it off). A
:class:`~rtws.media.MediaManager` owns one of each and rebuilds them when a
device with another rate is switched in.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

from .chunker import Chunker
from .levels import LevelMeter
from .playout import PlaybackMark, PlayoutBuffer
from .resample import StreamResampler

Int16Array = npt.NDArray[np.int16]


class InputPipeline:
    """Mic blocks at the device rate → fixed-size chunks at the provider rate."""

    def __init__(
        self, device_rate: int, provider_rate: int, chunk_ms: float, quality: str = "LQ"
    ) -> None:
        self.device_rate = device_rate
        self.provider_rate = provider_rate
        self.chunk_samples = max(1, round(provider_rate * chunk_ms / 1000))
        self.resampler = StreamResampler(device_rate, provider_rate, quality)
        self.chunker = Chunker(self.chunk_samples)
        self.level = LevelMeter()
        self.metering = True
        self._prime()

    def _prime(self) -> None:
        """Start the chunker with the resampler's delay in silence.

        The resampler answers each device block ``delay_samples`` short; primed
        with that much silence, a chunk completes at the end of the block that
        holds its last sample, not one block later.
        """
        if self.resampler.delay_samples:
            self.chunker.push(np.zeros(self.resampler.delay_samples, dtype=np.int16))

    def process(self, block: Int16Array) -> list[Int16Array]:
        if self.metering:
            self.level.update(block)
        return self.chunker.push(self.resampler.process(block))

    def finish(self) -> list[Int16Array]:
        """The end of the input (a file ran out): emit what is held back, the last chunk padded."""
        chunks = self.chunker.push(self.resampler.flush())
        last = self.chunker.flush(pad=True)
        return [*chunks, last] if last is not None else chunks

    def reset(self) -> None:
        """Forget partial chunks and resampler history (after mute, or a device switch)."""
        self.resampler.reset()
        self.chunker.clear()
        self._prime()


class OutputPipeline:
    """Bot audio at the provider rate → the device-rate playout buffer the callback reads."""

    def __init__(
        self,
        provider_rate: int,
        device_rate: int,
        prebuffer_ms: float,
        quality: str = "LQ",
        max_buffer_s: float | None = None,
    ) -> None:
        self.provider_rate = provider_rate
        self.device_rate = device_rate
        self.resampler = StreamResampler(provider_rate, device_rate, quality)
        max_samples = None if max_buffer_s is None else round(device_rate * max_buffer_s)
        self.buffer = PlayoutBuffer(
            device_rate, round(device_rate * prebuffer_ms / 1000), max_samples
        )
        self.level = LevelMeter()
        self.metering = True
        #: Provider-rate samples refused because the buffer held ``max_buffer_s`` already.
        self.dropped_samples = 0
        self._item: str | None = None

    def write(self, pcm: bytes | Int16Array, item_id: str | None = None) -> int:
        """Queue audio; returns how many of its samples were dropped (the buffer was full).

        What does not fit is cut before it is resampled: a flood costs a slice,
        not seconds of the event loop's time.
        """
        samples = np.frombuffer(pcm, dtype="<i2") if isinstance(pcm, bytes | bytearray) else pcm
        room = self.buffer.room()
        dropped = 0
        if room is not None:
            fits = room * self.provider_rate // self.device_rate
            if len(samples) > fits:
                dropped = len(samples) - fits
                self.dropped_samples += dropped
                if not fits:
                    return dropped
                # A copy: a slice would keep the whole delta alive (the resampler hands
                # samples through untouched when the rates match).
                samples = samples[:fits].copy()
        if item_id != self._item and self._item is not None:
            # A new item: the resampler's last few samples belong to the old one.
            self._finish_item()
        self._item = item_id
        self.buffer.write(self.resampler.process(samples), item_id)
        return dropped

    def end_of_stream(self, item_id: str | None = None) -> None:
        if item_id is None or item_id == self._item:
            self._finish_item()
            self._item = None
        self.buffer.end_of_stream()

    def read_into(self, out: Int16Array) -> int:
        """Audio-thread side: fill one device block."""
        real = self.buffer.read_into(out)
        if real and self.metering:
            self.level.update(out[:real])
        return real

    def flush(self) -> PlaybackMark:
        self.resampler.reset()
        self._item = None
        return self.buffer.flush()

    def mark(self) -> PlaybackMark:
        return self.buffer.mark()

    def played_ms(self, item_id: str | None) -> int:
        return self.buffer.played_ms(item_id)

    def adopt(self, old: OutputPipeline) -> None:
        """Take over what ``old`` (another device rate) has queued, resampled: nothing is lost.

        Played counts move over converted to this rate, so a later interruption
        still reports how much of the item was heard.
        """
        tail = old.resampler.flush()
        if len(tail):
            old.buffer.write(tail, old._item)
        segments, played = old.buffer.take_queued()
        ratio = self.device_rate / old.device_rate
        # One resample per item: the segments of an item are contiguous audio.
        merged: list[tuple[Int16Array, str | None]] = []
        for samples, item in segments:
            if merged and merged[-1][1] == item:
                merged[-1] = (np.concatenate((merged[-1][0], samples)), item)
            else:
                merged.append((samples, item))
        converted = [
            (
                soxr.resample(
                    samples, old.device_rate, self.device_rate, quality=self.resampler.quality
                ),
                item,
            )
            for samples, item in merged
        ]
        self.buffer.adopt(converted, {k: round(v * ratio) for k, v in played.items()})
        self._item = old._item
        self.level = old.level

    def _finish_item(self) -> None:
        tail = self.resampler.flush()
        if len(tail):
            self.buffer.write(tail, self._item)
