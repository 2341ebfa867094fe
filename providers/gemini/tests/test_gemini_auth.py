"""Ephemeral tokens: minted over HTTP (respx stands in for Google), then used on the fake."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from google.genai import types
from pydantic import SecretStr
from rtws_gemini import EphemeralToken, GeminiLiveOptions, GeminiLiveTransport
from rtws_gemini.auth import mint_token, token_request

from providers.gemini.tests.conftest import Events, FakeSession
from providers.gemini.tests.genai_check import check_client_frame
from rtws import FileMediaManager, rtvi
from rtws.errors import AuthenticationError, ConnectionFailed, ConnectTimeout, RateLimited

REST = "https://auth.example.test"
MINT = f"{REST}/v1alpha/auth_tokens"
KEY = "AIza-minting-key-0123456789"


def options(**kw: Any) -> GeminiLiveOptions:
    eph = EphemeralToken.model_validate({"rest_host": REST, **kw})
    return GeminiLiveOptions(api_key=SecretStr(KEY), ephemeral=eph, system_instruction="Be brief.")


def test_token_request_body_matches_the_sdks_auth_token_fields() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    body = token_request(options(uses=2, expire_after_s=600, lock_setup=True), now)
    assert body["uses"] == 2
    assert body["expireTime"] == "2026-01-02T03:14:05Z"
    assert body["newSessionExpireTime"] == "2026-01-02T03:05:05Z"
    locked = body["bidiGenerateContentSetup"]
    assert locked["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert "sessionResumption" not in locked  # handles belong to connections, not tokens
    check_client_frame(json.dumps({"setup": locked}))
    types.AuthToken.model_validate(
        {k: v for k, v in body.items() if k != "bidiGenerateContentSetup"}
    )
    assert "bidiGenerateContentSetup" not in token_request(options(), now)


@respx.mock
async def test_mint_returns_the_token_name_and_sends_the_key_in_a_header() -> None:
    route = respx.post(MINT).mock(
        return_value=httpx.Response(200, json={"name": "auth_tokens/abc123def456", "uses": 1})
    )
    assert await mint_token(options()) == "auth_tokens/abc123def456"
    request = route.calls.last.request
    assert request.headers["x-goog-api-key"] == KEY and "key=" not in str(request.url)
    assert json.loads(request.content)["uses"] == 1


@pytest.mark.parametrize(
    ("response", "error", "retryable"),
    [
        (
            httpx.Response(
                400,
                json={
                    "error": {
                        "code": 400,
                        "message": "API key not valid. Please pass a valid API key.",
                        "status": "INVALID_ARGUMENT",
                        "details": [
                            {
                                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                "reason": "API_KEY_INVALID",
                            }
                        ],
                    }
                },
            ),
            AuthenticationError,
            False,
        ),
        (
            httpx.Response(403, json={"error": {"message": "PERMISSION_DENIED"}}),
            AuthenticationError,
            False,
        ),
        (
            httpx.Response(429, headers={"retry-after": "7"}, json={"error": {"message": "quota"}}),
            RateLimited,
            True,
        ),
        (httpx.Response(400, json={"error": {"message": "bad uses"}}), ConnectionFailed, False),
        (httpx.Response(503, text="busy"), ConnectionFailed, True),
        (httpx.Response(200, json={"uses": 1}), ConnectionFailed, False),
    ],
)
@respx.mock
async def test_mint_failures_map_to_actionable_errors(
    response: httpx.Response, error: type[Exception], retryable: bool
) -> None:
    respx.post(MINT).mock(return_value=response)
    with pytest.raises(error) as info:
        await mint_token(options())
    assert getattr(info.value, "retryable", None) is retryable
    assert KEY not in str(info.value)
    if isinstance(info.value, RateLimited):
        assert info.value.retry_after == 7.0


@respx.mock
async def test_mint_timeout_is_a_connect_timeout() -> None:
    respx.post(MINT).mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(ConnectTimeout):
        await mint_token(options())


async def test_mint_without_a_key_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    eph = EphemeralToken(rest_host=REST)  # pyright: ignore[reportArgumentType]
    with pytest.raises(AuthenticationError, match="GEMINI_API_KEY"):
        await mint_token(GeminiLiveOptions(ephemeral=eph))


async def test_a_session_opened_with_a_minted_token_never_shows_the_key(fake: FakeSession) -> None:
    tokens = iter(["auth_tokens/first-token-0001", "auth_tokens/second-token-0002"])
    fake.server.add_token("auth_tokens/first-token-0001")
    fake.server.add_token("auth_tokens/second-token-0002")
    eph = EphemeralToken(rest_host=REST)  # pyright: ignore[reportArgumentType]
    opts = fake.options.model_copy(update={"api_key": SecretStr(KEY), "ephemeral": eph})
    transport = GeminiLiveTransport(opts, FileMediaManager(None, input_rate=16000, realtime=False))
    events = Events(transport)
    with respx.mock:
        respx.post(MINT).mock(
            side_effect=lambda request: httpx.Response(200, json={"name": next(tokens)})
        )
        async with transport:
            await transport.send_message(rtvi.SendText(data=rtvi.SendTextData(content="hi")))
            await events.wait_for("bot-output")
            await fake.server.drop()  # the reconnect mints a fresh token and resumes
            await events.wait_for("reconnected")
    first, second = fake.server.connections
    assert first.path.endswith("v1alpha.GenerativeService.BidiGenerateContentConstrained")
    assert first.query == {"access_token": "auth_tokens/first-token-0001"}
    assert second.query == {"access_token": "auth_tokens/second-token-0002"}
    assert second.resumed_from is not None
    assert "x-goog-api-key" not in first.headers and "key" not in first.query
    states = [e.data.state for e in events.of("transport-state-changed")]
    assert states[:3] == ["authenticating", "authenticated", "connecting"]
    dumped = " ".join(str(e.model_dump()) for e in events.all)
    assert KEY not in dumped and "first-token-0001" not in dumped
