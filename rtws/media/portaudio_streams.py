"""PortAudio streams and their callbacks: the part of the sound device backend that runs.

Split from the manager's public API (device choice, hot-swap) because this is
where the threading rules live, and they are easier to keep in one place:

* Callbacks run on PortAudio's thread. They never wait for the event loop,
  never log (logging from a foreign thread registers a Python thread that
  is never cleaned up), and never let an exception out: errors are counted
  in ``stats.extra`` and reported once per stream as a device error.
* A stream delivers only while it is the manager's current ``_in``/``_out``,
  checked under a lock the switch also takes, so a retiring stream never
  delivers after a swap.
* Every open stream is held in a per-process set: a stream garbage-collected
  while PortAudio still calls it frees the cffi callback and aborts the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from ..errors import DeviceError
from ..redact import get_logger
from .base import AudioDevice, DeviceKind, MediaManager
from .portaudio import KIND_LABEL, available, enumerate_devices, find_device, negotiate, open_error
from .portaudio import sd as sd

log = get_logger("rtws.media.sounddevice")

Int16Array = npt.NDArray[np.int16]
Latency = Literal["low", "high"] | float


@dataclass(eq=False)
class PortAudioStream:
    """An open PortAudio stream plus what its callback needs, so callbacks allocate little."""

    kind: DeviceKind
    device: AudioDevice
    rate: int
    channels: int
    blocksize: int
    stream: Any = None
    closing: bool = False
    error_reported: bool = False
    called: bool = False
    #: Set (on the loop) after PortAudio first called back: the stream really runs.
    first_callback: asyncio.Event = field(default_factory=asyncio.Event)
    scratch: Int16Array = field(default_factory=lambda: np.zeros(0, dtype=np.int16))

    @property
    def label(self) -> str:
        return f"{KIND_LABEL[self.kind]} {self.device.name!r}"


class PortAudioStreams(MediaManager):
    """Opens, feeds and closes PortAudio streams for :class:`SoundDeviceMediaManager`.

    Args:
        latency: PortAudio's suggested latency.
        blocksize_ms: audio per callback.
        channels: the channel count to open with, or None to negotiate.
    """

    #: PortAudio streams open in this process through any instance (for leak checks).
    _live_streams: ClassVar[int] = 0
    _live_lock: ClassVar[threading.Lock] = threading.Lock()
    #: Every open stream, so none is garbage-collected while PortAudio still calls its
    #: callback (the cffi callback is freed with it and the process aborts): a session
    #: nobody disconnected keeps its streams until exit instead of crashing.
    _live: ClassVar[set[PortAudioStream]] = set()

    def __init__(self, *, latency: Latency, blocksize_ms: float, channels: int | None) -> None:
        super().__init__()
        self.latency: Latency = latency
        self.blocksize_ms = blocksize_ms
        self.channels = channels
        self._mic: AudioDevice | None = None
        self._speaker: AudioDevice | None = None
        self._in: PortAudioStream | None = None
        self._out: PortAudioStream | None = None
        self._open: set[PortAudioStream] = set()
        # Taken by callbacks around "am I the current stream?" + push/pull, and by a
        # switch around the swap, so a retiring stream never delivers after the swap.
        self._input_lock = threading.Lock()
        self._output_lock = threading.Lock()
        for key in ("input_overflows", "output_underflows", "callback_errors", "device_losses"):
            self.stats.extra[key] = 0

    def _open_stream(self, device: AudioDevice, rate: int | None) -> PortAudioStream:
        """Open and start a stream; it delivers nothing until it becomes ``_in``/``_out``."""
        pa = find_device(device.id, device.kind)
        rate, channels = negotiate(pa, rate, self.channels)
        blocksize = max(1, round(rate * self.blocksize_ms / 1000))
        handle = PortAudioStream(device.kind, pa.device, rate, channels, blocksize)
        handle.scratch = np.zeros(blocksize, dtype=np.int16)
        if device.kind == "audioinput":
            factory: Callable[..., Any] = sd.InputStream
            callback: Callable[..., None] = self._make_input_callback(handle)
        else:
            factory = sd.OutputStream
            callback = self._make_output_callback(handle)
        try:
            handle.stream = factory(
                device=pa.index,
                samplerate=rate,
                channels=channels,
                dtype="int16",
                blocksize=blocksize,
                latency=self.latency,
                callback=callback,
                finished_callback=self._make_finished_callback(handle),
            )
        except (sd.PortAudioError, ValueError) as exc:
            raise open_error(pa, f"could not be opened at {rate} Hz: {exc}") from None
        self._track(handle, opened=True)
        try:
            handle.stream.start()
        except sd.PortAudioError as exc:
            self._close_stream(handle)
            raise open_error(pa, f"could not be started: {exc}") from None
        return handle

    def _close_stream(self, handle: PortAudioStream | None) -> None:
        if handle is None or handle not in self._open:
            return
        handle.closing = True
        stream = handle.stream
        if stream is not None:
            try:
                stream.abort(ignore_errors=True)
                stream.close(ignore_errors=True)
            except sd.PortAudioError as exc:  # a vanished device can fail even to close
                log.debug("closing %s: %s", handle.label, exc)
        self._track(handle, opened=False)

    def _track(self, handle: PortAudioStream, *, opened: bool) -> None:
        # Always this class's counter, also from subclasses: it is per process.
        with PortAudioStreams._live_lock:
            if opened:
                self._open.add(handle)
                PortAudioStreams._live.add(handle)
                PortAudioStreams._live_streams += 1
            else:
                self._open.discard(handle)
                PortAudioStreams._live.discard(handle)
                PortAudioStreams._live_streams -= 1

    # ---------------------------------------------------------- callbacks (PortAudio thread)
    def _make_input_callback(
        self, handle: PortAudioStream
    ) -> Callable[[Int16Array, int, Any, Any], None]:
        def callback(indata: Int16Array, frames: int, time_info: Any, status: Any) -> None:
            try:
                captured_at = time.perf_counter()
                if not handle.called:
                    self._note_first_callback(handle)
                if status:
                    self._count_status(status)
                if self._in is not handle:  # not switched in yet, or retiring
                    return
                if handle.channels == 1:
                    block = indata[:, 0].copy()
                else:
                    # Average the channels; int32 so two loud channels cannot wrap.
                    block = (indata.astype(np.int32).sum(axis=1) // handle.channels).astype(
                        np.int16
                    )
                adc_time = None
                if self._echo is not None:
                    adc_time = stream_time(time_info.inputBufferAdcTime, time_info, captured_at)
                    if adc_time is None:  # a host API without timestamps: estimate
                        adc_time = captured_at - float(handle.stream.latency) - frames / handle.rate
                with self._input_lock:
                    if self._in is handle:
                        self._push_input(block, captured_at, adc_time)
            except Exception as exc:  # nothing may escape into PortAudio
                self._callback_failed(handle, exc)

        return callback

    def _make_output_callback(
        self, handle: PortAudioStream
    ) -> Callable[[Int16Array, int, Any, Any], None]:
        def callback(outdata: Int16Array, frames: int, time_info: Any, status: Any) -> None:
            try:
                if not handle.called:
                    self._note_first_callback(handle)
                if status:
                    self._count_status(status)
                with self._output_lock:
                    if self._out is not handle:
                        outdata.fill(0)
                        return
                    if handle.channels == 1:
                        mono = outdata[:, 0]
                        self._pull_output(mono)
                    else:
                        mono = (
                            handle.scratch
                            if len(handle.scratch) == frames
                            else np.zeros(frames, np.int16)
                        )
                        self._pull_output(mono)
                        outdata[:] = mono[:, np.newaxis]  # the same audio on every channel
                    if self._echo is not None:
                        # The canceller's reference: exactly what the device got, and when
                        # it reaches the air.
                        now = time.perf_counter()
                        dac_time = stream_time(time_info.outputBufferDacTime, time_info, now)
                        if dac_time is None:
                            dac_time = now + float(handle.stream.latency)
                        self._push_far(mono, dac_time, handle.rate)
            except Exception as exc:  # nothing may escape into PortAudio
                outdata.fill(0)
                self._callback_failed(handle, exc)

        return callback

    def _make_finished_callback(self, handle: PortAudioStream) -> Callable[[], None]:
        def finished() -> None:
            # PortAudio calls this when the stream stops: after our abort (closing is
            # set) or on its own because the device failed or went away.
            if handle.closing:
                return
            loop = self._loop
            # Nothing may escape into PortAudio; a RuntimeError means the loop closed
            # meanwhile, and stop() cleans up.
            with contextlib.suppress(Exception):
                if loop is not None and not loop.is_closed():
                    loop.call_soon_threadsafe(self._stream_lost, handle)

        return finished

    def _note_first_callback(self, handle: PortAudioStream) -> None:
        handle.called = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(handle.first_callback.set)

    def _count_status(self, status: Any) -> None:
        extra = self.stats.extra
        if status.input_overflow:
            extra["input_overflows"] += 1
        if status.output_underflow:
            extra["output_underflows"] += 1

    def _callback_failed(self, handle: PortAudioStream, exc: Exception) -> None:
        # The last line of defence for PortAudio's thread: even reporting must not raise.
        with contextlib.suppress(Exception):
            self.stats.extra["callback_errors"] += 1
            if not handle.error_reported:
                handle.error_reported = True
                self._report_device_error_threadsafe(
                    DeviceError(
                        f"{handle.label} audio callback failed: {type(exc).__name__}: {exc}",
                        device_id=handle.device.id,
                        kind=handle.kind,
                    )
                )

    # ------------------------------------------------------------------ device loss (event loop)
    def _stream_lost(self, handle: PortAudioStream) -> None:
        """A stream stopped by itself: drop that device and keep the session going."""
        if handle.closing or handle not in self._open:
            return
        if handle is not self._in and handle is not self._out:
            # Retiring after a switch, or not switched to yet (the switch reports it).
            self._close_stream(handle)
            return
        self.stats.extra["device_losses"] += 1
        if handle.kind == "audioinput":
            with self._input_lock:
                self._in = None
                self._mic = None
            what = "continuing without a microphone"
            choose = "update_mic()"
        else:
            with self._output_lock:
                self._out = None
                self._speaker = None
            what = "continuing without a speaker"
            choose = "update_speaker()"
        self._close_stream(handle)
        label = KIND_LABEL[handle.kind]
        try:
            others = [d for d in enumerate_devices() if d.device.kind == handle.kind]
            choices = available(others, label)
        except DeviceError as exc:
            choices = str(exc)
        self._report_device_error(
            DeviceError(
                f"{handle.label} stopped (unplugged or failed); {what}. "
                f"Pick another with {choose}; {choices}",
                device_id=handle.device.id,
                kind=handle.kind,
            )
        )


def stream_time(stamp: float, time_info: Any, now: float) -> float | None:
    """A PortAudio stream time as ``time.perf_counter()`` seconds (None: the host API gave none).

    Each stream has its own clock (``currentTime`` is "now" on it), so the
    offset is taken per callback: mic and speaker stamps then compare even on
    two devices of two host APIs.
    """
    current = float(time_info.currentTime)
    if not stamp or not current:
        return None
    return float(stamp) + (now - current)
