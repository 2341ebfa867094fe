"""Options of the Gemini Live provider, named after the Live API's setup fields.

Field names follow the API (``response_modalities``, ``context_window_compression``,
...) in snake_case, so Google's docs apply as written; :mod:`.setup` turns them
into the camelCase ``setup`` message.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    ValidationInfo,
    field_validator,
)

from rtws import TransportOptions
from rtws.options import env_secret, refuse_cleartext
from rtws.tools import Tool

#: The Developer API's Live models speak audio natively; see Google's model list for others.
DEFAULT_MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
DEFAULT_HOST = "wss://generativelanguage.googleapis.com"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AutomaticActivityDetection(_Model):
    """Server-side voice activity detection (the default); ``None`` keeps the server's default."""

    start_of_speech_sensitivity: (
        Literal["START_SENSITIVITY_HIGH", "START_SENSITIVITY_LOW"] | None
    ) = None
    end_of_speech_sensitivity: Literal["END_SENSITIVITY_HIGH", "END_SENSITIVITY_LOW"] | None = None
    #: Speech needed before a start of speech is committed.
    prefix_padding_ms: int | None = Field(default=None, ge=0)
    #: Silence needed before the user's turn counts as finished.
    silence_duration_ms: int | None = Field(default=None, ge=0)


class ManualActivity(_Model):
    """No server VAD: the client marks turns with ``activityStart``/``activityEnd``.

    Call :meth:`GeminiLiveTransport.start_activity` / ``end_activity`` (push to
    talk), or send the RTVI ``client-message`` ``{"t": "activity-start"}`` /
    ``{"t": "activity-end"}``.
    """

    mode: Literal["manual"] = "manual"


class FunctionDeclaration(_Model):
    """A function the model may call.

    ``parameters`` is a JSON schema object. The Live API reads it as Gemini's
    OpenAPI subset: keywords outside that subset (``additionalProperties``,
    ``$schema``, ...) are dropped when the setup message is built, because the
    server rejects unknown fields.
    """

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
    description: str = ""
    parameters: dict[str, Any] | None = None
    #: ``NON_BLOCKING`` lets the conversation continue while the call runs.
    behavior: Literal["BLOCKING", "NON_BLOCKING"] | None = None


class ContextWindowCompression(_Model):
    """Sliding-window compression so a session can outlive the model's context window."""

    #: Context size (tokens) that triggers a compression; ``None`` = the server's default.
    trigger_tokens: int | None = Field(default=None, ge=1)
    #: Tokens kept after compressing; ``None`` = the server's default.
    target_tokens: int | None = Field(default=None, ge=0)


class EphemeralToken(_Model):
    """Mint a short-lived ``auth_tokens/...`` token with the API key before each connect.

    The token (not the key) then opens the socket, on the ``v1alpha``
    ``BidiGenerateContentConstrained`` endpoint. ``lock_setup`` bakes the
    session's setup into the token so a leaked token cannot be used with
    another configuration.
    """

    rest_host: HttpUrl = HttpUrl("https://generativelanguage.googleapis.com")
    #: Ephemeral tokens exist in ``v1alpha`` only (minting and the constrained socket).
    api_version: str = "v1alpha"
    #: Sessions the token may open (resuming does not count).
    uses: int = Field(default=1, ge=0)
    #: Lifetime of the token once a session is open.
    expire_after_s: int = Field(default=1800, ge=60, le=20 * 3600)
    #: Window in which a new session may start with it.
    new_session_expire_after_s: int = Field(default=60, ge=10, le=20 * 3600)
    lock_setup: bool = False
    timeout: float = Field(default=10.0, gt=0.0)


class GeminiLiveOptions(TransportOptions):
    """Everything a Gemini Live session can be told."""

    #: Same precedence as google-genai: GOOGLE_API_KEY wins when both are set.
    api_key: SecretStr | None = Field(
        default_factory=lambda: env_secret("GOOGLE_API_KEY", "GEMINI_API_KEY"),
        description="GOOGLE_API_KEY or GEMINI_API_KEY",
    )
    model: str = DEFAULT_MODEL
    #: Allow ``ws://``/``http://`` URLs to hosts other than this machine, which would
    #: send the key unencrypted (see :mod:`rtws.cleartext`). Off: such URLs are refused.
    #: (Declared before the URLs, so their validators can read it.)
    allow_cleartext: bool = False
    #: ``wss://host`` (or ``ws://127.0.0.1:port`` for the fake); the path is derived.
    host: str = DEFAULT_HOST
    api_version: str = "v1beta"
    #: Send the key as the ``x-goog-api-key`` header or as ``?key=`` in the URL.
    key_in: Literal["header", "query"] = "header"
    extra_headers: dict[str, str] = Field(default_factory=dict[str, str])
    voice: str | None = "Puck"
    language_code: str | None = None
    system_instruction: str | None = None
    #: Plain functions / ``rtws.tools.Tool`` (run by rtws) and ``FunctionDeclaration`` ones.
    tools: list[FunctionDeclaration | Tool] = Field(  # pyright: ignore[reportIncompatibleVariableOverride]
        default_factory=list[FunctionDeclaration | Tool]
    )
    response_modalities: list[Literal["AUDIO", "TEXT"]] = Field(default_factory=lambda: ["AUDIO"])
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_output_tokens: int | None = Field(default=None, ge=1)
    activity_detection: AutomaticActivityDetection | ManualActivity = Field(
        default_factory=lambda: AutomaticActivityDetection()
    )
    activity_handling: Literal["START_OF_ACTIVITY_INTERRUPTS", "NO_INTERRUPTION"] | None = None
    turn_coverage: Literal["TURN_INCLUDES_ONLY_ACTIVITY", "TURN_INCLUDES_ALL_INPUT"] | None = None
    input_audio_transcription: bool = True
    output_audio_transcription: bool = True
    context_window_compression: ContextWindowCompression | None = Field(
        default_factory=lambda: ContextWindowCompression()
    )
    #: Ask for resumption handles, so reconnects (goAway, dropped sockets) keep the conversation.
    session_resumption: bool = True
    #: Resume this earlier session on the first connect (a handle from :attr:`resumption_handle`).
    resume_handle: str | None = None
    ephemeral: EphemeralToken | None = None

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str, info: ValidationInfo) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("ws", "wss") or not parts.netloc:
            raise ValueError(
                "must be a ws:// or wss:// URL with a host, e.g. wss://generativelanguage.googleapis.com"
            )
        refuse_cleartext(value, "host", info)
        return value.rstrip("/")

    @field_validator("ephemeral")
    @classmethod
    def _check_rest_host(cls, value: EphemeralToken | None, info: ValidationInfo) -> Any:
        if value is not None:
            refuse_cleartext(str(value.rest_host), "ephemeral.rest_host", info)
        return value

    @field_validator("response_modalities")
    @classmethod
    def _one_modality(cls, value: list[str]) -> list[str]:
        if len(value) != 1:
            raise ValueError('Live sessions take exactly one of ["AUDIO"] or ["TEXT"]')
        return value

    @field_validator("model")
    @classmethod
    def _bare_model(cls, value: str) -> str:
        return value.removeprefix("models/")
