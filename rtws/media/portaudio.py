"""What PortAudio offers: its devices, how users name them, and the formats they take.

Split from the manager because none of this depends on an open stream or a
session: it is the stateless question "which device is that, and how can it
be opened?", asked by ``rtws devices`` and the manager alike. Device ids are
``"<name>@<host API>"``: unlike PortAudio indices they stay the same after a
rescan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..errors import DeviceError
from ..redact import get_logger
from .base import AudioDevice, DeviceKind

_import_error: str | None = None
try:
    import sounddevice as sd
except OSError as _exc:  # sounddevice raises OSError when the PortAudio library is missing
    sd: Any = None
    _import_error = str(_exc)

# The manager's logger: a rate refusal is news about the user's sound device.
log = get_logger("rtws.media.sounddevice")

#: A device as users name it: an id from ``get_all_mics()``, a (part of a) name,
#: a PortAudio index, an :class:`AudioDevice`, or None for the system default.
DeviceSpec = str | int | AudioDevice | None

KIND_LABEL: dict[DeviceKind, str] = {
    "audioinput": "microphone",
    "audiooutput": "speaker",
    "videoinput": "camera",
}

#: PortAudio errors that mean "not this format" (paInvalidChannelCount,
#: paInvalidSampleRate, paSampleFormatNotSupported): worth trying another.
_FORMAT_REFUSALS = frozenset({-9998, -9997, -9994})


def require_portaudio() -> None:
    if sd is None:
        raise DeviceError(
            f"PortAudio is not available ({_import_error}). Install it: "
            "'apt install libportaudio2' (Debian/Ubuntu), 'brew install portaudio' (macOS); "
            "on a machine with no sound card run scripts/audio-sandbox up"
        )


def restart_portaudio() -> None:
    """Terminate and re-initialize PortAudio: the only way to make it enumerate again.

    It kills every open stream in the process; the caller checks there is none.
    """
    sd._terminate()
    sd._initialize()


@dataclass(frozen=True, slots=True)
class PaDevice:
    """One PortAudio device as enumerated now; ``index`` is only valid until a rescan."""

    index: int
    device: AudioDevice
    hostapi_index: int


def enumerate_devices() -> list[PaDevice]:
    """Every mic and speaker PortAudio lists, one entry per direction a device has."""
    require_portaudio()
    hostapis: list[dict[str, Any]] = list(sd.query_hostapis())
    raw: list[dict[str, Any]] = list(sd.query_devices())
    default_in = _default_index("input")
    default_out = _default_index("output")
    seen: dict[str, int] = {}
    found: list[PaDevice] = []
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
            found.append(PaDevice(index, device, hostapi))
    return found


def find_device(spec: DeviceSpec, kind: DeviceKind) -> PaDevice:
    """The device ``spec`` names; a :class:`DeviceError` that lists the choices if none."""
    devices = [d for d in enumerate_devices() if d.device.kind == kind]
    label = KIND_LABEL[kind]
    if isinstance(spec, AudioDevice):
        spec = spec.id
    if spec is None:
        for d in devices:
            if d.device.is_default:
                return d
        raise DeviceError(f"there is no default {label}; {available(devices, label)}", kind=kind)
    if isinstance(spec, int):
        for d in devices:
            if d.index == spec:
                return d
        raise DeviceError(
            f"PortAudio device {spec} is not a {label}; {available(devices, label)}",
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
            f"no {label} matches {spec!r}; {available(devices, label)}",
            device_id=spec,
            kind=kind,
        )
    names = ", ".join(repr(d.device.id) for d in matches)
    raise DeviceError(
        f"{spec!r} matches several {label}s ({names}); pass one of these ids",
        device_id=spec,
        kind=kind,
    )


def negotiate(pa: PaDevice, requested: int | None, channels: int | None) -> tuple[int, int]:
    """The first (rate, channels) the device takes: requested rate, then its own; mono first.

    ``channels`` forces a channel count; None tries mono, then stereo.
    """
    check = sd.check_input_settings if pa.device.kind == "audioinput" else sd.check_output_settings
    default = pa.device.default_sample_rate
    rates = [requested, default] if requested and requested != default else [default]
    if channels is not None:
        channel_options = [channels]
    else:
        channel_options = [1, 2] if pa.device.max_channels >= 2 else [1]
    refusals: list[str] = []
    for rate in rates:
        for option in channel_options:
            try:
                check(device=pa.index, channels=option, dtype="int16", samplerate=rate)
            except ValueError as exc:  # sounddevice's own checks, e.g. too many channels
                refusals.append(f"{rate} Hz x{option}: {exc}")
                continue
            except sd.PortAudioError as exc:
                if _error_code(exc) not in _FORMAT_REFUSALS:
                    # Busy, broken or gone: another format will not help.
                    raise open_error(pa, f"could not be opened: {exc}") from None
                refusals.append(f"{rate} Hz x{option}: {exc}")
                continue
            if rate != rates[0]:
                log.warning(
                    "%s %r refuses %d Hz; opening it at its default rate %d Hz instead",
                    KIND_LABEL[pa.device.kind],
                    pa.device.name,
                    rates[0],
                    rate,
                )
            return rate, option
    raise open_error(pa, "refuses every format tried (" + "; ".join(refusals) + ")")


def open_error(pa: PaDevice, problem: str) -> DeviceError:
    """A :class:`DeviceError` about ``pa`` that lists the devices to pick instead."""
    label = KIND_LABEL[pa.device.kind]
    others = [d for d in enumerate_devices() if d.device.kind == pa.device.kind]
    return DeviceError(
        f"{label} {pa.device.name!r} {problem}; {available(others, label)}",
        device_id=pa.device.id,
        kind=pa.device.kind,
    )


def available(devices: list[PaDevice], label: str) -> str:
    """The choices, for an error message: what a user can pass instead."""
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
