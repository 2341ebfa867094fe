"""Ephemeral client secrets: short-lived tokens so a long-lived API key need not ship.

Either mint one with ``POST /v1/realtime/client_secrets`` (the API key stays
on the machine doing the minting), or fetch one from your own backend. HTTP
failures map to the same errors a websocket handshake gives (401 → not
retried, 429 → retried after ``Retry-After``, 5xx → retried).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

import httpx

from rtws.errors import AuthenticationError, ConnectionFailed, ConnectTimeout, RateLimited
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
            request["json"] = {"model": options.model, "session": session_config(options)}
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
            "json": client_secret_request(options),
        }
    try:
        async with httpx.AsyncClient(timeout=eph.timeout) as client:
            response = await client.request(**request)
    except httpx.TimeoutException:
        raise ConnectTimeout(
            f"timed out after {eph.timeout:g} s fetching an ephemeral token from {redact(url)}"
        ) from None
    except httpx.HTTPError as exc:
        raise ConnectionFailed(
            f"could not fetch an ephemeral token from {redact(url)}: {redact(str(exc))}"
        ) from None
    return _secret_from(response, url)


def _secret_from(response: httpx.Response, url: str) -> ClientSecret:
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    detail = _detail(body, response.text)
    where = redact(url)
    if status in (401, 403):
        raise AuthenticationError(
            f"the token service {where} refused the credentials (HTTP {status}){detail}"
        )
    if status == 429:
        retry_after = _seconds(response.headers.get("retry-after"))
        raise RateLimited(f"rate limited by {where} (HTTP 429){detail}", retry_after=retry_after)
    if status >= 400:
        raise ConnectionFailed(f"{where} answered HTTP {status}{detail}", retryable=status >= 500)
    found = _find_secret(body)
    if found is None:
        raise ConnectionFailed(
            f"{where} answered without a client secret (no 'value' field)", retryable=False
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


def _detail(body: Any, text: str) -> str:
    message: Any = None
    if isinstance(body, dict):
        error: Any = cast("dict[str, Any]", body).get("error")
        message = cast("dict[str, Any]", error).get("message") if isinstance(error, dict) else error
    elif text.strip():
        message = text.strip()[:200]
    return f": {redact(str(message))}" if message else ""


def _seconds(raw: str | None) -> float | None:
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None
