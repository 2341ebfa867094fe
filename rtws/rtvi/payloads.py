"""The ``data`` payloads of RTVI messages, shared by several message types.

Apart from the messages so that a payload reused in both directions (or by
local events) is defined once; unknown fields are kept so a newer peer
round-trips.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .envelope import PROTOCOL_VERSION, Data, now


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
