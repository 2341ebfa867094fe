"""Options of the OpenAI Realtime provider, mirroring the GA session object.

Field names follow the API (``turn_detection``, ``output_modalities``, ...) so
the OpenAI docs apply as written, and every value the API would refuse is
refused here first, at construction, naming the field. Azure OpenAI needs no
other code: :meth:`OpenAIRealtimeOptions.azure` (or ``base_url`` plus
``auth_header="api-key"``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlencode, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rtws import TransportOptions
from rtws.errors import ConfigurationError
from rtws.options import env_secret, refuse_cleartext
from rtws.tools import Tool

#: The built-in voices; any other string is passed through (new or custom voices).
BUILTIN_VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)
ReasoningEffort = Literal["minimal", "low", "medium", "high", "xhigh"]
#: Reasoning models: the gpt-realtime-2 family (the SDK: ``reasoning`` and
#: ``parallel_tool_calls`` are "only supported by reasoning Realtime models such as
#: gpt-realtime-2"). ``gpt-realtime-2025-08-28`` is an older, non-reasoning snapshot.
REASONING_MODELS = re.compile(r"gpt-realtime-2(?:\.\d+)?(?:-mini)?(?:-\d{4}-\d{2}-\d{2})?")
#: Models known NOT to reason: the service refuses the whole ``session.update`` when it
#: carries ``reasoning`` or ``parallel_tool_calls`` for them (``unsupported_parameter``).
#: Names outside both lists (an Azure deployment, a newer model) are sent as configured.
NON_REASONING_MODELS = re.compile(
    r"(?:gpt-realtime(?:-1\.5|-mini)?|gpt-4o(?:-mini)?-realtime-preview|gpt-audio(?:-1\.5|-mini)?)"
    r"(?:-\d{4}-\d{2}-\d{2})?"
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerVAD(_Model):
    """Silence-based turn detection on the server (the API's default)."""

    type: Literal["server_vad"] = "server_vad"
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    prefix_padding_ms: int | None = Field(default=None, ge=0)
    silence_duration_ms: int | None = Field(default=None, ge=0)
    #: Ask the model to speak up after this much silence following its reply.
    idle_timeout_ms: int | None = Field(default=None, ge=0)
    create_response: bool = True
    #: False: the user talking over the bot does not stop it (no barge-in).
    interrupt_response: bool = True


class SemanticVAD(_Model):
    """Turn detection by a model that judges whether the user has finished."""

    type: Literal["semantic_vad"] = "semantic_vad"
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    create_response: bool = True
    interrupt_response: bool = True


TurnDetection = Annotated[ServerVAD | SemanticVAD, Field(discriminator="type")]


class InputTranscription(_Model):
    """Transcribe the user's audio (a separate ASR model; gives ``user-transcription``)."""

    model: str = Field(default="gpt-4o-mini-transcribe", min_length=1)
    language: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$",
        description="ISO-639-1, e.g. 'en'",
    )
    prompt: str | None = None
    #: Candidate languages and guiding keywords (``gpt-transcribe`` family).
    languages: list[str] | None = None
    keywords: list[str] | None = None
    #: Accuracy-for-latency trade-off (``gpt-realtime-whisper`` only).
    delay: Literal["minimal", "low", "medium", "high", "xhigh"] | None = None


class NoiseReduction(_Model):
    type: Literal["near_field", "far_field"] = "near_field"
    strength: float | None = Field(default=None, ge=0.0, le=1.0)


class CustomVoice(_Model):
    """A custom voice made in the OpenAI dashboard (``voice_...``)."""

    id: str = Field(min_length=1)


class FunctionTool(_Model):
    """A function the model may call; ``parameters`` is a JSON schema object."""

    type: Literal["function"] = "function"
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type") != "object":
            raise ValueError('must be a JSON schema with "type": "object"')
        return value


class ForcedFunction(_Model):
    """``tool_choice`` that makes the model call this function."""

    type: Literal["function"] = "function"
    name: str = Field(min_length=1)


class RetentionRatio(_Model):
    """Drop old turns down to this fraction of the context when it overflows."""

    type: Literal["retention_ratio"] = "retention_ratio"
    retention_ratio: float = Field(ge=0.0, le=1.0)
    post_instructions_token_limit: int | None = Field(default=None, ge=0)


class EphemeralToken(_Model):
    """Where the session's short-lived client secret comes from.

    ``mint`` calls ``POST {base_url}/realtime/client_secrets`` with the API key
    (for a backend, or a trusted machine); ``endpoint`` asks your own backend,
    which keeps the API key off this machine entirely and answers
    ``{"value": "ek_..."}`` (OpenAI's client-secret response, passed through).
    A fresh secret is fetched for every connect and reconnect.
    """

    mode: Literal["mint", "endpoint"] = "mint"
    endpoint: HttpUrl | None = None
    endpoint_method: Literal["GET", "POST"] = "POST"
    #: Headers for your endpoint (e.g. your app's own session cookie or token).
    endpoint_headers: dict[str, SecretStr] = Field(default_factory=dict[str, SecretStr])
    expires_after_s: int = Field(default=600, ge=10, le=7200)
    timeout: float = Field(default=10.0, gt=0.0, le=120.0)

    @model_validator(mode="after")
    def _endpoint_needs_url(self) -> Self:
        if self.mode == "endpoint" and self.endpoint is None:
            raise ValueError("mode 'endpoint' needs endpoint (the URL of your token service)")
        return self


class OpenAIRealtimeOptions(TransportOptions):
    """Everything an OpenAI Realtime session can be told.

    ``None`` for ``turn_detection`` means manual turns: call
    :meth:`~rtws_openai.OpenAIRealtimeTransport.commit_turn` to make the model
    answer. ``None`` for ``input_transcription`` turns user transcripts off.
    """

    api_key: SecretStr | None = Field(
        default_factory=lambda: env_secret("OPENAI_API_KEY"), description="OPENAI_API_KEY"
    )
    model: str = Field(default="gpt-realtime", min_length=1)
    #: Allow ``http://``/``ws://`` URLs to hosts other than this machine, which would
    #: send the key unencrypted (see :mod:`rtws.cleartext`). Off: such URLs are refused.
    #: (Declared before the URLs, so their validators can read it.)
    allow_cleartext: bool = False
    #: The REST base; the websocket is ``{base_url}/realtime`` with a ws(s) scheme.
    base_url: str = "https://api.openai.com/v1"
    auth_header: Literal["bearer", "api-key"] = "bearer"
    #: Sent with the handshake (and a mint request); values are masked in reprs and dumps.
    extra_headers: dict[str, SecretStr] = Field(default_factory=dict[str, SecretStr])
    extra_query: dict[str, str] = Field(default_factory=dict[str, str])

    voice: str | CustomVoice = "marin"
    speed: float | None = Field(default=None, ge=0.25, le=1.5)
    instructions: str | None = None
    output_modalities: list[Literal["audio", "text"]] = Field(default_factory=lambda: ["audio"])
    turn_detection: TurnDetection | None = Field(default_factory=ServerVAD)
    input_transcription: InputTranscription | None = Field(default_factory=InputTranscription)
    noise_reduction: NoiseReduction | None = None
    #: Plain functions / ``rtws.tools.Tool`` (run by rtws) and ``FunctionTool`` declarations.
    tools: list[FunctionTool | Tool] = Field(default_factory=list[FunctionTool | Tool])  # pyright: ignore[reportIncompatibleVariableOverride]
    tool_choice: Literal["auto", "none", "required"] | ForcedFunction = "auto"
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    reasoning_effort: ReasoningEffort | None = None
    truncation: Literal["auto", "disabled"] | RetentionRatio | None = None
    ephemeral: EphemeralToken | None = None
    #: After a dropped connection, replay the conversation's text into the new session.
    restore_context_on_reconnect: bool = True

    @classmethod
    def azure(
        cls, endpoint: str, deployment: str, api_key: str | SecretStr | None = None, **options: Any
    ) -> OpenAIRealtimeOptions:
        """Options for an Azure OpenAI resource (GA ``/openai/v1`` API, ``api-key`` header).

        ``endpoint`` is ``https://<resource>.openai.azure.com``; the key defaults
        to ``AZURE_OPENAI_API_KEY``.
        """
        key = api_key if api_key is not None else env_secret("AZURE_OPENAI_API_KEY")
        return cls.model_validate(
            {
                "base_url": endpoint.rstrip("/") + "/openai/v1",
                "model": deployment,
                "auth_header": "api-key",
                "api_key": key,
                **options,
            }
        )

    @field_validator("turn_detection", mode="before")
    @classmethod
    def _turn_detection_shorthand(cls, value: Any) -> Any:
        """``"server_vad"``, ``"semantic_vad"`` or ``"none"``, for CLIs and config files."""
        if isinstance(value, str):
            if value in ("none", "manual"):
                return None
            return {"type": value}
        return value

    @field_validator("noise_reduction", mode="before")
    @classmethod
    def _noise_reduction_shorthand(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value

    @field_validator("voice", mode="before")
    @classmethod
    def _voice_not_empty(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must name a voice, e.g. 'marin'")
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str, info: ValidationInfo) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
            raise ValueError("must be an http(s):// or ws(s):// URL with a host")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query or fragment (use extra_query)")
        refuse_cleartext(value, "base_url", info)
        return value

    @field_validator("ephemeral")
    @classmethod
    def _check_endpoint(cls, value: EphemeralToken | None, info: ValidationInfo) -> Any:
        if value is not None and value.endpoint is not None:
            refuse_cleartext(str(value.endpoint), "ephemeral.endpoint", info)
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

    @model_validator(mode="after")
    def _reasoning_needs_a_reasoning_model(self) -> Self:
        if self.supports_reasoning is False:
            for name in ("reasoning_effort", "parallel_tool_calls"):
                if getattr(self, name) is not None:
                    raise ValueError(
                        f"{name}: {self.model} is not a reasoning model and the service would "
                        "refuse the whole session; use a gpt-realtime-2 model or leave it unset"
                    )
        return self

    @model_validator(mode="after")
    def _tools_consistent(self) -> Self:
        names = [tool.name for tool in self.tools]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"tools: duplicate function names {duplicates}")
        forced = self.tool_choice
        if isinstance(forced, ForcedFunction) and forced.name not in names:
            raise ValueError(f"tool_choice: forces {forced.name!r}, which is not among tools")
        return self

    # ---- derived, so every URL is built in one place
    @property
    def supports_reasoning(self) -> bool | None:
        """Whether ``model`` takes ``reasoning``/``parallel_tool_calls``; None when unknown."""
        if REASONING_MODELS.fullmatch(self.model):
            return True
        if NON_REASONING_MODELS.fullmatch(self.model):
            return False
        return None

    @property
    def audio_out(self) -> bool:
        return self.output_modalities == ["audio"]

    @property
    def interrupts(self) -> bool:
        """Whether speech over the bot stops it (VAD ``interrupt_response``; manual: always)."""
        return self.turn_detection is None or self.turn_detection.interrupt_response

    @property
    def vad_silence_ms(self) -> int:
        """The silence the server's VAD waits after speech (server_vad: 500 ms by default);
        semantic_vad's wait is the model's, so its audio_end_ms is taken as the end."""
        vad = self.turn_detection
        if not isinstance(vad, ServerVAD):
            return 0
        return 500 if vad.silence_duration_ms is None else vad.silence_duration_ms

    def rest_url(self, path: str) -> str:
        parts = urlsplit(self.base_url)
        scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
        base = parts.path.rstrip("/").removesuffix("/realtime")
        return parts._replace(scheme=scheme, path=f"{base}/{path.lstrip('/')}").geturl()

    def realtime_url(self) -> str:
        """``wss://.../realtime?model=...``; an Azure ``deployment`` query replaces ``model``."""
        url = urlsplit(self.rest_url("realtime"))
        query = {} if "deployment" in self.extra_query else {"model": self.model}
        query.update(self.extra_query)
        scheme = {"http": "ws", "https": "wss"}[url.scheme]
        return url._replace(scheme=scheme, query=urlencode(query)).geturl()

    def headers(self, client_secret: str | None = None) -> dict[str, str]:
        """Handshake headers: a client secret is always Bearer, an API key per ``auth_header``."""
        token = client_secret or (self.api_key.get_secret_value() if self.api_key else None)
        if not token:
            raise ConfigurationError(
                "no OpenAI API key: set OPENAI_API_KEY, pass api_key=..., or configure "
                "ephemeral tokens (ephemeral=EphemeralToken(...))"
            )
        extra = {name: value.get_secret_value() for name, value in self.extra_headers.items()}
        if client_secret is not None or self.auth_header == "bearer":
            return {**extra, "Authorization": f"Bearer {token}"}
        return {**extra, "api-key": token}

    def secrets(self) -> list[str]:
        """Every credential these options carry, for the log and event redactor."""
        found = [self.api_key.get_secret_value() if self.api_key else None]
        headers = dict(self.extra_headers)
        if self.ephemeral is not None:
            headers.update(self.ephemeral.endpoint_headers)
        for name, value in headers.items():
            if any(word in name.lower() for word in ("auth", "key", "token", "secret", "cookie")):
                found.append(value.get_secret_value().split(" ", 1)[-1])
        return [s for s in found if s]
