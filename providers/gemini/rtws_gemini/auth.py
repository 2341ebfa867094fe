"""Ephemeral tokens: short-lived ``auth_tokens/...`` names, so a device never holds the API key.

``POST {v1alpha}/auth_tokens`` with the key returns a token that opens
``BidiGenerateContentConstrained`` sessions (``?access_token=``). HTTP failures
map to the errors a websocket handshake would give; Google answers a bad key
with HTTP 400 ``API_KEY_INVALID``, which is an authentication error, not a
retryable one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from rtws.errors import AuthenticationError, ConnectionFailed
from rtws.http import request_json
from rtws.options import secret_value
from rtws.redact import redact, register_secret

from . import wire
from .options import GeminiLiveOptions
from .setup import setup_body


def token_request(options: GeminiLiveOptions, now: datetime | None = None) -> dict[str, Any]:
    """The ``auth_tokens.create`` body (pure, for tests)."""
    eph = options.ephemeral
    assert eph is not None
    start = now or datetime.now(UTC)
    body: dict[str, Any] = {
        "uses": eph.uses,
        "expireTime": _timestamp(start + timedelta(seconds=eph.expire_after_s)),
        "newSessionExpireTime": _timestamp(
            start + timedelta(seconds=eph.new_session_expire_after_s)
        ),
    }
    if eph.lock_setup:
        setup = setup_body(options)
        setup.pop("sessionResumption", None)  # per connection, not per token
        body["bidiGenerateContentSetup"] = setup
    return body


async def mint_token(options: GeminiLiveOptions) -> str:
    """Return a fresh ``auth_tokens/...`` token for one session."""
    eph = options.ephemeral
    assert eph is not None
    key = secret_value(options.api_key)
    if not key:
        raise AuthenticationError(
            "minting a Gemini ephemeral token needs an API key: "
            "set GEMINI_API_KEY or options.api_key"
        )
    url = f"{str(eph.rest_host).rstrip('/')}/{eph.api_version}/auth_tokens"
    body = await request_json(
        "POST",
        url,
        what="mint a Gemini ephemeral token",
        timeout_s=eph.timeout,
        headers={"x-goog-api-key": key, **options.extra_headers},
        body=token_request(options),
        auth_check=lambda status, error: status == 400 and _is_bad_key(error),
    )
    token = wire.obj(body).get("name")
    if not isinstance(token, str) or not token:
        raise ConnectionFailed(
            f"{redact(url)} answered without a token ('name' missing)", retryable=False
        )
    register_secret(token)
    return token


def _is_bad_key(error: Mapping[str, Any]) -> bool:
    reasons = {str(d.get("reason")) for d in wire.objects(error.get("details"))}  # hashable
    return "API_KEY_INVALID" in reasons or "API key not valid" in str(error.get("message", ""))


def _timestamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
