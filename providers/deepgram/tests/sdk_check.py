"""Checks against ``deepgram-sdk``, Deepgram's own SDK: the authority on the agent v1 fields.

The SDK's agent models allow extra fields (``extra="allow"``), so "valid"
here means: the model validates AND no model at any level kept a field it
does not declare (``model_extra`` empty everywhere). A field the SDK does
not know is a field the real service would not send or expect.
"""

from __future__ import annotations

from typing import Any

import pydantic
from deepgram.agent.v1 import types as t

#: Server → client messages, by ``type`` (the SDK's ``V1SocketClientResponse`` union).
SERVER_MODELS: dict[str, type[pydantic.BaseModel]] = {
    "Welcome": t.AgentV1Welcome,
    "SettingsApplied": t.AgentV1SettingsApplied,
    "ConversationText": t.AgentV1ConversationText,
    "UserStartedSpeaking": t.AgentV1UserStartedSpeaking,
    "AgentThinking": t.AgentV1AgentThinking,
    "FunctionCallRequest": t.AgentV1FunctionCallRequest,
    "FunctionCallResponse": t.AgentV1ReceiveFunctionCallResponse,
    "FunctionCallCancelled": t.AgentV1FunctionCallCancelled,
    "AgentStartedSpeaking": t.AgentV1AgentStartedSpeaking,
    "AgentAudioDone": t.AgentV1AgentAudioDone,
    "Error": t.AgentV1Error,
    "Warning": t.AgentV1Warning,
    "InjectionRefused": t.AgentV1InjectionRefused,
    "PromptUpdated": t.AgentV1PromptUpdated,
    "SpeakUpdated": t.AgentV1SpeakUpdated,
    "History": t.AgentV1History,
    "LatencyReport": t.AgentV1LatencyReport,
}
#: Client → server messages, by ``type``.
CLIENT_MODELS: dict[str, type[pydantic.BaseModel]] = {
    "Settings": t.AgentV1Settings,
    "KeepAlive": t.AgentV1KeepAlive,
    "InjectUserMessage": t.AgentV1InjectUserMessage,
    "InjectAgentMessage": t.AgentV1InjectAgentMessage,
    "FunctionCallResponse": t.AgentV1SendFunctionCallResponse,
    "UpdatePrompt": t.AgentV1UpdatePrompt,
    "UpdateSpeak": t.AgentV1UpdateSpeak,
}


def extras(model: Any, path: str = "") -> list[str]:
    """Every field some model in the tree kept as an extra, as ``path.field``."""
    found: list[str] = []
    if isinstance(model, pydantic.BaseModel):
        found += [f"{path}.{name}".lstrip(".") for name in (model.model_extra or {})]
        for name in type(model).model_fields:
            found += extras(getattr(model, name), f"{path}.{name}")
    elif isinstance(model, list | tuple):
        for index, item in enumerate(model):  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
            found += extras(item, f"{path}[{index}]")
    elif isinstance(model, dict):
        for key, item in model.items():  # pyright: ignore[reportUnknownVariableType]
            if isinstance(item, pydantic.BaseModel):
                found += extras(item, f"{path}.{key}")
    return found


def _check(message: dict[str, Any], models: dict[str, type[pydantic.BaseModel]]) -> Any:
    kind = message.get("type")
    assert kind in models, f"{kind!r} is not a message type the SDK knows in this direction"
    parsed = models[kind].model_validate(message)
    unknown = extras(parsed)
    assert not unknown, f"{kind}: fields the deepgram-sdk does not know: {unknown}"
    return parsed


def check_server_message(message: dict[str, Any]) -> Any:
    """One JSON message the fake sent, validated against the SDK's receive models."""
    return _check(message, SERVER_MODELS)


def check_client_message(message: dict[str, Any]) -> Any:
    """One JSON message a client (the provider) sent, validated against the SDK's send models."""
    return _check(message, CLIENT_MODELS)
