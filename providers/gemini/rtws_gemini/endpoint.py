"""Where a Gemini Live session connects, and what its close codes mean.

Kept out of the transport so it stays a translation table: the URL and
headers for a key or an ephemeral token, and the mapping of Google's close
codes and reasons to rtws errors (a refused key is never retried).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from websockets.frames import CloseCode

from rtws.connection import close_error as default_close_error
from rtws.errors import AuthenticationError, ConnectionFailed, RateLimited, RTWSError
from rtws.options import secret_value
from rtws.redact import redact

from .options import GeminiLiveOptions

#: Close reasons that mean "these credentials will never work" (Google's wording varies).
CREDENTIALS = re.compile(
    r"api[ _-]?key|unauthenticated|permission|credential|(access|auth|ephemeral)[ _-]?token",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class CloseMeaning:
    error: RTWSError
    handle_expired: bool = False  # the resumption handle is no good any more


def close_error(code: int | None, reason: str, *, resuming: bool) -> CloseMeaning:
    """The error a close stands for: 1008 refused key or request, 1007 invalid setup."""
    text = redact(reason).strip()
    detail = f": {text}" if text else ""
    if resuming and code in (1007, 1008) and "handle" in text.lower():
        return CloseMeaning(
            ConnectionFailed(
                f"Gemini could not resume the session ({text}); the next attempt starts a new "
                "conversation",
                retryable=True,
            ),
            handle_expired=True,
        )
    if code == CloseCode.POLICY_VIOLATION:
        if not text or CREDENTIALS.search(text):
            return CloseMeaning(
                AuthenticationError(
                    f"Gemini refused the credentials (close 1008{detail}). Check GEMINI_API_KEY, "
                    "options.api_key or the ephemeral token."
                )
            )
        return CloseMeaning(
            ConnectionFailed(f"Gemini refused the session (close 1008{detail})", retryable=False)
        )
    if code == CloseCode.INVALID_DATA:
        return CloseMeaning(
            ConnectionFailed(
                f"Gemini rejected the session setup or a message (close 1007{detail})",
                retryable=False,
            )
        )
    if "quota" in text.lower() or "resource_exhausted" in text.lower():
        return CloseMeaning(RateLimited(f"Gemini quota exhausted (close {code}{detail})"))
    return CloseMeaning(default_close_error(code, reason, "gemini"))


def url_and_headers(options: GeminiLiveOptions, token: str | None) -> tuple[str, dict[str, str]]:
    """The ``BidiGenerateContent`` URL and headers, for an API key or an ephemeral token."""
    headers = dict(options.extra_headers)
    query: dict[str, str] = {}
    if token is not None and options.ephemeral is not None:
        version, method = options.ephemeral.api_version, "BidiGenerateContentConstrained"
        query["access_token"] = token
    else:
        key = secret_value(options.api_key)
        if not key:
            raise AuthenticationError(
                "no Gemini API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), pass api_key=..., "
                "or configure ephemeral tokens"
            )
        version, method = options.api_version, "BidiGenerateContent"
        if options.key_in == "header":
            headers["x-goog-api-key"] = key
        else:
            query["key"] = key
    url = f"{options.host}/ws/google.ai.generativelanguage.{version}.GenerativeService.{method}"
    return (f"{url}?{urlencode(query)}" if query else url), headers
