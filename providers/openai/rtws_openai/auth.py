"""Ephemeral client secrets: short-lived tokens so a long-lived API key need not ship.

Either mint one with ``POST /v1/realtime/client_secrets`` (the API key stays
on the machine doing the minting), or fetch one from your own backend.
HTTP failures map to the same errors a websocket handshake gives.
"""

from __future__ import annotations

from typing import Any

import httpx

from rtws.errors import AuthenticationError, ConnectionFailed, ConnectTimeout, RateLimited
from rtws.options import secret_value
from rtws.redact import redact, register_secret

from .options import OpenAIRealtimeOptions
from .session import session_config


async def fetch_client_secret(options: OpenAIRealtimeOptions) -> str:
    """Return an ``ek_...`` token for one session, per ``options.ephemeral``."""
    eph = options.ephemeral
    assert eph is not None
    if eph.mode == "endpoint":
        if eph.endpoint is None:
            raise AuthenticationError("ephemeral.mode='endpoint' needs ephemeral.endpoint (your token URL)")
        url = str(eph.endpoint)
        request: dict[str, Any] = {"method": "POST", "url": url, "json": {"session": session_config(options)}}
    else:
        key = secret_value(options.api_key)
        if not key:
            raise AuthenticationError(
                "minting an ephemeral token needs an API key: set OPENAI_API_KEY or options.api_key"
            )
        url = str(eph.rest_base_url).rstrip("/") + "/realtime/client_secrets"
        request = {
            "method": "POST",
            "url": url,
            "headers": {"Authorization": f"Bearer {key}", **options.extra_headers},
            "json": {
                "expires_after": {"anchor": "created_at", "seconds": eph.expires_after_s},
                "session": session_config(options),
            },
        }
    try:
        async with httpx.AsyncClient(timeout=eph.timeout) as client:
            response = await client.request(**request)
    except httpx.TimeoutException:
        raise ConnectTimeout(f"timed out fetching an ephemeral token from {redact(url)}") from None
    except httpx.HTTPError as exc:
        raise ConnectionFailed(f"could not fetch an ephemeral token from {redact(url)}: {redact(str(exc))}") from None
    return _token_from(response, url)


def _token_from(response: httpx.Response, url: str) -> str:
    status = response.status_code
    detail = ""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        detail = ": " + redact(str(body["error"].get("message", "")))  # pyright: ignore[reportUnknownMemberType,reportUnknownArgumentType]
    where = redact(url)
    if status in (401, 403):
        raise AuthenticationError(f"the token endpoint {where} refused the credentials (HTTP {status}){detail}")
    if status == 429:
        retry = response.headers.get("retry-after")
        try:
            retry_after = float(retry) if retry else None
        except ValueError:
            retry_after = None
        raise RateLimited(f"rate limited by {where} (HTTP 429){detail}", retry_after=retry_after)
    if status >= 400:
        raise ConnectionFailed(f"{where} answered HTTP {status}{detail}", retryable=status >= 500)
    token: Any = None
    if isinstance(body, dict):
        token = body.get("value")  # pyright: ignore[reportUnknownMemberType]
        secret = body.get("client_secret")  # pyright: ignore[reportUnknownMemberType]
        if token is None and isinstance(secret, dict):
            token = secret.get("value")  # pyright: ignore[reportUnknownMemberType]
    if not isinstance(token, str) or not token:
        raise ConnectionFailed(f"{where} answered without a token ('value' missing)", retryable=False)
    register_secret(token)
    return token
