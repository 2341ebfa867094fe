"""``--record``: both sides of a conversation in one stereo WAV (left = mic, right = bot).

The audio is tapped where it meets the devices: the blocks the microphone
captured and the blocks the speaker really played (silence included, an
interrupted reply cut where it was cut), each on its device's clock. That
keeps the two channels in step without timestamps, and the file sounds like
what happened in the room. Taps run on audio threads, so they only append a
copy to a deque; the event loop resamples and writes.
"""

from __future__ import annotations

import collections
import threading
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from ..audio import StreamResampler, WavWriter
from ..media.base import MediaManager

Int16Array = npt.NDArray[np.int16]
Side = Literal["mic", "bot"]


class _Channel:
    """One side: device-rate blocks → samples at the file's rate."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.device_rate = 0
        self.resampler: StreamResampler | None = None
        self.samples: list[Int16Array] = []
        self.count = 0

    def add(self, block: Int16Array, device_rate: int) -> None:
        if device_rate != self.device_rate:
            # A device switch to another rate: finish the old stream, start a new one.
            self.finish()
            self.device_rate = device_rate
            self.resampler = (
                StreamResampler(device_rate, self.rate) if device_rate != self.rate else None
            )
        out = self.resampler.process(block) if self.resampler is not None else block
        self._append(out)

    def finish(self) -> None:
        if self.resampler is not None:
            self._append(self.resampler.flush())
            self.resampler = None
        self.device_rate = 0

    def take(self, n: int) -> Int16Array:
        data = np.concatenate(self.samples) if self.samples else np.zeros(0, np.int16)
        head, rest = data[:n], data[n:]
        self.samples = [rest] if len(rest) else []
        self.count -= len(head)
        return head

    def _append(self, samples: Int16Array) -> None:
        if len(samples):
            self.samples.append(samples)
            self.count += len(samples)


class StereoRecorder:
    """Writes mic (left) and bot (right) audio to ``path`` at ``rate``, streaming."""

    def __init__(self, path: str | Path, rate: int = 24000) -> None:
        self.path = Path(path)
        self.rate = rate
        self._writer: WavWriter | None = WavWriter(self.path, rate, channels=2)
        self._pending: collections.deque[tuple[Side, Int16Array, int]] = collections.deque()
        self._lock = threading.Lock()
        self._channels: dict[Side, _Channel] = {"mic": _Channel(rate), "bot": _Channel(rate)}
        #: Stereo frames written so far.
        self.frames = 0

    def tap(self, side: Side, block: Int16Array, device_rate: int) -> None:
        """Called from audio threads: never blocks on the loop, only copies."""
        with self._lock:
            self._pending.append((side, block.copy(), device_rate))

    def drain(self) -> None:
        """Resample what the taps queued and write every frame both channels have."""
        with self._lock:
            pending = list(self._pending)
            self._pending.clear()
        for side, block, rate in pending:
            self._channels[side].add(block, rate)
        mic, bot = self._channels["mic"], self._channels["bot"]
        self._write(min(mic.count, bot.count))

    def close(self) -> None:
        """Write the rest; the shorter channel is padded with silence."""
        if self._writer is None:
            return
        self.drain()
        for channel in self._channels.values():
            channel.finish()
        mic, bot = self._channels["mic"], self._channels["bot"]
        self._write(max(mic.count, bot.count))
        self._writer.close()
        self._writer = None

    def _write(self, n: int) -> None:
        if n <= 0 or self._writer is None:
            return
        left = _padded(self._channels["mic"].take(n), n)
        right = _padded(self._channels["bot"].take(n), n)
        self._writer.write(np.column_stack([left, right]))
        self.frames += n


def _padded(samples: Int16Array, n: int) -> Int16Array:
    if len(samples) >= n:
        return samples
    return np.concatenate([samples, np.zeros(n - len(samples), np.int16)])


class RecordingTap(MediaManager):
    """Mixin for a media backend: feeds a :class:`StereoRecorder` from the device side.

    Combined with a concrete backend (``class X(RecordingTap, FileMediaManager)``)
    it sees exactly the blocks the backend captures and plays, on their threads.
    """

    recorder: StereoRecorder | None = None

    def _push_input(
        self,
        block: Int16Array | None,
        captured_at: float | None = None,
        adc_time: float | None = None,
    ) -> None:
        recorder, pipeline = self.recorder, self._input
        if recorder is not None and block is not None and pipeline is not None and self.is_running:
            # Muted audio never leaves the machine; the recording says so with silence.
            heard = block if self.is_mic_enabled else np.zeros_like(block)
            recorder.tap("mic", heard, pipeline.device_rate)
        super()._push_input(block, captured_at, adc_time)

    def _pull_output(self, out: Int16Array) -> int:
        real = super()._pull_output(out)
        recorder, pipeline = self.recorder, self._output
        if recorder is not None and pipeline is not None and self._block_is_time(real):
            recorder.tap("bot", out, pipeline.device_rate)
        return real

    def _block_is_time(self, real: int) -> bool:
        """Whether a played block stands for time passing: always, on a device with a clock."""
        return True
