"""Ephemeral client secrets: short-lived tokens so a long-lived API key need not ship.

Either mint one with ``POST /v1/realtime/client_secrets`` (the API key stays
on the machine doing the minting), or fetch one from your own backend. HTTP
failures map to the same errors a websocket handshake gives (401 → not
retried, 429 → retried after ``Retry-After``, 5xx → retried).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rtws.errors import AuthenticationError, ConnectionFailed
from rtws.http import request_json
from rtws.options import secret_value
from rtws.redact import redact, register_secret

from .options import OpenAIRealtimeOptions
from .session import client_secret_request, session_config


@dataclass(frozen=True, slots=True)
class ClientSecret:
    value: str
    #: Unix time after which no new session can start with it (None: not said).
    expires_at: int | None

    def __repr__(self) -> str:
        return f"ClientSecret(value='***', expires_at={self.expires_at})"

    def fresh(self, margin_s: float = 30.0) -> bool:
        """Still good for opening a session (a reconnect need not mint another)."""
        return self.expires_at is not None and self.expires_at > time.time() + margin_s


async def fetch_client_secret(options: OpenAIRealtimeOptions) -> ClientSecret:
    """An ``ek_...`` secret for one session, per ``options.ephemeral``."""
    eph = options.ephemeral
    if eph is None:
        raise ValueError("options.ephemeral is not set")
    if eph.mode == "endpoint":
        assert eph.endpoint is not None  # the options validator guarantees it
        url = str(eph.endpoint)
        request: dict[str, Any] = {"method": eph.endpoint_method, "url": url}
        request["headers"] = {k: v.get_secret_value() for k, v in eph.endpoint_headers.items()}
        if eph.endpoint_method == "POST":
            request["body"] = {"model": options.model, "session": session_config(options)}
    else:
        key = secret_value(options.api_key)
        if not key:
            raise AuthenticationError(
                "minting an ephemeral token needs an API key: set OPENAI_API_KEY or options.api_key"
            )
        url = options.rest_url("realtime/client_secrets")
        request = {
            "method": "POST",
            "url": url,
            "headers": options.headers(),
            "body": client_secret_request(options),
        }
    body = await request_json(
        request.pop("method"),
        request.pop("url"),
        what="fetch an ephemeral token",
        timeout_s=eph.timeout,
        **request,
    )
    found = _find_secret(body)
    if found is None:
        raise ConnectionFailed(
            f"{redact(url)} answered without a client secret (no 'value' field)", retryable=False
        )
    if not _is_token(found.value):
        # It goes into the handshake's Authorization header as is.
        raise ConnectionFailed(
            f"{redact(url)} answered with a client secret that is not a token "
            f"({len(found.value)} characters, spaces or control characters among them)",
            retryable=False,
        )
    register_secret(found.value)
    return found


def _find_secret(body: Any) -> ClientSecret | None:
    """``{"value", "expires_at"}`` (GA), or the same nested in ``client_secret``."""
    if not isinstance(body, dict):
        return None
    fields: dict[str, Any] = body  # pyright: ignore[reportUnknownVariableType]
    nested = fields.get("client_secret")
    if "value" not in fields and isinstance(nested, dict):
        fields = nested  # pyright: ignore[reportUnknownVariableType]
    value = fields.get("value")
    if not isinstance(value, str) or not value:
        return None
    expires = fields.get("expires_at")
    return ClientSecret(value, expires if isinstance(expires, int) else None)


def _is_token(value: str) -> bool:
    """Printable ASCII without spaces, of a sane length: what a header value can carry."""
    return 0 < len(value) <= 8192 and value.isascii() and value.isprintable() and " " not in value
