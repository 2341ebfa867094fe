"""Real microphones and speakers through sounddevice (PortAudio).

The base class does every conversion; this backend only opens PortAudio
streams and moves device-rate mono blocks in and out of their callbacks.
Choices worth knowing:

* Streams open at the device's own rate (or a requested one the device
  accepts) with int16 samples: the device never resamples behind our back,
  and soxr in the base does it once, well.
* Mic and speaker are two separate streams, so each can be switched or lost
  on its own. A switch opens the new stream, waits for its first callback,
  hands it the audio, and only then retires the old one (a retiring speaker
  first plays out what its device holds): no gap, at most a block of overlap.
* Callbacks run on PortAudio's thread. They never wait for the event loop,
  never log (logging from a foreign thread registers a Python thread that
  is never cleaned up), and never let an exception out: errors are counted
  in ``stats.extra`` and reported once per stream as a device error.
* Device ids are ``"<name>@<host API>"``: unlike PortAudio indices they stay
  the same after :meth:`SoundDeviceMediaManager.rescan`.
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

from ..errors import ConfigurationError, DeviceError
from ..redact import get_logger
from ..video.cameras import Cameras
from .base import AudioDevice, DeviceKind, MediaFormat, MediaManager

_import_error: str | None = None
try:
    import sounddevice as sd
except OSError as _exc:  # sounddevice raises OSError when the PortAudio library is missing
    sd: Any = None
    _import_error = str(_exc)

log = get_logger("rtws.media.sounddevice")

Int16Array = npt.NDArray[np.int16]
Latency = Literal["low", "high"] | float
#: A device as users name it: an id from :meth:`get_all_mics`, a (part of a) name,
#: a PortAudio index, an :class:`AudioDevice`, or None for the system default.
DeviceSpec = str | int | AudioDevice | None

#: How long a switch waits for the new stream's first callback before going ahead.
SWITCH_WARMUP_TIMEOUT = 1.0

_KIND_LABEL: dict[DeviceKind, str] = {
    "audioinput": "microphone",
    "audiooutput": "speaker",
    "videoinput": "camera",
}


def _require_portaudio() -> None:
    if sd is None:
        raise DeviceError(
            f"PortAudio is not available ({_import_error}). Install it: "
            "'apt install libportaudio2' (Debian/Ubuntu), 'brew install portaudio' (macOS); "
            "on a machine with no sound card run scripts/audio-sandbox up"
        )


@dataclass(frozen=True, slots=True)
class _PaDevice:
    """One PortAudio device as enumerated now; ``index`` is only valid until a rescan."""

    index: int
    device: AudioDevice
    hostapi_index: int


@dataclass(eq=False)
class _Stream:
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
        return f"{_KIND_LABEL[self.kind]} {self.device.name!r}"


class SoundDeviceMediaManager(MediaManager):
    """Microphone and speaker through PortAudio: enumerate, select, hot-swap, mute.

    Args:
        input_device: the microphone: an id (see :meth:`get_all_mics`), an exact
            or uniquely matching part of a name, a PortAudio index, or None for
            the system default.
        output_device: the speaker, likewise.
        input_rate / output_rate: open the device at this rate instead of its
            default. A device that refuses it is opened at its default rate
            (logged); the base resamples either way.
        latency: PortAudio's suggested latency: ``"low"`` (default), ``"high"``
            or seconds. Higher survives a busy machine; lower answers sooner.
        blocksize_ms: audio per callback (default 20 ms). It bounds how fast a
            flush silences the speaker and how much a device switch can lose.
        channels: open the devices with this many channels. By default mono,
            or stereo for a device that refuses mono. Input channels are
            averaged; output plays the same audio on every channel.
        input_enabled / output_enabled: open the mic / the speaker at all (a
            speaker-only or mic-only session).
    """

    #: A speaker can leak into a mic: cancel the echo unless told not to.
    echo_cancellation_default = True
    supports_echo_cancellation = True

    #: PortAudio streams open in this process through any instance (for leak checks).
    _live_streams: ClassVar[int] = 0
    _live_lock: ClassVar[threading.Lock] = threading.Lock()
    #: Every open stream, so none is garbage-collected while PortAudio still calls its
    #: callback (the cffi callback is freed with it and the process aborts): a session
    #: nobody disconnected keeps its streams until exit instead of crashing.
    _live: ClassVar[set[_Stream]] = set()

    def __init__(
        self,
        input_device: DeviceSpec = None,
        output_device: DeviceSpec = None,
        *,
        input_rate: int | None = None,
        output_rate: int | None = None,
        latency: Latency = "low",
        blocksize_ms: float = 20.0,
        channels: int | None = None,
        input_enabled: bool = True,
        output_enabled: bool = True,
    ) -> None:
        super().__init__()
        self.cameras = Cameras.system()  # [] without the video extra or a camera
        if blocksize_ms <= 0:
            raise ConfigurationError(f"blocksize_ms must be positive, got {blocksize_ms}")
        for name, rate in (("input_rate", input_rate), ("output_rate", output_rate)):
            if rate is not None and rate <= 0:
                raise ConfigurationError(f"{name} must be a positive sample rate, got {rate}")
        if channels is not None and channels <= 0:
            raise ConfigurationError(f"channels must be positive, got {channels}")
        if not isinstance(latency, str) and latency <= 0:
            raise ConfigurationError(
                f"latency must be 'low', 'high' or positive seconds, got {latency}"
            )
        self.input_device_spec: DeviceSpec = input_device
        self.output_device_spec: DeviceSpec = output_device
        self.input_rate = input_rate
        self.output_rate = output_rate
        self.latency: Latency = latency
        self.blocksize_ms = blocksize_ms
        self.channels = channels
        self.input_enabled = input_enabled
        self.output_enabled = output_enabled
        self._mic: AudioDevice | None = None
        self._speaker: AudioDevice | None = None
        self._in: _Stream | None = None
        self._out: _Stream | None = None
        self._open: set[_Stream] = set()
        # Taken by callbacks around "am I the current stream?" + push/pull, and by a
        # switch around the swap, so a retiring stream never delivers after the swap.
        self._input_lock = threading.Lock()
        self._output_lock = threading.Lock()
        for key in ("input_overflows", "output_underflows", "callback_errors", "device_losses"):
            self.stats.extra[key] = 0

    def __repr__(self) -> str:
        mic = self._mic.id if self._mic else self.input_device_spec
        speaker = self._speaker.id if self._speaker else self.output_device_spec
        return (
            f"SoundDeviceMediaManager(mic={mic!r}, speaker={speaker!r}, running={self.is_running})"
        )

    def echo_cancellation_for(self, fmt: MediaFormat) -> bool:
        """A session with only a mic or only a speaker has no echo to cancel."""
        if not (self.input_enabled and self.output_enabled):
            return False
        return super().echo_cancellation_for(fmt)

    # ------------------------------------------------------------------ enumeration
    async def initialize(self) -> None:
        """Check PortAudio and resolve the configured devices, so a wrong name fails early."""
        self._resolve_selection()

    async def get_all_mics(self) -> list[AudioDevice]:
        return [d.device for d in self._enumerate() if d.device.kind == "audioinput"]

    async def get_all_speakers(self) -> list[AudioDevice]:
        return [d.device for d in self._enumerate() if d.device.kind == "audiooutput"]

    @property
    def selected_mic(self) -> AudioDevice | None:
        return self._mic

    @property
    def selected_speaker(self) -> AudioDevice | None:
        return self._speaker

    def stream_format(self, device: AudioDevice) -> tuple[int, int]:
        """The (rate, channels) a session's stream would open ``device`` at, without opening it.

        PortAudio's listed defaults can differ (its ALSA ``pulse`` device says
        44.1 kHz and 32 channels whatever the sound server runs); this is the
        negotiation a stream really goes through. Raises :class:`DeviceError`
        when the device is busy or gone.
        """
        requested = self.input_rate if device.kind == "audioinput" else self.output_rate
        return self._negotiate(self._find(device, device.kind), requested)

    def find_device(self, spec: DeviceSpec, kind: DeviceKind) -> AudioDevice:
        """The device ``spec`` names; a :class:`DeviceError` that lists the choices if none."""
        return self._find(spec, kind).device

    @classmethod
    def rescan(cls) -> None:
        """Re-read the device list: PortAudio only enumerates when it starts.

        Restarting PortAudio would kill every open stream in the process, so
        this refuses while any is open.
        """
        _require_portaudio()
        with cls._live_lock:
            live = cls._live_streams
            if live:
                raise DeviceError(
                    f"cannot rescan sound devices while {live} stream(s) are open; "
                    "stop the session (disconnect) first"
                )
            sd._terminate()
            sd._initialize()

    @classmethod
    def live_stream_count(cls) -> int:
        """PortAudio streams opened by any instance and not closed yet."""
        return cls._live_streams

    @property
    def open_stream_count(self) -> int:
        """Streams this manager has open (mic, speaker, and briefly both during a switch)."""
        return len(self._open)

    def _enumerate(self) -> list[_PaDevice]:
        _require_portaudio()
        hostapis: list[dict[str, Any]] = list(sd.query_hostapis())
        raw: list[dict[str, Any]] = list(sd.query_devices())
        default_in = _default_index("input")
        default_out = _default_index("output")
        seen: dict[str, int] = {}
        found: list[_PaDevice] = []
        for info in raw:
            index = int(info["index"])
            hostapi = int(info["hostapi"])
            base_id = f"{info['name']}@{hostapis[hostapi]['name']}"
            seen[base_id] = seen.get(base_id, 0) + 1
            device_id = base_id if seen[base_id] == 1 else f"{base_id}#{seen[base_id]}"
            directions: tuple[tuple[DeviceKind, int, int], ...] = (
                ("audioinput", int(info["max_input_channels"]), default_in),
                ("audiooutput", int(info["max_output_channels"]), default_out),
            )
            for kind, channels, default in directions:
                if channels <= 0:
                    continue
                device = AudioDevice(
                    id=device_id,
                    name=str(info["name"]),
                    kind=kind,
                    default_sample_rate=round(float(info["default_samplerate"])),
                    max_channels=channels,
                    is_default=index == default,
                )
                found.append(_PaDevice(index, device, hostapi))
        return found

    def _find(self, spec: DeviceSpec, kind: DeviceKind) -> _PaDevice:
        devices = [d for d in self._enumerate() if d.device.kind == kind]
        label = _KIND_LABEL[kind]
        if isinstance(spec, AudioDevice):
            spec = spec.id
        if spec is None:
            for d in devices:
                if d.device.is_default:
                    return d
            raise DeviceError(
                f"there is no default {label}; {_available(devices, label)}", kind=kind
            )
        if isinstance(spec, int):
            for d in devices:
                if d.index == spec:
                    return d
            raise DeviceError(
                f"PortAudio device {spec} is not a {label}; {_available(devices, label)}",
                device_id=str(spec),
                kind=kind,
            )
        matches = [d for d in devices if d.device.id == spec]
        if not matches:
            matches = [d for d in devices if d.device.name == spec]
        if not matches and spec.isdigit():
            matches = [d for d in devices if d.index == int(spec)]
        if not matches:
            needle = spec.casefold()
            matches = [
                d
                for d in devices
                if needle in d.device.name.casefold() or needle in d.device.id.casefold()
            ]
        if len(matches) > 1:
            # The same device under several host APIs (Windows lists MME, WASAPI, ...):
            # prefer the default host API, as PortAudio itself does.
            preferred = [d for d in matches if d.hostapi_index == _default_hostapi()]
            if len(preferred) == 1:
                matches = preferred
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise DeviceError(
                f"no {label} matches {spec!r}; {_available(devices, label)}",
                device_id=spec,
                kind=kind,
            )
        names = ", ".join(repr(d.device.id) for d in matches)
        raise DeviceError(
            f"{spec!r} matches several {label}s ({names}); pass one of these ids",
            device_id=spec,
            kind=kind,
        )

    def _resolve_selection(self) -> None:
        if self.input_enabled and self._mic is None:
            self._mic = self.find_device(self.input_device_spec, "audioinput")
        if self.output_enabled and self._speaker is None:
            self._speaker = self.find_device(self.output_device_spec, "audiooutput")

    # ------------------------------------------------------------------ switching
    async def update_mic(self, device_id: str) -> AudioDevice:
        """Select another microphone; while streaming, switch with no more than a block lost."""
        device = self.find_device(device_id, "audioinput")
        if self.is_running and self.input_enabled:
            await self._switch_input(device)
        self._mic = device
        self.input_device_spec = device.id
        return device

    async def update_speaker(self, device_id: str) -> AudioDevice:
        """Select another speaker; while streaming, queued bot audio moves to it."""
        device = self.find_device(device_id, "audiooutput")
        if self.is_running and self.output_enabled:
            await self._switch_output(device)
        self._speaker = device
        self.output_device_spec = device.id
        return device

    async def _switch_input(self, device: AudioDevice) -> None:
        # Keep the rate in use when the new device takes it: the pipeline (and the
        # chunk being assembled) carries on untouched.
        current = self._input.device_rate if self._input is not None else None
        new = await self._open_warm_stream(device, self.input_rate or current)
        with self._input_lock:
            old, self._in = self._in, new
            if self._input is None or self._input.device_rate != new.rate:
                with self._pending_lock:
                    self._pending.clear()  # blocks at the old rate must not reach the new pipeline
                self._configure_input(new.rate)
            elif self._echo is not None:
                self._echo.resync()  # same rate, but a new clock and a new echo path
        self._close_stream(old)
        log.info("microphone switched to %r at %d Hz", device.name, new.rate)

    async def _switch_output(self, device: AudioDevice) -> None:
        current = self._output.device_rate if self._output is not None else None
        new = await self._open_warm_stream(device, self.output_rate or current)
        with self._output_lock:
            old, self._out = self._out, new
            if self._output is None or self._output.device_rate != new.rate:
                if self._output is not None and self._output.buffer.buffered_samples:
                    log.info(
                        "speaker %r runs at %d Hz, not %d Hz: %.0f ms of queued bot audio "
                        "resampled for it",
                        device.name,
                        new.rate,
                        self._output.device_rate,
                        self._output.buffer.buffered_ms,
                    )
                self._configure_output(new.rate)
            if self._echo is not None:
                self._echo.resync(new_speaker=True)  # a new clock and a new echo path
        log.info("speaker switched to %r at %d Hz", device.name, new.rate)
        if old is not None:
            # The old stream plays silence now, but the audio its device already holds
            # was counted as played: let it be heard before closing. (Closing drops it,
            # and so does Pa_StopStream through ALSA's pulse plugin: 40 ms measured.)
            await asyncio.sleep(float(old.stream.latency) + old.blocksize / old.rate)
            self._close_stream(old)

    async def _open_warm_stream(self, device: AudioDevice, rate: int | None) -> _Stream:
        """Open a stream for a switch and wait for its first callback.

        A new capture stream delivers its first block 50-75 ms after it starts
        (measured on PulseAudio); switching over before that left a gap of up
        to 145 ms. Waiting makes the switch overlap instead.
        """
        new = self._open_stream(device, rate)
        try:
            async with asyncio.timeout(SWITCH_WARMUP_TIMEOUT):
                await new.first_callback.wait()
        except TimeoutError:
            log.warning(
                "%s gave no callback in %.1f s; switching to it anyway",
                new.label,
                SWITCH_WARMUP_TIMEOUT,
            )
        except BaseException:
            self._close_stream(new)
            raise
        if not self.is_running or new not in self._open:
            self._close_stream(new)
            raise DeviceError(
                f"{new.label} was not switched to: it failed, or the session stopped, "
                "while it was starting",
                device_id=device.id,
                kind=device.kind,
            )
        return new

    # ------------------------------------------------------------------ lifecycle
    async def _start_streams(self, fmt: MediaFormat) -> None:
        self._resolve_selection()
        if self.input_enabled and self._mic is not None:
            stream = self._open_stream(self._mic, self.input_rate)
            with self._input_lock:
                self._configure_input(stream.rate)
                self._in = stream
        if self.output_enabled and self._speaker is not None:
            stream = self._open_stream(self._speaker, self.output_rate)
            with self._output_lock:
                self._configure_output(stream.rate)
                self._out = stream

    async def _stop_streams(self) -> None:
        with self._input_lock:
            self._in = None
        with self._output_lock:
            self._out = None
        for stream in list(self._open):
            self._close_stream(stream)

    def _open_stream(self, device: AudioDevice, rate: int | None) -> _Stream:
        """Open and start a stream; it delivers nothing until it becomes ``_in``/``_out``."""
        pa = self._find(device.id, device.kind)
        rate, channels = self._negotiate(pa, rate)
        blocksize = max(1, round(rate * self.blocksize_ms / 1000))
        handle = _Stream(device.kind, pa.device, rate, channels, blocksize)
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
            raise self._open_error(pa, f"could not be opened at {rate} Hz: {exc}") from None
        self._track(handle, opened=True)
        try:
            handle.stream.start()
        except sd.PortAudioError as exc:
            self._close_stream(handle)
            raise self._open_error(pa, f"could not be started: {exc}") from None
        return handle

    def _negotiate(self, pa: _PaDevice, requested: int | None) -> tuple[int, int]:
        """The first (rate, channels) the device takes: requested rate, then its own; mono first."""
        check = (
            sd.check_input_settings if pa.device.kind == "audioinput" else sd.check_output_settings
        )
        default = pa.device.default_sample_rate
        rates = [requested, default] if requested and requested != default else [default]
        if self.channels is not None:
            channel_options = [self.channels]
        else:
            channel_options = [1, 2] if pa.device.max_channels >= 2 else [1]
        refusals: list[str] = []
        for rate in rates:
            for channels in channel_options:
                try:
                    check(device=pa.index, channels=channels, dtype="int16", samplerate=rate)
                except ValueError as exc:  # sounddevice's own checks, e.g. too many channels
                    refusals.append(f"{rate} Hz x{channels}: {exc}")
                    continue
                except sd.PortAudioError as exc:
                    if _error_code(exc) not in _FORMAT_REFUSALS:
                        # Busy, broken or gone: another format will not help.
                        raise self._open_error(pa, f"could not be opened: {exc}") from None
                    refusals.append(f"{rate} Hz x{channels}: {exc}")
                    continue
                if rate != rates[0]:
                    log.warning(
                        "%s %r refuses %d Hz; opening it at its default rate %d Hz instead",
                        _KIND_LABEL[pa.device.kind],
                        pa.device.name,
                        rates[0],
                        rate,
                    )
                return rate, channels
        raise self._open_error(pa, "refuses every format tried (" + "; ".join(refusals) + ")")

    def _open_error(self, pa: _PaDevice, problem: str) -> DeviceError:
        label = _KIND_LABEL[pa.device.kind]
        others = [d for d in self._enumerate() if d.device.kind == pa.device.kind]
        return DeviceError(
            f"{label} {pa.device.name!r} {problem}; {_available(others, label)}",
            device_id=pa.device.id,
            kind=pa.device.kind,
        )

    def _close_stream(self, handle: _Stream | None) -> None:
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

    def _track(self, handle: _Stream, *, opened: bool) -> None:
        # Always the base class's counter, also from subclasses: it is per process.
        with SoundDeviceMediaManager._live_lock:
            if opened:
                self._open.add(handle)
                SoundDeviceMediaManager._live.add(handle)
                SoundDeviceMediaManager._live_streams += 1
            else:
                self._open.discard(handle)
                SoundDeviceMediaManager._live.discard(handle)
                SoundDeviceMediaManager._live_streams -= 1

    # ---------------------------------------------------------- callbacks (PortAudio thread)
    def _make_input_callback(self, handle: _Stream) -> Callable[[Int16Array, int, Any, Any], None]:
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
                    adc_time = _stream_time(time_info.inputBufferAdcTime, time_info, captured_at)
                    if adc_time is None:  # a host API without timestamps: estimate
                        adc_time = captured_at - float(handle.stream.latency) - frames / handle.rate
                with self._input_lock:
                    if self._in is handle:
                        self._push_input(block, captured_at, adc_time)
            except Exception as exc:  # nothing may escape into PortAudio
                self._callback_failed(handle, exc)

        return callback

    def _make_output_callback(self, handle: _Stream) -> Callable[[Int16Array, int, Any, Any], None]:
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
                        dac_time = _stream_time(time_info.outputBufferDacTime, time_info, now)
                        if dac_time is None:
                            dac_time = now + float(handle.stream.latency)
                        self._push_far(mono, dac_time, handle.rate)
            except Exception as exc:  # nothing may escape into PortAudio
                outdata.fill(0)
                self._callback_failed(handle, exc)

        return callback

    def _make_finished_callback(self, handle: _Stream) -> Callable[[], None]:
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

    def _note_first_callback(self, handle: _Stream) -> None:
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

    def _callback_failed(self, handle: _Stream, exc: Exception) -> None:
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
    def _stream_lost(self, handle: _Stream) -> None:
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
        label = _KIND_LABEL[handle.kind]
        try:
            others = [d for d in self._enumerate() if d.device.kind == handle.kind]
            available = _available(others, label)
        except DeviceError as exc:
            available = str(exc)
        self._report_device_error(
            DeviceError(
                f"{handle.label} stopped (unplugged or failed); {what}. "
                f"Pick another with {choose}; {available}",
                device_id=handle.device.id,
                kind=handle.kind,
            )
        )


#: PortAudio errors that mean "not this format" (paInvalidChannelCount,
#: paInvalidSampleRate, paSampleFormatNotSupported): worth trying another.
_FORMAT_REFUSALS = frozenset({-9998, -9997, -9994})


def _stream_time(stamp: float, time_info: Any, now: float) -> float | None:
    """A PortAudio stream time as ``time.perf_counter()`` seconds (None: the host API gave none).

    Each stream has its own clock (``currentTime`` is "now" on it), so the
    offset is taken per callback: mic and speaker stamps then compare even on
    two devices of two host APIs.
    """
    current = float(time_info.currentTime)
    if not stamp or not current:
        return None
    return float(stamp) + (now - current)


def _error_code(exc: Exception) -> int | None:
    """The PaErrorCode of a ``sounddevice.PortAudioError`` (its second argument)."""
    code = exc.args[1] if len(exc.args) > 1 else None
    return code if isinstance(code, int) else None


def _default_index(kind: Literal["input", "output"]) -> int:
    """PortAudio's default device for ``kind`` (honours ``sd.default.device``), or -1."""
    try:
        info: dict[str, Any] = sd.query_devices(kind=kind)
    except (sd.PortAudioError, ValueError):
        return -1
    return int(info["index"])


def _default_hostapi() -> int:
    try:
        return int(sd.default.hostapi)
    except (sd.PortAudioError, ValueError, TypeError):
        return 0


def _available(devices: list[_PaDevice], label: str) -> str:
    if not devices:
        return (
            f"no {label}s are available (is a sound server running? try scripts/audio-sandbox up)"
        )
    listed = ", ".join(
        f"{d.device.name!r}"
        + (f" (id {d.device.id!r})" if d.device.id != d.device.name else "")
        + (" [default]" if d.device.is_default else "")
        for d in devices
    )
    return f"available {label}s: {listed}"
