"""Server → client RTVI messages: what a transport emits to its user (and a pipecat UI).

One class per pipecat event type, named as pipecat names them, so a handler
written for a pipecat client reads the same here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .envelope import RTVIMessage
from .payloads import (
    AudioLevelData,
    BotOutputData,
    BotReadyData,
    ErrorData,
    ErrorResponseData,
    LLMFunctionCallInProgressData,
    LLMFunctionCallStartedData,
    LLMFunctionCallStoppedData,
    MetricsData,
    ServerResponseData,
    TextData,
    UserTranscriptionData,
)


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


# A few events are built often enough to deserve a shortcut.
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
