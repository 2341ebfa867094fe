"""REST calls map failures to the same errors (and retry rules) as a websocket handshake."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from rtws import AuthenticationError, ConnectionFailed, ConnectTimeout, RateLimited
from rtws.http import request_json, status_error

URL = "https://tokens.example.test/v1/mint?key=AIzaSECRET-0123456789"


async def mint(**kw: Any) -> Any:
    return await request_json("POST", URL, what="mint a token", timeout_s=0.5, body={"n": 1}, **kw)


@respx.mock
async def test_success_returns_the_json_answer() -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, json={"value": "ek_1"}))
    assert await mint() == {"value": "ek_1"}
    assert route.calls.last.request.content == b'{"n":1}'


@pytest.mark.parametrize(
    ("status", "headers", "error", "retryable"),
    [
        (401, {}, AuthenticationError, False),
        (403, {}, AuthenticationError, False),
        (429, {"retry-after": "12"}, RateLimited, True),
        (400, {}, ConnectionFailed, False),
        (404, {}, ConnectionFailed, False),
        (500, {}, ConnectionFailed, True),
        (503, {}, ConnectionFailed, True),
    ],
)
@respx.mock
async def test_statuses(
    status: int, headers: dict[str, str], error: type[Exception], retryable: bool
) -> None:
    body = {"error": {"message": "nope", "code": "x"}}
    respx.post(URL).mock(return_value=httpx.Response(status, json=body, headers=headers))
    with pytest.raises(error) as info:
        await mint()
    exc = info.value
    assert type(exc) is error
    assert f"HTTP {status}" in str(exc) and "nope" in str(exc)
    assert exc.retryable is retryable  # type: ignore[attr-defined]
    assert "AIzaSECRET" not in str(exc)
    if isinstance(exc, RateLimited):
        assert exc.retry_after == 12.0 and "retry after 12 s" in str(exc)


@respx.mock
async def test_provider_can_say_a_400_means_a_bad_key() -> None:
    body = {"error": {"message": "API key not valid.", "details": [{"reason": "API_KEY_INVALID"}]}}
    respx.post(URL).mock(return_value=httpx.Response(400, json=body))
    with pytest.raises(AuthenticationError, match="API key not valid"):
        await mint(auth_check=lambda status, error: "API key" in str(error.get("message")))


@respx.mock
async def test_plain_text_errors_and_timeouts_and_unreachable_hosts() -> None:
    respx.post(URL).mock(return_value=httpx.Response(502, text="Bad Gateway from the proxy"))
    with pytest.raises(ConnectionFailed, match="Bad Gateway from the proxy"):
        await mint()
    respx.post(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(ConnectTimeout, match=r"timed out after 0\.5 s trying to mint a token"):
        await mint()
    respx.post(URL).mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(ConnectionFailed, match="connection refused") as info:
        await mint()
    assert "AIzaSECRET" not in str(info.value)


def test_success_statuses_are_not_errors() -> None:
    assert status_error(200, who="x") is None
    assert status_error(204, who="x") is None
