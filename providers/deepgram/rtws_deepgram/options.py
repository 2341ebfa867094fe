"""Options of the Deepgram Voice Agent provider, named after the ``Settings`` message's fields.

Deepgram runs three providers per session (listen, think, speak); the
``think_provider`` and ``speak_provider`` objects go into ``Settings`` as
written, so any provider Deepgram documents (``open_ai``, ``anthropic``,
``eleven_labs``, ...) works without a new option.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from rtws import TransportOptions
from rtws.options import WebSocketURL, env_secret

DEFAULT_URL = "wss://agent.deepgram.com/v1/agent/converse"


class AgentFunction(BaseModel):
    """A function the agent may call (``agent.think.functions[]``).

    Without ``endpoint`` the call is client side: it arrives as an RTVI
    ``llm-function-call-in-progress`` and is answered with
    ``llm-function-call-result``. With one, Deepgram calls the URL itself.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    #: A JSON schema object for the arguments.
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    #: ``{"url": ..., "method": ..., "headers": {...}}`` for a server-side function.
    endpoint: dict[str, Any] | None = None


class DeepgramVoiceAgentOptions(TransportOptions):
    """Everything a Voice Agent session is told (the ``Settings`` message) and how to reach it."""

    url_field: ClassVar[str] = "url"

    api_key: SecretStr | None = Field(
        default_factory=lambda: env_secret("DEEPGRAM_API_KEY"), description="DEEPGRAM_API_KEY"
    )
    #: ``token`` for an API key, ``bearer`` for a temporary JWT from Deepgram's token API.
    auth_scheme: Literal["token", "bearer"] = Field(
        default="token", description="Authorization scheme: token (API key) or bearer (JWT)"
    )
    url: WebSocketURL = Field(default=DEFAULT_URL, description="the Voice Agent endpoint")
    #: PCM16 mono rates on the wire (``audio.input`` / ``audio.output``); the devices are
    #: resampled to them.
    input_sample_rate: int = Field(
        default=16000, ge=8000, le=48000, description="mic PCM rate sent (audio.input)"
    )
    output_sample_rate: int = Field(
        default=24000, ge=8000, le=48000, description="agent PCM rate asked for (audio.output)"
    )
    listen_model: str = Field(default="nova-3", description="speech-to-text model")
    language: str | None = None
    think_provider: dict[str, Any] = Field(
        default_factory=lambda: {"type": "open_ai", "model": "gpt-4o-mini"},
        description="agent.think.provider, as Deepgram documents it",
    )
    prompt: str | None = Field(default=None, description="the think LLM's system prompt")
    #: Declarations as Deepgram takes them (server-side ones with an ``endpoint``); plain
    #: Python functions go in ``tools`` and are run by rtws (docs/tools.md).
    functions: list[AgentFunction] = Field(default_factory=list[AgentFunction])
    speak_provider: dict[str, Any] = Field(
        default_factory=lambda: {"type": "deepgram", "model": "aura-2-thalia-en"},
        description="agent.speak.provider, as Deepgram documents it",
    )
    greeting: str | None = Field(default=None, description="said by the agent at the start")
    tags: list[str] = Field(default_factory=list[str])
    mip_opt_out: bool | None = None
    #: Send ``KeepAlive`` after this long without mic audio (a muted mic), so the server
    #: does not end the session (``CLIENT_MESSAGE_TIMEOUT``); ``None``: never.
    keepalive_s: float | None = Field(
        default=5.0, gt=0.0, le=60.0, description="KeepAlive period, seconds (None: never)"
    )
    #: Seconds to wait for ``Welcome`` and ``SettingsApplied``.
    settings_timeout: float = Field(
        default=10.0, gt=0.0, description="seconds to wait for Welcome, then SettingsApplied"
    )

    @model_validator(mode="after")
    def _function_names_unique(self) -> Self:
        """``functions`` and ``tools`` share ``agent.think.functions``: one name, one function."""
        names = [f.name for f in self.functions] + [t.name for t in self.tools]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"functions and tools: duplicate function names {duplicates}")
        return self

    @property
    def model(self) -> str:
        """The think model, for metrics."""
        return str(self.think_provider.get("model", ""))
