"""Audio backends: real sound devices, or files and arrays."""

from typing import TYPE_CHECKING

from .base import AudioChunk, AudioDevice, MediaFormat, MediaManager, MediaStats
from .file import FileMediaManager

if TYPE_CHECKING:
    from .sounddevice import SoundDeviceMediaManager

__all__ = [
    "AudioChunk",
    "AudioDevice",
    "FileMediaManager",
    "MediaFormat",
    "MediaManager",
    "MediaStats",
    "SoundDeviceMediaManager",
]


def __getattr__(name: str) -> object:
    # sounddevice loads PortAudio on import; only pay for it (and its errors) when used.
    if name == "SoundDeviceMediaManager":
        from .sounddevice import SoundDeviceMediaManager

        return SoundDeviceMediaManager
    raise AttributeError(name)
