"""What the transport needs from audio I/O, and the part every backend shares.

The transport never touches a device: it asks a :class:`MediaManager` for mic
chunks at the provider's rate and hands it bot audio at the provider's rate.
A backend (real sound devices, files, memory) only moves device-rate blocks;
resampling, chunking, the playout buffer, levels and the thread hand-off live
here once, so every backend behaves the same: the mic side in
:mod:`.capture`, the speaker side in :mod:`.playout`, the lifecycle, device
selection and the pipelines' set-up here.

Threading: a backend may call :meth:`MediaManager._push_input` and
:meth:`MediaManager._pull_output` from a real-time audio thread. Neither
waits for the event loop: input blocks go into a bounded deque (oldest
dropped and counted when the loop falls behind) and the loop is woken with
``call_soon_threadsafe``; output is read from the lock-light playout buffer.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from abc import ABC, abstractmethod

from ..audio import InputPipeline, OutputPipeline
from ..audio.echo import EchoCanceller, echo_wanted
from ..errors import DeviceError
from ..redact import get_logger
from ..video.cameras import Cameras
from .capture import MAX_PENDING_INPUT_BLOCKS, Capture, PendingBlock
from .playout import Playout
from .types import (
    AudioChunk,
    AudioDevice,
    DeviceErrorCallback,
    DeviceKind,
    MediaFormat,
    MediaStats,
)

__all__ = [
    "MAX_PENDING_INPUT_BLOCKS",
    "AudioChunk",
    "AudioDevice",
    "DeviceErrorCallback",
    "DeviceKind",
    "MediaFormat",
    "MediaManager",
    "MediaStats",
]

log = get_logger("rtws.media")


class MediaManager(Capture, Playout, ABC):
    """Audio in and out for one transport. Subclasses implement the device part."""

    #: Whether ``echo_cancellation=None`` turns the canceller on for this backend:
    #: yes where a speaker can leak into a mic (sound devices), no for files and memory.
    echo_cancellation_default: bool = False
    #: Whether the backend hands the canceller played blocks and DAC/ADC times at all.
    supports_echo_cancellation: bool = False

    def __init__(self) -> None:
        self._format: MediaFormat | None = None
        self._input: InputPipeline | None = None
        self._output: OutputPipeline | None = None
        self._mic_enabled = True
        #: Cameras (none by default; see rtws.video): list, selection, on/off switch.
        self.cameras = Cameras()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._pending: collections.deque[PendingBlock] = collections.deque()
        self._echo: EchoCanceller | None = None
        self._pending_lock = threading.Lock()
        self._echo_wanted = False
        self._mic_waiter: asyncio.Future[None] | None = None
        self._wakeup_scheduled = False
        self._metering = (True, True)  # (mic, bot): see set_metering
        self._running = False
        self._seq = 0
        self._on_device_error: DeviceErrorCallback | None = None
        self.stats = MediaStats()

    # ------------------------------------------------------------------ devices
    async def initialize(self) -> None:
        """Prepare device enumeration; idempotent."""

    async def get_all_mics(self) -> list[AudioDevice]:
        return []

    async def get_all_speakers(self) -> list[AudioDevice]:
        return []

    async def get_all_cams(self) -> list[AudioDevice]:
        """Cameras (kind ``videoinput``): a file backend's ``camera=PATH``, or the
        machine's cameras with the ``video`` extra; ``[]`` otherwise."""
        return self.cameras.refresh()

    async def update_mic(self, device_id: str) -> AudioDevice:
        raise DeviceError(
            f"{type(self).__name__} has no selectable microphones (asked for {device_id!r})",
            device_id=device_id,
            kind="audioinput",
        )

    async def update_speaker(self, device_id: str) -> AudioDevice:
        raise DeviceError(
            f"{type(self).__name__} has no selectable speakers (asked for {device_id!r})",
            device_id=device_id,
            kind="audiooutput",
        )

    async def update_cam(self, device_id: str) -> AudioDevice:
        """Select a camera; while connected, the next frame comes from it."""
        return self.cameras.select(device_id)

    @property
    def selected_mic(self) -> AudioDevice | None:
        return None

    @property
    def selected_speaker(self) -> AudioDevice | None:
        return None

    # ------------------------------------------------------------------ mute
    def enable_mic(self, enabled: bool) -> None:
        """Muting replaces captured audio with silence before it is queued, as a browser's
        muted track does: nothing said while muted reaches the LLM, yet the stream goes on,
        so a server's VAD hears the turn end when the user mutes mid-sentence (a mic that
        sent nothing would leave that turn open until the user unmuted)."""
        self._mic_enabled = enabled
        if not enabled and self._input is not None:
            self._input.reset()

    @property
    def is_mic_enabled(self) -> bool:
        return self._mic_enabled

    def enable_cam(self, enabled: bool) -> None:
        """Frames flow while the camera is on and the session ready (DeviceError: no camera)."""
        self.cameras.enable(enabled)

    @property
    def is_cam_enabled(self) -> bool:
        return self.cameras.enabled

    @property
    def selected_cam(self) -> AudioDevice | None:
        return self.cameras.selected

    # ------------------------------------------------------------------ lifecycle
    @property
    def is_running(self) -> bool:
        return self._running

    @property
    def format(self) -> MediaFormat | None:
        return self._format

    def set_device_error_callback(self, callback: DeviceErrorCallback | None) -> None:
        """The transport turns these into ``device-error`` events."""
        self._on_device_error = callback

    async def start(self, fmt: MediaFormat) -> None:
        """Open the devices and start streaming at the provider's rates."""
        if self._running:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._format = fmt
        self._echo_wanted = self.echo_cancellation_for(fmt)
        self.stats.echo = None  # filled when the canceller starts with the mic
        with self._pending_lock:
            self._pending.clear()
        self._seq = 0
        self._running = True
        try:
            await self._start_streams(fmt)
        except BaseException:
            self._running = False
            await self._stop_streams()
            raise

    async def stop(self) -> None:
        """Close every stream; idempotent, safe after a failed start."""
        if not self._running:
            return
        self._running = False
        try:
            await self._stop_streams()
        finally:
            self._wake()
            self._input = None
            self._output = None

    def echo_cancellation_for(self, fmt: MediaFormat) -> bool:
        """Whether this backend runs the echo canceller for ``fmt`` (see :func:`echo_wanted`)."""
        return echo_wanted(
            fmt.echo_cancellation,
            default=self.echo_cancellation_default,
            supported=self.supports_echo_cancellation,
            backend=type(self).__name__,
        )

    @property
    def echo_cancellation(self) -> bool:
        """Whether the echo canceller runs in this session (False before :meth:`start`)."""
        return self._echo is not None

    @abstractmethod
    async def _start_streams(self, fmt: MediaFormat) -> None:
        """Open the backend's streams; call :meth:`_configure` before audio flows."""

    @abstractmethod
    async def _stop_streams(self) -> None:
        """Close the backend's streams. Must tolerate a partial start."""

    def _configure(self, input_device_rate: int, output_device_rate: int) -> None:
        """Build (or rebuild, on a device switch) the pipelines for the devices' rates."""
        fmt = self._format
        assert fmt is not None, "_configure called before start()"
        self._configure_input(input_device_rate)
        self._configure_output(output_device_rate)

    def _configure_input(self, device_rate: int) -> None:
        fmt = self._format
        assert fmt is not None
        self._input = InputPipeline(
            device_rate, fmt.input_sample_rate, fmt.chunk_ms, fmt.resample_quality
        )
        self._input.metering = self._metering[0]
        if self._echo_wanted:
            # The canceller works at the mic's own rate: a new rate needs a new one.
            if self._echo is None or self._echo.rate != device_rate:
                self._echo = EchoCanceller(device_rate, noise_suppression=fmt.noise_suppression)
                self.stats.echo = self._echo.stats
            else:
                self._echo.resync()

    def _configure_output(self, device_rate: int) -> None:
        """A new output pipeline for ``device_rate``; audio the old one queued moves to it."""
        fmt = self._format
        assert fmt is not None
        old = self._output
        self._output = OutputPipeline(
            fmt.output_sample_rate,
            device_rate,
            fmt.prebuffer_ms,
            fmt.resample_quality,
            fmt.max_playout_s,
        )
        if old is not None:
            # A speaker at another rate: resample what is queued rather than drop it.
            self._output.adopt(old)
        self._output.metering = self._metering[1]

    # ------------------------------------------------------------------ meters, errors
    def set_metering(self, mic: bool, bot: bool) -> None:
        """Whether the mic and bot level meters run (both do unless switched off).

        A meter costs a few microseconds per block on each path, which adds up
        over hundreds of sessions; the transport switches off the ones nobody
        listens to. A switched-off meter reads 0.
        """
        self._metering = (mic, bot)
        if self._input is not None:
            self._input.metering = mic
        if self._output is not None:
            self._output.metering = bot

    def read_levels(self) -> tuple[float, float]:
        """(mic, bot) levels in 0..1, the maxima since the previous call."""
        mic = self._input.level.read() if self._input is not None else 0.0
        bot = self._output.level.read() if self._output is not None else 0.0
        return mic, bot

    def _report_device_error(self, error: DeviceError) -> None:
        """Backends call this from the loop thread when a device fails mid-stream."""
        log.warning("device error: %s", error)
        if self._on_device_error is not None:
            self._on_device_error(error)

    def _report_device_error_threadsafe(self, error: DeviceError) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._report_device_error, error)
