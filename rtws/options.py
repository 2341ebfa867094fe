"""Options shared by every provider.

A provider's options model subclasses :class:`TransportOptions`, so timeouts,
reconnection and audio pacing are configured the same way everywhere, and a
wrong value fails at construction with the field's name in the message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self, cast
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    model_validator,
)

from .cleartext import cleartext_problem
from .redact import redact, register_secret
from .tools.declare import Tool


class ReconnectPolicy(BaseModel):
    """How an unexpected close is retried: exponential backoff with jitter.

    ``max_attempts=0`` disables reconnection. Authentication failures and
    client errors are never retried, whatever this says.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=3, ge=0, le=100)
    initial_delay: float = Field(
        default=0.5, ge=0.0, le=60.0, description="seconds before the 1st retry"
    )
    max_delay: float = Field(default=8.0, ge=0.0, le=600.0)
    multiplier: float = Field(default=2.0, ge=1.0, le=10.0)
    jitter: float = Field(default=0.25, ge=0.0, le=1.0, description="± fraction of each delay")
    #: A server that fails every new session at once must not be retried forever: a
    #: session lost again this soon after a reconnect continues that reconnect's count.
    stable_after: float = Field(
        default=10.0,
        ge=0.0,
        le=3600.0,
        description="seconds a resumed session must last before its attempts are forgotten",
    )

    @model_validator(mode="after")
    def _delays_in_order(self) -> Self:
        if self.max_delay < self.initial_delay:
            raise ValueError(
                f"max_delay ({self.max_delay:g} s) must not be shorter than "
                f"initial_delay ({self.initial_delay:g} s)"
            )
        return self

    def delay(self, attempt: int, rand: float) -> float:
        """Delay before ``attempt`` (1-based); ``rand`` in [0, 1) supplies the jitter."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        return max(0.0, base * (1.0 + self.jitter * (2.0 * rand - 1.0)))


class TransportOptions(BaseModel):
    """Settings every transport understands; providers add their own fields."""

    # Inputs are kept out of error messages: a failing check on the whole model would
    # otherwise print the start of the input, which may be the API key.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, hide_input_in_errors=True)

    connect_timeout: float = Field(
        default=15.0, gt=0.0, le=300.0, description="seconds, whole connect()"
    )
    reconnect: ReconnectPolicy = Field(default_factory=ReconnectPolicy)
    chunk_ms: float = Field(
        default=20.0, ge=5.0, le=200.0, description="mic chunk size sent to the LLM"
    )
    prebuffer_ms: float = Field(
        default=40.0, ge=0.0, le=2000.0, description="bot audio queued before play"
    )
    #: Servers send a reply's audio faster than real time, so the buffer must hold
    #: whole replies; five minutes is more than any provider sends at once, and
    #: bounds what a misbehaving server can make rtws hold (29 MB at 48 kHz).
    max_playout_s: float = Field(
        default=300.0,
        ge=1.0,
        le=3600.0,
        description="most bot audio queued for the speaker, in seconds; more is dropped "
        "(counted in stats.bot_audio_dropped_ms, reported as an error event)",
    )
    ping_interval: float | None = Field(
        default=10.0, gt=0.0, le=3600.0, description="websocket keepalive, seconds"
    )
    ping_timeout: float | None = Field(
        default=10.0,
        gt=0.0,
        le=3600.0,
        description="seconds without a pong, or without progress sending, before the "
        "connection counts as lost",
    )
    bot_stopped_after_ms: float = Field(
        default=300.0,
        ge=0.0,
        le=5000.0,
        description="silence after which the bot counts as stopped",
    )
    resample_quality: Literal["QQ", "LQ", "MQ", "HQ", "VHQ"] = Field(
        default="LQ", description="soxr recipe; higher costs latency (see rtws.audio.resample)"
    )
    reconnect_hold_ms: float = Field(
        default=2000.0, ge=0.0, le=60000.0, description="mic audio held while (re)connecting"
    )
    echo_cancellation: bool | None = Field(
        default=None,
        description=(
            "acoustic echo cancellation (WebRTC AEC3) on the mic, so the bot's voice from "
            "laptop speakers never counts as the user. None: on for sound devices, off for "
            "files and memory"
        ),
    )
    noise_suppression: bool = Field(
        default=False,
        description="WebRTC noise suppression on the mic (runs with echo cancellation on)",
    )
    echo_gate_level: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description=(
            "half-duplex fallback: while the bot speaks, mic audio below this level (0..1, as "
            "in user-audio-level) is sent as silence. None: off (echo cancellation does the "
            "job); see the troubleshooting page for choosing a level"
        ),
    )
    level_interval: float = Field(
        default=0.1, gt=0.0, le=5.0, description="audio level events period"
    )
    bot_output: Literal["reply", "sentence"] = Field(
        default="reply",
        description=(
            "bot-output events: one per reply, when it ends ('reply'), or one per "
            "sentence as the transcript streams ('sentence')"
        ),
    )
    video_fps: float = Field(
        default=1.0,
        gt=0.0,
        le=30.0,
        description="camera frames per second sent while the camera is on (Gemini: 1)",
    )
    video_max_size: int = Field(
        default=768,
        ge=64,
        le=4096,
        description="frames are scaled so their long side is at most this many pixels "
        "(Gemini and OpenAI both document 768)",
    )
    video_jpeg_quality: int = Field(default=80, ge=10, le=100, description="JPEG quality")
    tools: list[Tool] = Field(
        default_factory=list[Tool],
        description="functions the model may call: plain functions or rtws.tools.Tool",
    )

    def __repr__(self) -> str:
        # SecretStr fields mask themselves; a key a provider keeps in a URL does not.
        return redact(super().__repr__())

    def __str__(self) -> str:
        return redact(super().__str__())

    @model_validator(mode="after")
    def _register_secrets(self) -> Self:
        """Every key or token in the options is masked in rtws' logs, errors and events.

        Done here, once for every provider, so a provider that forgets to call
        :func:`~rtws.redact.register_secret` cannot leak its key in an error
        message a server echoes back.
        """
        _register_secrets_in(self)
        return self


def _register_secrets_in(value: Any) -> None:
    if isinstance(value, SecretStr):
        register_secret(value.get_secret_value())
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _register_secrets_in(getattr(value, name))
    elif isinstance(value, dict):
        for item in cast("dict[Any, Any]", value).values():
            _register_secrets_in(item)
    elif isinstance(value, list | tuple):
        for item in cast("list[Any] | tuple[Any, ...]", value):
            _register_secrets_in(item)


def _check_websocket_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number or out of range
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError("must be a ws:// or wss:// URL with a host, e.g. wss://example.com/v1")
    if any(c.isspace() for c in url):
        raise ValueError("must not contain spaces")
    del port
    return url


#: A provider's websocket endpoint, checked at construction (scheme, host, port).
WebSocketURL = Annotated[str, AfterValidator(_check_websocket_url)]


def secret_value(secret: SecretStr | None) -> str | None:
    """Reveal a secret at the one place it must go on the wire."""
    return secret.get_secret_value() if secret is not None else None


def env_secret(*names: str) -> SecretStr | None:
    """The first of these environment variables that is set (and not empty), as a secret.

    For an API key's ``default_factory``, so a key comes from the environment
    rather than from code, and is masked from the moment it is read.
    """
    for name in names:
        value = os.environ.get(name)
        if value:
            return SecretStr(value)
    return None


def refuse_cleartext(url: str, name: str, info: ValidationInfo) -> None:
    """Refuse a credential URL in cleartext unless the options set ``allow_cleartext``.

    For a provider's field validators (see :mod:`rtws.cleartext`): the error
    names the field and shows the URL, never the whole input (which holds the key).
    ``allow_cleartext`` must be declared before the URL fields, so it is in ``info.data``.
    """
    if not info.data.get("allow_cleartext", False):
        problem = cleartext_problem(url, name)
        if problem is not None:
            raise ValueError(problem)


def only_set(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a payload whose option is set (not None), in their order.

    Providers send only what the user configured, so the server's own defaults
    apply to the rest (and a new server default reaches users without a release).
    """
    return {name: value for name, value in fields.items() if value is not None}
