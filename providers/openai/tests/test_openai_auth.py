"""Ephemeral client secrets (``POST /v1/realtime/client_secrets`` or your endpoint), via respx."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import respx
from openai.types.realtime import ClientSecretCreateResponse
from rtws_openai import EphemeralToken, OpenAIRealtimeOptions, fetch_client_secret
from rtws_openai.testing import FakeRealtimeServer

from providers.openai.tests.support import EventLog, extras, transport
from rtws import AuthenticationError, ConnectionFailed, ConnectTimeout, RateLimited, TransportState

KEY = "sk-test-secret-abcdef123456"
MINT_URL = "https://api.openai.com/v1/realtime/client_secrets"


def minted(value: str = "ek_test_1234567890", expires_in: int = 600) -> dict[str, object]:
    """A client-secret response shaped as the service sends it (checked against the SDK)."""
    body = {
        "value": value,
        "expires_at": int(time.time()) + expires_in,
        "session": {
            "type": "realtime",
            "object": "realtime.session",
            "id": "sess_123",
            "model": "gpt-realtime",
            "output_modalities": ["audio"],
            "audio": {"output": {"voice": "marin"}},
        },
    }
    assert not extras(ClientSecretCreateResponse.model_validate(body))
    return body


@respx.mock
async def test_mint_sends_the_key_and_the_session_and_returns_the_secret() -> None:
    route = respx.post(MINT_URL).mock(return_value=httpx.Response(200, json=minted()))
    options = OpenAIRealtimeOptions(
        api_key=KEY, instructions="Be brief.", ephemeral=EphemeralToken(expires_after_s=60)
    )
    secret = await fetch_client_secret(options)
    assert secret.value == "ek_test_1234567890" and secret.fresh()
    assert "ek_test" not in repr(secret)
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    body = json.loads(request.content)
    assert body["expires_after"] == {"anchor": "created_at", "seconds": 60}
    assert body["session"]["type"] == "realtime" and body["session"]["model"] == "gpt-realtime"
    assert body["session"]["instructions"] == "Be brief."


@respx.mock
async def test_azure_mints_with_its_api_key_header() -> None:
    url = "https://res.openai.azure.com/openai/v1/realtime/client_secrets"
    route = respx.post(url).mock(return_value=httpx.Response(200, json=minted()))
    options = OpenAIRealtimeOptions.azure(
        "https://res.openai.azure.com", "rt", api_key=KEY, ephemeral=EphemeralToken()
    )
    await fetch_client_secret(options)
    headers = route.calls.last.request.headers
    assert headers["api-key"] == KEY and "Authorization" not in headers


@respx.mock
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_token_from_your_own_endpoint(method: str) -> None:
    route = respx.route(method=method, url="https://app.test/token").mock(
        return_value=httpx.Response(200, json={"client_secret": {"value": "ek_from_backend_0001"}})
    )
    options = OpenAIRealtimeOptions(
        api_key=None,
        ephemeral=EphemeralToken(
            mode="endpoint",
            endpoint="https://app.test/token",  # type: ignore[arg-type]
            endpoint_method=method,  # type: ignore[arg-type]
            endpoint_headers={"Authorization": "Bearer app-session-42424242"},  # type: ignore[dict-item]
        ),
    )
    secret = await fetch_client_secret(options)
    assert secret.value == "ek_from_backend_0001" and secret.expires_at is None
    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer app-session-42424242"
    if method == "POST":
        assert json.loads(request.content)["model"] == "gpt-realtime"


@respx.mock
@pytest.mark.parametrize(
    ("response", "error", "retryable"),
    [
        pytest.param(
            httpx.Response(401, json={"error": {"message": "Incorrect API key provided"}}),
            AuthenticationError,
            False,
            id="401",
        ),
        pytest.param(
            httpx.Response(403, json={"error": {"message": "Project not allowed"}}),
            AuthenticationError,
            False,
            id="403",
        ),
        pytest.param(
            httpx.Response(429, headers={"retry-after": "3"}, json={"error": {"message": "slow"}}),
            RateLimited,
            True,
            id="429",
        ),
        pytest.param(httpx.Response(503, text="upstream down"), ConnectionFailed, True, id="503"),
        pytest.param(
            httpx.Response(400, json={"error": {"message": "Unknown parameter"}}),
            ConnectionFailed,
            False,
            id="400",
        ),
        pytest.param(httpx.Response(200, json={"nope": 1}), ConnectionFailed, False, id="no-value"),
        pytest.param(httpx.Response(200, text="<html>"), ConnectionFailed, False, id="not-json"),
    ],
)
async def test_mint_errors_map_to_rtws_errors(
    response: httpx.Response, error: type[ConnectionFailed], retryable: bool
) -> None:
    respx.post(MINT_URL).mock(return_value=response)
    options = OpenAIRealtimeOptions(api_key=KEY, ephemeral=EphemeralToken())
    with pytest.raises(error) as info:
        await fetch_client_secret(options)
    assert info.value.retryable is retryable
    assert KEY not in str(info.value)
    if isinstance(info.value, RateLimited):
        assert info.value.retry_after == 3.0
    if response.status_code in (401, 503):
        assert ("Incorrect API key" if response.status_code == 401 else "upstream") in str(
            info.value
        )


@respx.mock
@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectTimeout("timed out"), httpx.ReadTimeout("timed out")],
    ids=["connect", "read"],
)
async def test_mint_timeout(failure: httpx.TimeoutException) -> None:
    respx.post(MINT_URL).mock(side_effect=failure)
    options = OpenAIRealtimeOptions(api_key=KEY, ephemeral=EphemeralToken(timeout=0.5))
    with pytest.raises(ConnectTimeout, match=r"timed out after 0\.5 s"):
        await fetch_client_secret(options)


@respx.mock
async def test_unreachable_token_service() -> None:
    respx.post(MINT_URL).mock(side_effect=httpx.ConnectError("connection refused"))
    options = OpenAIRealtimeOptions(api_key=KEY, ephemeral=EphemeralToken())
    with pytest.raises(ConnectionFailed, match="connection refused") as info:
        await fetch_client_secret(options)
    assert info.value.retryable


async def test_mint_without_key_is_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    options = OpenAIRealtimeOptions(ephemeral=EphemeralToken())
    with pytest.raises(AuthenticationError, match="OPENAI_API_KEY"):
        await fetch_client_secret(options)


# ====================================================================== end to end
async def test_session_opens_with_a_minted_secret_and_reuses_it_to_reconnect(
    openai_fake: FakeRealtimeServer,
) -> None:
    mint = openai_fake.base_url.replace("ws://", "http://") + "/realtime/client_secrets"
    openai_fake.allow_key("ek_e2e_0123456789")
    with respx.mock(assert_all_called=True) as router:
        route = router.post(mint).mock(
            return_value=httpx.Response(200, json=minted("ek_e2e_0123456789"))
        )
        t = transport(openai_fake, api_key="sk-not-accepted-by-the-fake-00", ephemeral={})
        log = EventLog(t)
        await t.connect()
        try:
            await openai_fake.drop()
            await log.wait("reconnected")
        finally:
            await t.disconnect()
    assert route.call_count == 1  # the secret was still fresh: no second mint
    states = [d["state"] for d in log.data("transport-state-changed")]
    assert states[:3] == ["authenticating", "authenticated", "connecting"]
    assert [h.status for h in openai_fake.handshakes] == [101, 101]
    assert all(h.headers["authorization"].startswith("Bearer ek_") for h in openai_fake.handshakes)


async def test_a_refused_mint_fails_connect_before_any_socket(
    openai_fake: FakeRealtimeServer,
) -> None:
    mint = openai_fake.base_url.replace("ws://", "http://") + "/realtime/client_secrets"
    with respx.mock() as router:
        router.post(mint).mock(
            return_value=httpx.Response(
                401, json={"error": {"message": "Incorrect API key provided"}}
            )
        )
        t = transport(openai_fake, ephemeral={})
        with pytest.raises(AuthenticationError, match="refused the credentials"):
            await t.connect()
    assert t.state is TransportState.ERROR and not openai_fake.handshakes
    await t.disconnect()
