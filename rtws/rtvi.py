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
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import safejson
from .errors import ProtocolError

#: The RTVI version this module speaks (pipecat 1.x).
PROTOCOL_VERSION = "2.2.0"
MESSAGE_LABEL = "rtvi-ai"


def new_id() -> str:
    """A message id: unique enough to match a reply, cheap enough for 20 events a second
    per session (``uuid4`` costs a system call each)."""
    return f"{random.getrandbits(48):012x}"


def now() -> str:
    """An ISO-8601 UTC timestamp, the format RTVI transcripts carry."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RTVIParseError(ProtocolError, ValueError):
    """Wire text that is not a valid RTVI message; the message says what is wrong."""


class Data(BaseModel):
    """Base of every ``data`` payload. Unknown fields are kept, so a newer peer round-trips."""

    model_config = ConfigDict(extra="allow")


class RTVIMessage(BaseModel):
    """The RTVI envelope. Subclasses pin ``type`` and type ``data``."""

    model_config = ConfigDict(extra="forbid")

    label: Literal["rtvi-ai"] = MESSAGE_LABEL
    type: str
    id: str = Field(default_factory=new_id)

    #: True for events that exist only inside the process (never sent or received).
    local: ClassVar[bool] = False
    #: Which way the message travels on a wire: "server" (to the client) or "client".
    direction: ClassVar[Literal["server", "client", "local"]] = "server"
    registry: ClassVar[dict[str, type[RTVIMessage]]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        field = cls.model_fields.get("type")
        default = field.default if field is not None else None
        if isinstance(default, str):
            RTVIMessage.registry[default] = cls

    def to_dict(self) -> dict[str, Any]:
        """The wire object (``None`` fields omitted)."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_json(self) -> str:
        """The exact wire JSON."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)


def message_types() -> dict[str, type[RTVIMessage]]:
    """Every known ``type`` and its model."""
    return dict(RTVIMessage.registry)


def parse(raw: str | bytes | Mapping[str, Any]) -> RTVIMessage:
    """Wire JSON (or a decoded object) → the typed model; :class:`RTVIParseError` if invalid."""
    if isinstance(raw, str | bytes):
        try:
            obj: Any = safejson.loads(raw)  # ValueError (not RecursionError) when too deep
        except (ValueError, UnicodeDecodeError) as exc:
            raise RTVIParseError(f"RTVI message is not JSON: {exc}") from None
    else:
        obj = dict(raw)
        try:
            safejson.check_depth(obj)  # what parse accepts, its own output must parse
        except ValueError as exc:
            raise RTVIParseError(f"RTVI message is not usable JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise RTVIParseError(f"RTVI message must be a JSON object, got {type(obj).__name__}")
    message: dict[str, Any] = obj  # pyright: ignore[reportUnknownVariableType]
    label = message.get("label")
    if label != MESSAGE_LABEL:
        raise RTVIParseError(f"RTVI message label must be {MESSAGE_LABEL!r}, got {label!r}")
    kind = message.get("type")
    if not isinstance(kind, str):
        raise RTVIParseError(f"RTVI message needs a string 'type', got {kind!r}")
    cls = RTVIMessage.registry.get(kind)
    if cls is None:
        raise RTVIParseError(f"unknown RTVI message type {kind!r}")
    try:
        return cls.model_validate(message)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<message>'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise RTVIParseError(f"invalid RTVI {kind!r} message: {problems}") from None


# ---------------------------------------------------------------- data payloads
class TextData(Data):
    text: str


class ErrorData(Data):
    error: str
    #: True when the session ended because of it.
    fatal: bool = False


class BotReadyData(Data):
    version: str = PROTOCOL_VERSION
    about: dict[str, Any] | None = None


class AboutClientData(Data):
    library: str
    library_version: str | None = None
    platform: str | None = None
    platform_version: str | None = None


class ClientReadyData(Data):
    version: str = PROTOCOL_VERSION
    about: AboutClientData | None = None


class UserTranscriptionData(Data):
    text: str
    user_id: str = ""
    timestamp: str = Field(default_factory=now)
    final: bool


class BotOutputData(Data):
    """What the bot says or writes; ``spoken`` tells speech (true) from text-only output."""

    text: str
    spoken: bool = False
    aggregated_by: str = "sentence"
    output_type: str | None = None
    text_type: str | None = None
    segment_id: str | None = None
    will_be_spoken: bool | None = None
    spoken_status: str | None = None
    spoken_progress: float | None = None


class LLMFunctionCallStartedData(Data):
    function_name: str | None = None


class LLMFunctionCallInProgressData(Data):
    tool_call_id: str
    function_name: str | None = None
    arguments: dict[str, Any] | None = None


class LLMFunctionCallStoppedData(Data):
    tool_call_id: str
    cancelled: bool
    function_name: str | None = None
    result: Any = None


class MetricValue(Data):
    """One measurement: ``value`` is seconds for ttfb/processing, a usage dict for tokens."""

    processor: str
    model: str | None = None
    value: float | dict[str, Any]


class MetricsData(Data):
    ttfb: list[MetricValue] | None = None
    processing: list[MetricValue] | None = None
    tokens: list[MetricValue] | None = None
    characters: list[MetricValue] | None = None


class AudioLevelData(Data):
    #: 0..1, dBFS-scaled (see :mod:`rtws.audio.levels`).
    value: float = Field(ge=0.0, le=1.0)


class SendTextOptions(Data):
    run_immediately: bool = True
    audio_response: bool = True


class SendTextData(Data):
    content: str
    options: SendTextOptions | None = None


class LLMFunctionCallResultData(Data):
    function_name: str
    tool_call_id: str
    arguments: dict[str, Any] = Field(default_factory=dict[str, Any])
    result: dict[str, Any] | list[Any] | str | int | float | bool | None


class ClientMessageData(Data):
    t: str
    d: Any = None


class ServerResponseData(Data):
    t: str
    d: Any = None


class ErrorResponseData(Data):
    error: str


class TransportStateChangedData(Data):
    state: str
    previous: str


class DevicesData(Data):
    devices: list[dict[str, Any]]


class DeviceData(Data):
    device: dict[str, Any]


class DeviceErrorData(Data):
    message: str
    device_id: str | None = None
    kind: str | None = None


class ReconnectingData(Data):
    attempt: int
    max_attempts: int
    delay_s: float
    reason: str


class ReconnectedData(Data):
    attempt: int
    resumed: bool = False


# ---------------------------------------------------------------- server → client
class BotReady(RTVIMessage):
    type: Literal["bot-ready"] = "bot-ready"
    data: BotReadyData = Field(default_factory=BotReadyData)


class Error(RTVIMessage):
    type: Literal["error"] = "error"
    data: ErrorData


class ErrorResponse(RTVIMessage):
    type: Literal["error-response"] = "error-response"
    data: ErrorResponseData


class ServerResponse(RTVIMessage):
    type: Literal["server-response"] = "server-response"
    data: ServerResponseData


class ServerMessage(RTVIMessage):
    type: Literal["server-message"] = "server-message"
    data: Any = None


class UserStartedSpeaking(RTVIMessage):
    type: Literal["user-started-speaking"] = "user-started-speaking"
    data: None = None


class UserStoppedSpeaking(RTVIMessage):
    type: Literal["user-stopped-speaking"] = "user-stopped-speaking"
    data: None = None


class UserMuteStarted(RTVIMessage):
    type: Literal["user-mute-started"] = "user-mute-started"
    data: None = None


class UserMuteStopped(RTVIMessage):
    type: Literal["user-mute-stopped"] = "user-mute-stopped"
    data: None = None


class BotStartedSpeaking(RTVIMessage):
    type: Literal["bot-started-speaking"] = "bot-started-speaking"
    data: None = None


class BotStoppedSpeaking(RTVIMessage):
    type: Literal["bot-stopped-speaking"] = "bot-stopped-speaking"
    data: None = None


class BotInterrupted(RTVIMessage):
    type: Literal["bot-interrupted"] = "bot-interrupted"
    data: None = None


class UserTranscription(RTVIMessage):
    type: Literal["user-transcription"] = "user-transcription"
    data: UserTranscriptionData


class BotOutput(RTVIMessage):
    type: Literal["bot-output"] = "bot-output"
    data: BotOutputData


class BotLLMStarted(RTVIMessage):
    type: Literal["bot-llm-started"] = "bot-llm-started"
    data: None = None


class BotLLMStopped(RTVIMessage):
    type: Literal["bot-llm-stopped"] = "bot-llm-stopped"
    data: None = None


class BotLLMText(RTVIMessage):
    type: Literal["bot-llm-text"] = "bot-llm-text"
    data: TextData


class BotTTSStarted(RTVIMessage):
    type: Literal["bot-tts-started"] = "bot-tts-started"
    data: None = None


class BotTTSStopped(RTVIMessage):
    type: Literal["bot-tts-stopped"] = "bot-tts-stopped"
    data: None = None


class BotTTSText(RTVIMessage):
    type: Literal["bot-tts-text"] = "bot-tts-text"
    data: TextData


class LLMFunctionCallStarted(RTVIMessage):
    type: Literal["llm-function-call-started"] = "llm-function-call-started"
    data: LLMFunctionCallStartedData = Field(default_factory=LLMFunctionCallStartedData)


class LLMFunctionCallInProgress(RTVIMessage):
    type: Literal["llm-function-call-in-progress"] = "llm-function-call-in-progress"
    data: LLMFunctionCallInProgressData


class LLMFunctionCallStopped(RTVIMessage):
    type: Literal["llm-function-call-stopped"] = "llm-function-call-stopped"
    data: LLMFunctionCallStoppedData


class Metrics(RTVIMessage):
    type: Literal["metrics"] = "metrics"
    data: MetricsData


class UserAudioLevel(RTVIMessage):
    type: Literal["user-audio-level"] = "user-audio-level"
    data: AudioLevelData


class BotAudioLevel(RTVIMessage):
    type: Literal["bot-audio-level"] = "bot-audio-level"
    data: AudioLevelData


# ---------------------------------------------------------------- client → server
class _ClientMessage(RTVIMessage):
    direction: ClassVar[Literal["server", "client", "local"]] = "client"


class ClientReady(_ClientMessage):
    type: Literal["client-ready"] = "client-ready"
    data: ClientReadyData = Field(default_factory=ClientReadyData)


class SendText(_ClientMessage):
    type: Literal["send-text"] = "send-text"
    data: SendTextData


class LLMFunctionCallResult(_ClientMessage):
    type: Literal["llm-function-call-result"] = "llm-function-call-result"
    data: LLMFunctionCallResultData


class ClientMessage(_ClientMessage):
    type: Literal["client-message"] = "client-message"
    data: ClientMessageData


class DisconnectBot(_ClientMessage):
    type: Literal["disconnect-bot"] = "disconnect-bot"
    data: None = None


# ---------------------------------------------------------------- local only
class _LocalEvent(RTVIMessage):
    local: ClassVar[bool] = True
    direction: ClassVar[Literal["server", "client", "local"]] = "local"


class TransportStateChanged(_LocalEvent):
    type: Literal["transport-state-changed"] = "transport-state-changed"
    data: TransportStateChangedData


class AvailableMicsUpdated(_LocalEvent):
    type: Literal["available-mics-updated"] = "available-mics-updated"
    data: DevicesData


class AvailableSpeakersUpdated(_LocalEvent):
    type: Literal["available-speakers-updated"] = "available-speakers-updated"
    data: DevicesData


class MicUpdated(_LocalEvent):
    type: Literal["mic-updated"] = "mic-updated"
    data: DeviceData


class SpeakerUpdated(_LocalEvent):
    type: Literal["speaker-updated"] = "speaker-updated"
    data: DeviceData


class DeviceErrorEvent(_LocalEvent):
    type: Literal["device-error"] = "device-error"
    data: DeviceErrorData


class Reconnecting(_LocalEvent):
    type: Literal["reconnecting"] = "reconnecting"
    data: ReconnectingData


class Reconnected(_LocalEvent):
    type: Literal["reconnected"] = "reconnected"
    data: ReconnectedData


# ---------------------------------------------------------------- constructors
def bot_output(
    text: str, *, spoken: bool, aggregated_by: str = "sentence", **extra: Any
) -> BotOutput:
    """A ``bot-output`` event: ``spoken`` for speech transcripts, false for text-only output."""
    return BotOutput(
        data=BotOutputData(text=text, spoken=spoken, aggregated_by=aggregated_by, **extra)
    )


def user_transcription(text: str, *, final: bool, user_id: str = "") -> UserTranscription:
    return UserTranscription(data=UserTranscriptionData(text=text, final=final, user_id=user_id))


def error(message: str, *, fatal: bool = False) -> Error:
    return Error(data=ErrorData(error=message, fatal=fatal))


#: Types a transport emits to its user (server → client plus local events).
SERVER_TYPES = frozenset(t for t, c in RTVIMessage.registry.items() if c.direction == "server")
CLIENT_TYPES = frozenset(t for t, c in RTVIMessage.registry.items() if c.direction == "client")
LOCAL_TYPES = frozenset(t for t, c in RTVIMessage.registry.items() if c.local)
