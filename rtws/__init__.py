"""rtws: real-time voice-to-voice LLMs over websockets.

One abstract :class:`RealTimeWebsocketTransport` does the shared work (devices,
PCM streaming, interruption, state, events, reconnection); provider packages
(``rtws_openai``, ``rtws_gemini``, ...) translate their wire protocol into its
hooks. Start with ``docs/index.md`` or ``examples/``.
"""

from typing import TYPE_CHECKING

from . import rtvi
from .audio import PlaybackMark
from .connection import WebSocketConnection
from .errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailed,
    ConnectionLost,
    ConnectTimeout,
    DeviceError,
    IllegalTransition,
    InvalidStateError,
    ProtocolError,
    ProviderError,
    RateLimited,
    RTWSError,
    UnsupportedMessage,
)
from .media import AudioChunk, AudioDevice, FileMediaManager, MediaFormat, MediaManager
from .options import ReconnectPolicy, TransportOptions
from .providers import available_providers, load_provider
from .state import TransportState
from .transport import RealTimeWebsocketTransport
from .video import VideoFrame

if TYPE_CHECKING:  # imported lazily at run time: it loads PortAudio
    from .media.sounddevice import SoundDeviceMediaManager

__version__ = "0.1.0"

__all__ = [
    "AudioChunk",
    "AudioDevice",
    "AuthenticationError",
    "ConfigurationError",
    "ConnectTimeout",
    "ConnectionFailed",
    "ConnectionLost",
    "DeviceError",
    "FileMediaManager",
    "IllegalTransition",
    "InvalidStateError",
    "MediaFormat",
    "MediaManager",
    "PlaybackMark",
    "ProtocolError",
    "ProviderError",
    "RTWSError",
    "RateLimited",
    "RealTimeWebsocketTransport",
    "ReconnectPolicy",
    "SoundDeviceMediaManager",
    "TransportOptions",
    "TransportState",
    "UnsupportedMessage",
    "VideoFrame",
    "WebSocketConnection",
    "available_providers",
    "load_provider",
    "rtvi",
]


def __getattr__(name: str) -> object:
    if name == "SoundDeviceMediaManager":  # imports PortAudio: only when asked for
        from .media.sounddevice import SoundDeviceMediaManager

        return SoundDeviceMediaManager
    raise AttributeError(f"module 'rtws' has no attribute {name!r}")
