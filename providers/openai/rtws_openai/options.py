"""Options of the OpenAI Realtime provider, mirroring the GA session object.

Field names follow the API (``turn_detection``, ``output_modalities``, ...)
so the OpenAI docs apply as written. Azure OpenAI needs no other code: set
``url`` to the resource's realtime endpoint and ``auth_header="api-key"``.
"""

from __future__ import annotations

import os
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, field_validator

from rtws import TransportOptions

Voice = Literal[
    "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerVAD(_Model):
    """Silence-based turn detection on the server."""

    type: Literal["server_vad"] = "server_vad"
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    prefix_padding_ms: int | None = Field(None, ge=0)
    silence_duration_ms: int | None = Field(None, ge=0)
    idle_timeout_ms: int | None = Field(None, ge=0)
    create_response: bool = True
    interrupt_response: bool = True


class SemanticVAD(_Model):
    """Turn detection by a model that judges whether the user has finished."""

    type: Literal["semantic_vad"] = "semantic_vad"
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    create_response: bool = True
    interrupt_response: bool = True


class InputTranscription(_Model):
    model: str = "gpt-4o-mini-transcribe"
    language: str | None = None
    prompt: str | None = None


class FunctionTool(_Model):
    """A function the model may call; ``parameters`` is a JSON schema object."""

    type: Literal["function"] = "function"
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class EphemeralToken(_Model):
    """Where the session's short-lived client secret comes from.

    ``mint`` calls ``POST /v1/realtime/client_secrets`` with the API key (for
    servers and tests); ``endpoint`` asks your own backend, which keeps the
    API key off the client entirely and returns ``{"value": "ek_..."}``
    (or OpenAI's whole client-secret response).
    """

    mode: Literal["mint", "endpoint"] = "mint"
    endpoint: HttpUrl | None = None
    rest_base_url: HttpUrl = HttpUrl("https://api.openai.com/v1")
    expires_after_s: int = Field(600, ge=10, le=7200)
    timeout: float = Field(10.0, gt=0.0)


def _env_key() -> SecretStr | None:
    value = os.environ.get("OPENAI_API_KEY")
    return SecretStr(value) if value else None


class OpenAIRealtimeOptions(TransportOptions):
    """Everything the OpenAI Realtime session can be told."""

    api_key: SecretStr | None = Field(default_factory=_env_key, description="OPENAI_API_KEY")
    model: str = "gpt-realtime"
    url: str = "wss://api.openai.com/v1/realtime"
    auth_header: Literal["bearer", "api-key"] = "bearer"
    extra_headers: dict[str, str] = Field(default_factory=dict[str, str])
    extra_query: dict[str, str] = Field(default_factory=dict[str, str])
    voice: Voice | str = "marin"
    speed: float | None = Field(None, ge=0.25, le=1.5)
    instructions: str | None = None
    output_modalities: list[Literal["audio", "text"]] = Field(default_factory=lambda: ["audio"])
    turn_detection: ServerVAD | SemanticVAD | None = Field(default_factory=ServerVAD)
    input_transcription: InputTranscription | None = Field(default_factory=InputTranscription)
    noise_reduction: Literal["near_field", "far_field"] | None = None
    tools: list[FunctionTool] = Field(default_factory=list[FunctionTool])
    tool_choice: Literal["auto", "none", "required"] = "auto"
    max_output_tokens: int | Literal["inf"] | None = None
    ephemeral: EphemeralToken | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("ws", "wss") or not parts.netloc:
            raise ValueError("must be a ws:// or wss:// URL with a host")
        return value

    @field_validator("output_modalities")
    @classmethod
    def _one_modality(cls, value: list[str]) -> list[str]:
        if len(value) != 1:
            raise ValueError('the API takes exactly one of ["audio"] or ["text"]')
        return value

    @field_validator("max_output_tokens")
    @classmethod
    def _tokens(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, int) and not 1 <= value <= 4096:
            raise ValueError("must be between 1 and 4096, or 'inf'")
        return value
