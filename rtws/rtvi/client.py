"""Client → server RTVI messages: what a user (or a pipecat UI) sends a transport.

Separate from the server side because they travel the other way: their
``direction`` is "client", and a transport accepts only these from
``send_message``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .envelope import RTVIMessage
from .payloads import (
    ClientMessageData,
    ClientReadyData,
    LLMFunctionCallResultData,
    SendTextData,
)


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
