"""Audio from files or arrays instead of a sound card: tests, CI, notebooks, benchmarks.

The file backend behaves like a device that ticks every ``block_ms``: each
tick it captures one input block and plays one output block through the
same pipeline a sound card uses, so interruption, prebuffering and levels
behave exactly as on hardware. ``realtime=True`` ticks on the wall clock
(what a person would hear); ``realtime=False`` runs as fast as the session
can go, which is what tests and batch jobs want.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..audio import WavWriter, read_wav, to_int16
from ..errors import ConfigurationError, DeviceError
from ..video.cameras import Cameras
from .base import AudioDevice, DeviceKind, MediaFormat, MediaManager

Int16Array = npt.NDArray[np.int16]


class FileMediaManager(MediaManager):
    """Mic from a WAV file or numpy array; speaker to a WAV file and/or memory.

    Args:
        input: a WAV path, a numpy array (int16, or float in [-1, 1]), or None
            for a silent mic. More audio can be queued later with :meth:`feed`.
        input_rate: sample rate of an array ``input`` (required for arrays).
        output: WAV path to record what the "speaker" played, or None.
        output_rate: the speaker's device rate (default: the provider's rate).
        realtime: tick on the wall clock (True) or as fast as possible.
        block_ms: the virtual device's block size.
        tail_silence_ms: silence captured after the input ends, so a server's
            voice activity detector sees the end of the turn. In real time the
            mic keeps producing silence for as long as the session runs.
        keep_output: keep what was played in memory (:meth:`output_audio`).
        camera: a still image (PNG, JPEG) or a video file (looped) as the camera,
            or several (one camera each, ids ``file-camera``, ``file-camera-2``...).
            Needs ``rtws[video]``; checked now, so a bad file fails here.
    """

    def __init__(
        self,
        input: str | Path | npt.NDArray[np.generic] | None = None,
        *,
        input_rate: int | None = None,
        output: str | Path | None = None,
        output_rate: int | None = None,
        realtime: bool = True,
        block_ms: float = 20.0,
        tail_silence_ms: float = 1500.0,
        keep_output: bool = True,
        camera: str | Path | Sequence[str | Path] | None = None,
    ) -> None:
        super().__init__()
        if camera is not None:
            self.cameras = Cameras.from_files(camera)
        if block_ms <= 0:
            raise ConfigurationError(f"block_ms must be positive, got {block_ms}")
        if output_rate is not None and output_rate <= 0:
            raise ConfigurationError(f"output_rate must be positive, got {output_rate}")
        self._input_rate = 0
        self._queued: collections.deque[Int16Array] = collections.deque()
        if isinstance(input, (str, Path)):
            pcm, self._input_rate = read_wav(input)
            self._queued.append(pcm)
            self._input_name = str(input)
        elif input is not None:
            if input_rate is None or input_rate <= 0:
                raise ConfigurationError(
                    "input_rate (a positive sample rate) is required with an array input"
                )
            self._input_rate = input_rate
            self._queued.append(to_int16(np.asarray(input)))
            self._input_name = "array"
        else:
            self._input_rate = input_rate or 0
            self._input_name = "silence"
        self._output_path = Path(output) if output is not None else None
        self._output_rate_option = output_rate
        self.realtime = realtime
        self.block_ms = block_ms
        self._tick_s = 0.0  # the real-time clock's period: set by each start from block_ms
        self.tail_silence_ms = tail_silence_ms
        self.keep_output = keep_output
        self._played: list[Int16Array] = []
        self._writer: WavWriter | None = None
        self._task: asyncio.Task[None] | None = None  # the fast-paced loop
        self._clock: asyncio.Handle | None = None  # the real-time tick
        self._next_tick = 0.0
        self._in_block = 0
        self._out = np.zeros(0, dtype=np.int16)
        self._tail_left = 0
        self._captured = np.zeros(0, dtype=np.int16)  # input taken off the queue, not yet pushed
        self._input_done = asyncio.Event()
        self._has_output = asyncio.Event()  # some bot audio arrived this session
        self._new_audio = asyncio.Event()  # wakes the fast-paced loop
        self._output_rate = 0
        self.output_samples = 0

    # ------------------------------------------------------------------ devices
    async def get_all_mics(self) -> list[AudioDevice]:
        return [self._input_device()]

    async def get_all_speakers(self) -> list[AudioDevice]:
        name = str(self._output_path) if self._output_path else "memory"
        rate = self._output_rate or self._output_rate_option or 24000
        return [_file_device("file-output", name, "audiooutput", rate)]

    @property
    def selected_mic(self) -> AudioDevice | None:
        return self._input_device()

    def _input_device(self) -> AudioDevice:
        return _file_device("file-input", self._input_name, "audioinput", self._input_rate or 24000)

    # ------------------------------------------------------------------ feeding and reading
    def feed(self, pcm: npt.NDArray[np.generic], sample_rate: int | None = None) -> None:
        """Queue more mic audio (same rate as the first input) to be captured next."""
        rate = sample_rate or self._input_rate
        if self._input_rate and rate != self._input_rate:
            raise ConfigurationError(
                f"feed() audio must be at the input rate {self._input_rate} Hz, got {rate} Hz"
            )
        if not rate:
            raise ConfigurationError("feed() needs sample_rate when the manager has no input yet")
        self._input_rate = rate
        self._queued.append(to_int16(np.asarray(pcm)))
        self._input_done.clear()

    async def wait_input_done(self) -> None:
        """Wait until every queued input sample (and the tail silence) was captured."""
        await self._input_done.wait()

    async def wait_output_idle(self, idle_ms: float = 300.0, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - a test helper's bound
        """Wait until bot audio was played and the speaker has been idle ``idle_ms``."""
        async with asyncio.timeout(timeout):
            await self._has_output.wait()
            while True:
                idle = self.bot_audio_idle_since
                if (
                    idle is not None
                    and time.monotonic() - idle >= idle_ms / 1000
                    and self.bot_audio_buffered_ms == 0
                ):
                    return
                await asyncio.sleep(0.01)

    def output_audio(self) -> Int16Array:
        """Everything the virtual speaker played, at :attr:`output_rate`."""
        if not self._played:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self._played)

    @property
    def output_rate(self) -> int:
        return self._output_rate

    def play(self, pcm: bytes | npt.NDArray[np.int16], item_id: str | None = None) -> None:
        super().play(pcm, item_id)
        self._has_output.set()
        if not self.realtime:
            self._new_audio.set()

    def end_of_stream(self, item_id: str | None = None) -> None:
        super().end_of_stream(item_id)
        self._new_audio.set()

    # ------------------------------------------------------------------ streaming
    async def _start_streams(self, fmt: MediaFormat) -> None:
        in_rate = self._input_rate or fmt.input_sample_rate
        self._input_rate = in_rate
        self._output_rate = self._output_rate_option or fmt.output_sample_rate
        self._configure(in_rate, self._output_rate)
        self._played = []
        self.output_samples = 0
        self._has_output.clear()
        if self._output_path is not None:
            self._writer = WavWriter(self._output_path, self._output_rate)
        self._tick_s = self.block_ms / 1000
        self._in_block = max(1, round(in_rate * self.block_ms / 1000))
        self._out = np.zeros(max(1, round(self._output_rate * self.block_ms / 1000)), np.int16)
        self._tail_left = round(in_rate * self.tail_silence_ms / 1000)
        self._captured = np.zeros(0, dtype=np.int16)
        if self.realtime:
            loop = asyncio.get_running_loop()
            self._next_tick = loop.time()
            self._clock = loop.call_soon(self._clock_tick)
        else:
            self._task = asyncio.create_task(self._run_fast(), name="rtws-file-media")

    async def _stop_streams(self) -> None:
        clock, self._clock = self._clock, None
        if clock is not None:
            clock.cancel()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    def _clock_tick(self) -> None:
        """Real time: one tick per ``block_ms`` of the loop's clock, as a timer callback.

        A timer rather than a task sleeping in a loop: a sleep costs a future
        and a second loop iteration per tick, and hundreds of sessions tick 50
        times a second each.
        """
        if not self.is_running:
            return
        try:
            self._tick()
        except Exception as exc:  # a bug must not pass silently into the loop's handler
            self._clock = None
            self._report_device_error(
                DeviceError(f"file device failed: {type(exc).__name__}: {exc}", kind="audioinput")
            )
            return
        loop = self._loop
        assert loop is not None  # set by start()
        self._next_tick += self._tick_s
        if self._next_tick < loop.time() - 1.0:
            self._next_tick = loop.time()  # the loop stalled for long: do not burst to catch up
        self._clock = loop.call_at(self._next_tick, self._clock_tick)

    async def _run_fast(self) -> None:
        """As fast as the session goes; with nothing to capture or play, wait for bot audio."""
        while True:
            played = self._tick()
            if self._input_done.is_set() and not played:
                self._new_audio.clear()
                try:
                    async with asyncio.timeout(0.02):
                        await self._new_audio.wait()
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(0)

    def _tick(self) -> int:
        """Capture one input block and play one output block; returns the real samples played."""
        in_block = self._in_block
        captured = self._captured
        while len(captured) < in_block and self._queued:
            captured = np.concatenate([captured, self._queued.popleft()])
        if len(captured) >= in_block or (len(captured) and not self._queued):
            block = captured[:in_block]
            captured = captured[in_block:]
            if len(block) < in_block:
                block = np.concatenate([block, np.zeros(in_block - len(block), np.int16)])
            self._push_input(block)
        elif self._tail_left > 0 or self.realtime:
            self._tail_left -= in_block
            self._push_input(np.zeros(in_block, dtype=np.int16))
            if self._tail_left <= 0:
                self._input_done.set()
        elif not self._input_done.is_set():
            # A file that simply ends: what the resampler and chunker hold goes out too.
            self._end_input()
            self._input_done.set()
        self._captured = captured
        out = self._out
        try:
            real = self._pull_output(out)
        except Exception as exc:  # a bug must not stop the virtual device, nor the mic
            real = 0
            out.fill(0)
            self._output_failed(exc)
        if self.realtime or real:
            self._record(out)
        return real

    def _output_failed(self, exc: Exception) -> None:
        """Counted like a sound card's callback errors, reported once per session."""
        failures = self.stats.extra.get("callback_errors", 0) + 1
        self.stats.extra["callback_errors"] = failures
        if failures == 1:
            self._report_device_error(
                DeviceError(f"file speaker failed: {type(exc).__name__}: {exc}", kind="audiooutput")
            )

    def _record(self, block: Int16Array) -> None:
        self.output_samples += len(block)
        if self.keep_output:
            self._played.append(block.copy())
        if self._writer is not None:
            self._writer.write(block)


def _file_device(device_id: str, name: str, kind: DeviceKind, rate: int) -> AudioDevice:
    """A file (or memory) as the one device of its kind there is, so the transport's
    device events and the CLI's status line work the same as with sound cards."""
    return AudioDevice(
        id=device_id,
        name=f"file: {name}",
        kind=kind,
        default_sample_rate=rate,
        max_channels=1,
        is_default=True,
    )
