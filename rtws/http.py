"""REST calls a provider makes beside its websocket (minting ephemeral tokens).

They fail the way a websocket handshake fails — a refused key, a rate limit,
a server in trouble, a host that never answers — so they map to the same
:mod:`rtws.errors`, with the same retry rules: only what may succeed on a
second try is ``retryable``. Every message is redacted: a token endpoint's URL
or error text may carry a key.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, cast

from . import safejson
from .errors import AuthenticationError, ConnectionFailed, ConnectTimeout, RateLimited, RTWSError
from .redact import redact

#: Reads a JSON error body (``{"error": {...}}``) and says whether it means "bad credentials".
AuthCheck = Callable[[int, Mapping[str, Any]], bool]


#: The longest ``Retry-After`` honoured, in seconds: a server saying "inf" (or a
#: year) must not park a session in ``connecting`` for good.
MAX_RETRY_AFTER_S = 120.0


def retry_after_seconds(raw: str | None) -> float | None:
    """A ``Retry-After`` header in seconds (the HTTP-date form is rare for APIs: ignored).

    ``nan``, ``inf`` and negative values are ignored; longer waits are cut to
    :data:`MAX_RETRY_AFTER_S`.
    """
    try:
        seconds = float(raw) if raw is not None else None
    except ValueError:
        return None
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER_S)


def error_fields(body: Any) -> dict[str, Any]:
    """The ``error`` object of an OpenAI- or Google-style error body, or {}."""
    error = cast("dict[str, Any]", body).get("error") if isinstance(body, dict) else None
    return cast("dict[str, Any]", error) if isinstance(error, dict) else {}


def status_error(
    status: int,
    *,
    who: str,
    detail: str = "",
    retry_after: float | None = None,
    bad_credentials: bool = False,
) -> RTWSError | None:
    """The error an HTTP status stands for (None for success), worded for a user.

    ``who`` names the party that answered ("the token service https://…");
    ``bad_credentials`` lets a provider say that a 400 meant a bad key.
    """
    suffix = f": {redact(detail)}" if detail else ""
    if status in (401, 403) or bad_credentials:
        return AuthenticationError(
            f"{who} refused the credentials (HTTP {status}){suffix}. "
            "Check the API key (or token) in the options or environment."
        )
    if status == 429:
        hint = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        return RateLimited(
            f"{who} is rate limiting this key (HTTP 429){suffix}{hint}", retry_after=retry_after
        )
    if 400 <= status < 500:
        return ConnectionFailed(
            f"{who} refused the request (HTTP {status}){suffix}", retryable=False
        )
    if status >= 300:
        return ConnectionFailed(f"{who} failed (HTTP {status}){suffix}", retryable=status >= 500)
    return None


async def request_json(
    method: str,
    url: str,
    *,
    what: str,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    auth_check: AuthCheck | None = None,
) -> Any:
    """Send ``body`` as JSON and return the decoded answer, or raise the error a failure means.

    ``what`` completes "could not …" in messages, e.g. "mint an ephemeral token".
    """
    # Imported here: httpx pulls in its command line (click, rich, pygments) when
    # those are installed, ~8,000 objects that every full GC pass of a session
    # process would walk, for a call made once per connect, and only by some providers.
    import httpx

    where = redact(url)
    response: httpx.Response | RTWSError
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            response = await client.request(method, url, headers=dict(headers or {}), json=body)
    except httpx.TimeoutException:
        response = ConnectTimeout(f"timed out after {timeout_s:g} s trying to {what} at {where}")
    except httpx.HTTPError as exc:
        response = ConnectionFailed(f"could not {what} at {where}: {redact(str(exc))}")
    if isinstance(response, RTWSError):
        # Raised outside the ``except``: httpx's exception holds the request, and so
        # its headers (the key); chained as ``__context__`` it would stay reachable.
        raise response
    try:
        # Not ``response.json()``: its RecursionError on a deeply nested body is
        # no ValueError and would escape every handler up the stack.
        answer: Any = safejson.loads(response.content)
    except ValueError:
        answer = None
    status = response.status_code
    if status >= 300:
        error = error_fields(answer)
        message = (
            error.get("message")
            or error.get("code")
            or (response.text.strip()[:200] if answer is None else "")
        )
        problem = status_error(
            status,
            who=f"the server at {where}",
            detail=str(message or ""),
            retry_after=retry_after_seconds(response.headers.get("retry-after")),
            bad_credentials=auth_check(status, error) if auth_check is not None else False,
        )
        assert problem is not None
        raise problem
    return answer
