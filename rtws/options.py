"""Options shared by every provider.

A provider's options model subclasses :class:`TransportOptions`, so timeouts,
reconnection and audio pacing are configured the same way everywhere, and a
wrong value fails at construction with the field's name in the message.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


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

    def delay(self, attempt: int, rand: float) -> float:
        """Delay before ``attempt`` (1-based); ``rand`` in [0, 1) supplies the jitter."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        return max(0.0, base * (1.0 + self.jitter * (2.0 * rand - 1.0)))


class TransportOptions(BaseModel):
    """Settings every transport understands; providers add their own fields."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

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
    ping_interval: float | None = Field(
        default=10.0, gt=0.0, description="websocket keepalive, seconds"
    )
    ping_timeout: float | None = Field(default=10.0, gt=0.0)
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
        default=2000.0, ge=0.0, le=60000.0, description="mic audio kept during a reconnect"
    )
    echo_gate_level: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description=(
            "while the bot speaks, mic audio below this level (0..1, as in user-audio-level) "
            "is sent as silence; ~0.6 stops laptop speakers from interrupting the bot. "
            "None: off (headsets, or acoustic echo cancellation in the OS)"
        ),
    )
    level_interval: float = Field(
        default=0.1, gt=0.0, le=5.0, description="audio level events period"
    )


def secret_value(secret: SecretStr | None) -> str | None:
    """Reveal a secret at the one place it must go on the wire."""
    return secret.get_secret_value() if secret is not None else None
