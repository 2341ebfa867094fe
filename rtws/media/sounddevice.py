"""Real microphones and speakers through sounddevice (PortAudio): the manager users create.

The base class does every conversion; this backend only opens PortAudio
streams and moves device-rate mono blocks in and out of their callbacks.
It is three modules, one concept each: :mod:`rtws.media.portaudio` (which
devices exist, how users name them, which formats they take),
:mod:`rtws.media.portaudio_streams` (streams, their callbacks on PortAudio's
thread, device loss), and this one (the public manager: settings, device
choice and hot-swap). Choices worth knowing:

* Streams open at the device's own rate (or a requested one the device
  accepts) with int16 samples: the device never resamples behind our back,
  and soxr in the base does it once, well.
* Mic and speaker are two separate streams, so each can be switched or lost
  on its own. A switch opens the new stream, waits for its first callback,
  hands it the audio, and only then retires the old one (a retiring speaker
  first plays out what its device holds): no gap, at most a block of overlap.
* Device ids are ``"<name>@<host API>"``: unlike PortAudio indices they stay
  the same after :meth:`SoundDeviceMediaManager.rescan`.
"""

from __future__ import annotations

import asyncio

from ..errors import ConfigurationError, DeviceError
from ..redact import get_logger
from ..video.cameras import Cameras
from .base import AudioDevice, DeviceKind, MediaFormat
from .portaudio import (
    DeviceSpec,
    enumerate_devices,
    find_device,
    negotiate,
    require_portaudio,
    restart_portaudio,
)
from .portaudio_streams import Int16Array, Latency, PortAudioStream, PortAudioStreams

__all__ = [
    "SWITCH_WARMUP_TIMEOUT",
    "DeviceSpec",
    "Int16Array",
    "Latency",
    "SoundDeviceMediaManager",
]

log = get_logger("rtws.media.sounddevice")

#: How long a switch waits for the new stream's first callback before going ahead.
SWITCH_WARMUP_TIMEOUT = 1.0


class SoundDeviceMediaManager(PortAudioStreams):
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
        super().__init__(latency=latency, blocksize_ms=blocksize_ms, channels=channels)
        self.cameras = Cameras.system()  # [] without the video extra or a camera
        self.input_device_spec: DeviceSpec = input_device
        self.output_device_spec: DeviceSpec = output_device
        self.input_rate = input_rate
        self.output_rate = output_rate
        self.input_enabled = input_enabled
        self.output_enabled = output_enabled

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
        return [d.device for d in enumerate_devices() if d.device.kind == "audioinput"]

    async def get_all_speakers(self) -> list[AudioDevice]:
        return [d.device for d in enumerate_devices() if d.device.kind == "audiooutput"]

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
        return negotiate(find_device(device, device.kind), requested, self.channels)

    def find_device(self, spec: DeviceSpec, kind: DeviceKind) -> AudioDevice:
        """The device ``spec`` names; a :class:`DeviceError` that lists the choices if none."""
        return find_device(spec, kind).device

    @classmethod
    def rescan(cls) -> None:
        """Re-read the device list: PortAudio only enumerates when it starts.

        Restarting PortAudio would kill every open stream in the process, so
        this refuses while any is open.
        """
        require_portaudio()
        with PortAudioStreams._live_lock:
            live = PortAudioStreams._live_streams
            if live:
                raise DeviceError(
                    f"cannot rescan sound devices while {live} stream(s) are open; "
                    "stop the session (disconnect) first"
                )
            restart_portaudio()

    @classmethod
    def live_stream_count(cls) -> int:
        """PortAudio streams opened by any instance and not closed yet."""
        return PortAudioStreams._live_streams

    @property
    def open_stream_count(self) -> int:
        """Streams this manager has open (mic, speaker, and briefly both during a switch)."""
        return len(self._open)

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

    async def _open_warm_stream(self, device: AudioDevice, rate: int | None) -> PortAudioStream:
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
