"""WAV files and sample-format conversion, with the standard library's ``wave``.

rtws moves PCM16 mono everywhere; these helpers are the one place other
formats (stereo files, float arrays from numpy or a notebook) become that.
"""

from __future__ import annotations

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


def read_wav(path: str | Path) -> tuple[Int16Array, int]:
    """A WAV file as PCM16 mono samples and its sample rate (stereo is downmixed)."""
    try:
        with wave.open(str(path), "rb") as wav:
            rate = wav.getframerate()
            channels = wav.getnchannels()
            width = wav.getsampwidth()
            raw = wav.readframes(wav.getnframes())
    except FileNotFoundError:
        raise ConfigurationError(f"no such WAV file: {path}") from None
    except (wave.Error, EOFError) as exc:
        raise ConfigurationError(f"{path} is not a PCM WAV file: {exc}") from None
    if width == 1:
        data: npt.NDArray[Any] = np.frombuffer(raw, dtype=np.uint8)
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2")
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        # Little-endian 24-bit → the top 16 bits, sign included.
        data = ((b[:, 1] | (b[:, 2] << 8)) << 16 >> 16).astype(np.int16)
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4")
    else:
        raise ConfigurationError(f"{path}: unsupported sample width {width} bytes")
    if channels > 1:
        data = data.reshape(-1, channels)
    return to_int16(data), rate


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
