"""WAV files and sample-format conversion (reading parses RIFF; writing uses ``wave``).

rtws moves PCM16 mono everywhere; these helpers are the one place other
formats (stereo files, float arrays from numpy or a notebook) become that.
"""

from __future__ import annotations

import struct
import wave
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigurationError

Int16Array = npt.NDArray[np.int16]


def to_int16(samples: npt.ArrayLike) -> Int16Array:
    """Any numeric array → PCM16 mono: floats are taken as [-1, 1], 2-D arrays are downmixed."""
    arr: npt.NDArray[Any] = np.asarray(samples)
    if arr.ndim == 2:
        # (frames, channels) is numpy/sounddevice's layout: average the channels.
        mixed: npt.NDArray[Any] = arr.astype(np.float64).mean(axis=1)
        arr = mixed if arr.dtype.kind == "f" else np.round(mixed).astype(arr.dtype)
    elif arr.ndim != 1:
        raise ConfigurationError(
            f"audio must be a 1-D or (frames, channels) array, got shape {arr.shape}"
        )
    if arr.dtype == np.int16:
        return arr
    if arr.dtype.kind == "f":
        return np.round(np.clip(arr, -1.0, 1.0) * 32767.0).astype(np.int16)
    if arr.dtype == np.uint8:  # 8-bit WAV is unsigned, centred on 128
        return ((arr.astype(np.int16) - 128) << 8).astype(np.int16)
    if arr.dtype.kind in "iu":
        bits = arr.dtype.itemsize * 8
        if bits < 16:
            return (arr.astype(np.int16) << (16 - bits)).astype(np.int16)
        return (arr.astype(np.int64) >> (bits - 16)).astype(np.int16)
    raise ConfigurationError(f"cannot convert {arr.dtype} samples to PCM16")


#: What :func:`read_wav` reads, for error messages.
ACCEPTED = "a WAV file of integer PCM (8, 16, 24 or 32-bit) or float (32 or 64-bit) samples"
_FORMAT_NAMES = {1: "PCM", 2: "ADPCM", 3: "float", 6: "A-law", 7: "mu-law", 0x55: "MP3"}
_MAGIC = {
    b"ID3": "an MP3 file",
    b"\xff\xfb": "an MP3 file",
    b"OggS": "an Ogg file",
    b"fLaC": "a FLAC file",
    b"FORM": "an AIFF file",
    b"\x1aE\xdf\xa3": "a WebM/Matroska file",
}


def read_wav(path: str | Path) -> tuple[Int16Array, int]:
    """A WAV file as PCM16 mono samples and its sample rate (stereo is downmixed).

    The standard library's ``wave`` reads integer PCM only ("unknown format: 3"
    for the float WAVs numpy, soundfile and most editors write), so the RIFF
    chunks are read here: integer PCM of any width and float samples are
    converted; anything else is refused with what the file is and what is accepted.
    """
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(f"no such WAV file: {path}") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from None
    tag, channels, rate, bits, data = _parse(str(path), raw)
    samples = _decode(
        str(path), tag, bits, data[: len(data) // (channels * bits // 8) * (channels * bits // 8)]
    )
    if channels > 1:
        samples = samples.reshape(-1, channels)
    return to_int16(samples), rate


def _parse(path: str, raw: bytes) -> tuple[int, int, int, int, bytes]:
    """(format tag, channels, rate, bits per sample, sample bytes) of a RIFF/WAVE file."""
    if not raw:
        raise ConfigurationError(f"{path} is empty (0 bytes); expected {ACCEPTED}")
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        found = next((what for magic, what in _MAGIC.items() if raw.startswith(magic)), None)
        head = found or f"it starts with {raw[:12]!r}"
        raise ConfigurationError(f"{path} is not a WAV file ({head}); expected {ACCEPTED}")
    fmt: bytes | None = None
    data: bytes | None = None
    at = 12
    while at + 8 <= len(raw) and data is None:
        chunk, size = raw[at : at + 4], int.from_bytes(raw[at + 4 : at + 8], "little")
        body = raw[at + 8 : at + 8 + size]  # a streamed file's placeholder size: the rest
        if chunk == b"fmt ":
            fmt = body
        elif chunk == b"data":
            data = body
        at += 8 + size + (size & 1)  # chunks are padded to an even length
    if fmt is None or len(fmt) < 16:
        raise ConfigurationError(
            f"{path} is a WAV file without a format chunk; expected {ACCEPTED}"
        )
    if data is None:
        raise ConfigurationError(f"{path} is a WAV file without a data chunk (truncated?)")
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag is the subformat's
        tag = int.from_bytes(fmt[24:26], "little")
    if channels < 1 or rate < 1:
        raise ConfigurationError(f"{path}: a WAV header with {channels} channels at {rate} Hz")
    return tag, channels, rate, bits, data


def _decode(path: str, tag: int, bits: int, data: bytes) -> npt.NDArray[Any]:
    if tag == 1 and bits in (8, 16, 32):
        return np.frombuffer(data, dtype={8: np.uint8, 16: "<i2", 32: "<i4"}[bits])
    if tag == 1 and bits == 24:
        b = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        return (b[:, 0] << 8) | (b[:, 1] << 16) | (b[:, 2] << 24)  # as 32-bit, sign included
    if tag == 3 and bits in (32, 64):
        floats = np.frombuffer(data, dtype="<f4" if bits == 32 else "<f8")
        return np.nan_to_num(floats, nan=0.0, posinf=1.0, neginf=-1.0)
    name = _FORMAT_NAMES.get(tag, f"format tag {tag:#06x}")
    raise ConfigurationError(f"{path} holds {bits}-bit {name} samples; expected {ACCEPTED}")


class WavWriter:
    """Streams PCM16 to a WAV file block by block (the header is fixed up on close)."""

    def __init__(self, path: str | Path, sample_rate: int, channels: int = 1) -> None:
        if sample_rate <= 0:
            raise ConfigurationError(f"sample_rate must be positive, got {sample_rate}")
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.channels = channels
        self.frames = 0
        self._wav: wave.Wave_write | None = wave.open(str(self.path), "wb")  # noqa: SIM115
        self._wav.setnchannels(channels)
        self._wav.setsampwidth(2)
        self._wav.setframerate(sample_rate)

    def write(self, samples: Int16Array) -> None:
        """Append samples: 1-D for mono, (frames, channels) otherwise."""
        if self._wav is None:
            raise ValueError(f"{self.path} is closed")
        self._wav.writeframesraw(np.ascontiguousarray(samples, dtype="<i2").tobytes())
        self.frames += len(samples)

    def close(self) -> None:
        wav, self._wav = self._wav, None
        if wav is not None:
            wav.close()

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def write_wav(path: str | Path, samples: Int16Array, sample_rate: int) -> None:
    with WavWriter(path, sample_rate, 1 if samples.ndim == 1 else samples.shape[1]) as writer:
        writer.write(samples)
