"""RTVI messages as pydantic models: what a transport emits and what users send.

RTVI is pipecat's client protocol. Speaking it means a session driven by rtws
looks, event for event, like one driven by a pipecat server, so UIs and tools
written for one work with the other. Every message is an envelope
``{"label": "rtvi-ai", "type": ..., "id": ..., "data": ...}``; ``to_json()``
writes exactly that (fields left unset are omitted, as pipecat does) and
:func:`parse` turns wire JSON back into the typed model.

Local-only events (``transport-state-changed``, device events, reconnection
steps) use the same envelope so one handler API serves everything, but they
never go on a wire: :attr:`RTVIMessage.local` says which is which.

Layout: :mod:`rtws.rtvi.envelope` (the envelope, ids, :func:`parse`),
:mod:`rtws.rtvi.payloads` (``data`` models), and the message types by
direction in :mod:`rtws.rtvi.server`, :mod:`rtws.rtvi.client` and
:mod:`rtws.rtvi.local`. Everything is importable from ``rtws.rtvi``, and
importing it registers every type for :func:`parse`.
"""

from __future__ import annotations

from .client import (
    ClientMessage,
    ClientReady,
    DisconnectBot,
    LLMFunctionCallResult,
    SendText,
)
from .envelope import (
    MESSAGE_LABEL,
    PROTOCOL_VERSION,
    Data,
    RTVIMessage,
    RTVIParseError,
    message_types,
    new_id,
    now,
    parse,
)
from .local import (
    AvailableMicsUpdated,
    AvailableSpeakersUpdated,
    DeviceErrorEvent,
    MicUpdated,
    Reconnected,
    Reconnecting,
    SpeakerUpdated,
    TransportStateChanged,
)
from .payloads import (
    AboutClientData,
    AudioLevelData,
    BotOutputData,
    BotReadyData,
    ClientMessageData,
    ClientReadyData,
    DeviceData,
    DeviceErrorData,
    DevicesData,
    ErrorData,
    ErrorResponseData,
    LLMFunctionCallInProgressData,
    LLMFunctionCallResultData,
    LLMFunctionCallStartedData,
    LLMFunctionCallStoppedData,
    MetricsData,
    MetricValue,
    ReconnectedData,
    ReconnectingData,
    SendTextData,
    SendTextOptions,
    ServerResponseData,
    TextData,
    TransportStateChangedData,
    UserTranscriptionData,
)
from .server import (
    BotAudioLevel,
    BotInterrupted,
    BotLLMStarted,
    BotLLMStopped,
    BotLLMText,
    BotOutput,
    BotReady,
    BotStartedSpeaking,
    BotStoppedSpeaking,
    BotTTSStarted,
    BotTTSStopped,
    BotTTSText,
    Error,
    ErrorResponse,
    LLMFunctionCallInProgress,
    LLMFunctionCallStarted,
    LLMFunctionCallStopped,
    Metrics,
    ServerMessage,
    ServerResponse,
    UserAudioLevel,
    UserMuteStarted,
    UserMuteStopped,
    UserStartedSpeaking,
    UserStoppedSpeaking,
    UserTranscription,
    bot_output,
    error,
    user_transcription,
)

#: Types a transport emits to its user (server → client plus local events).
SERVER_TYPES = frozenset(t for t, c in RTVIMessage.registry.items() if c.direction == "server")
CLIENT_TYPES = frozenset(t for t, c in RTVIMessage.registry.items() if c.direction == "client")
LOCAL_TYPES = frozenset(t for t, c in RTVIMessage.registry.items() if c.local)

__all__ = [
    "CLIENT_TYPES",
    "LOCAL_TYPES",
    "MESSAGE_LABEL",
    "PROTOCOL_VERSION",
    "SERVER_TYPES",
    "AboutClientData",
    "AudioLevelData",
    "AvailableMicsUpdated",
    "AvailableSpeakersUpdated",
    "BotAudioLevel",
    "BotInterrupted",
    "BotLLMStarted",
    "BotLLMStopped",
    "BotLLMText",
    "BotOutput",
    "BotOutputData",
    "BotReady",
    "BotReadyData",
    "BotStartedSpeaking",
    "BotStoppedSpeaking",
    "BotTTSStarted",
    "BotTTSStopped",
    "BotTTSText",
    "ClientMessage",
    "ClientMessageData",
    "ClientReady",
    "ClientReadyData",
    "Data",
    "DeviceData",
    "DeviceErrorData",
    "DeviceErrorEvent",
    "DevicesData",
    "DisconnectBot",
    "Error",
    "ErrorData",
    "ErrorResponse",
    "ErrorResponseData",
    "LLMFunctionCallInProgress",
    "LLMFunctionCallInProgressData",
    "LLMFunctionCallResult",
    "LLMFunctionCallResultData",
    "LLMFunctionCallStarted",
    "LLMFunctionCallStartedData",
    "LLMFunctionCallStopped",
    "LLMFunctionCallStoppedData",
    "MetricValue",
    "Metrics",
    "MetricsData",
    "MicUpdated",
    "RTVIMessage",
    "RTVIParseError",
    "Reconnected",
    "ReconnectedData",
    "Reconnecting",
    "ReconnectingData",
    "SendText",
    "SendTextData",
    "SendTextOptions",
    "ServerMessage",
    "ServerResponse",
    "ServerResponseData",
    "SpeakerUpdated",
    "TextData",
    "TransportStateChanged",
    "TransportStateChangedData",
    "UserAudioLevel",
    "UserMuteStarted",
    "UserMuteStopped",
    "UserStartedSpeaking",
    "UserStoppedSpeaking",
    "UserTranscription",
    "UserTranscriptionData",
    "bot_output",
    "error",
    "message_types",
    "new_id",
    "now",
    "parse",
    "user_transcription",
]
