"""The values that cross the media boundary: devices, chunks, formats, counters.

Split from :mod:`rtws.media.base` because these are plain data every layer
(the transport, the CLI, cameras, providers) imports, while the base class is
machinery only backends need. ``rtws.media.base`` re-exports them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from ..audio.echo import EchoStats
from ..errors import DeviceError

DeviceKind = Literal["audioinput", "audiooutput", "videoinput"]


class AudioDevice(BaseModel):
    """A device as users see it: ids are stable strings for the life of the process."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    kind: DeviceKind
    default_sample_rate: int
    max_channels: int
    is_default: bool = False


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """One fixed-size mic chunk, PCM16LE mono at ``sample_rate``, ready for the provider."""

    pcm: bytes
    sample_rate: int
    #: ``time.perf_counter()`` when the block holding this chunk's last sample became available.
    captured_at: float
    #: running index of the chunk within the session (gaps mean dropped chunks).
    seq: int = 0

    @property
    def duration_ms(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate * 1000.0

    @property
    def samples(self) -> npt.NDArray[np.int16]:
        return np.frombuffer(self.pcm, dtype=np.int16)


@dataclass(frozen=True, slots=True)
class MediaFormat:
    """What the provider speaks; the backend converts its devices' rates to these."""

    input_sample_rate: int
    output_sample_rate: int
    chunk_ms: float = 20.0
    prebuffer_ms: float = 40.0
    resample_quality: str = "LQ"
    #: The most bot audio queued for the speaker, in seconds (None: no bound).
    max_playout_s: float | None = None
    #: Acoustic echo cancellation: None means the backend's default (on for sound
    #: devices, off for files and memory); see :meth:`MediaManager.echo_cancellation_for`.
    echo_cancellation: bool | None = None
    #: WebRTC noise suppression on the mic, run by the echo canceller (so only with it on).
    noise_suppression: bool = False


@dataclass(slots=True)
class MediaStats:
    """Counters a user (or a test) can read to prove nothing was silently lost."""

    input_blocks: int = 0
    dropped_input_blocks: int = 0
    chunks_delivered: int = 0
    underruns: int = 0
    #: Bot audio refused because the playout buffer held ``max_playout_s`` already.
    dropped_bot_audio_ms: int = 0
    extra: dict[str, int] = field(default_factory=dict[str, int])
    #: The echo canceller's figures while it runs (None when it is off).
    echo: EchoStats | None = None


DeviceErrorCallback = Callable[[DeviceError], None]
