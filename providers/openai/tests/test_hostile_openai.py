"""A hostile OpenAI server cannot kill a session or crash a client-secret mint (issue 16).

The fake plays the hostile server on 127.0.0.1: its socket sends frames no
honest server would (JSON nested thousands deep, function arguments nested
so), and a local HTTP server answers the client-secret mint with bodies no
parser expected.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from rtws_openai import OpenAIRealtimeOptions, OpenAIRealtimeTransport, fetch_client_secret
from rtws_openai.testing import FakeRealtimeServer

from providers.openai.tests.support import KEY, EventLog, options
from rtws import AuthenticationError, ConnectionFailed, FileMediaManager, TransportState
from rtws.safejson import MAX_DEPTH
from tests.hostile import assert_mint_fails_cleanly, deep_array, deep_object, hostile_http
from tests.resources import ResourceSnapshot, assert_released

S = TransportState


async def send_raw(server: FakeRealtimeServer, frame: str) -> None:
    """A frame as is on the newest connection (``send_event`` only sends valid events)."""
    live = server._live  # pyright: ignore[reportPrivateUsage]
    await live[max(live)].send({"type": "raw"}, text=frame)


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(deep_array(), id="array-5000-deep"),
        pytest.param(deep_object(5000), id="object-5000-deep"),
        pytest.param(deep_object(MAX_DEPTH + 1), id="object-just-too-deep"),
    ],
)
async def test_a_deeply_nested_frame_is_an_error_event_and_the_session_goes_on(
    openai_fake: FakeRealtimeServer, frame: str
) -> None:
    before = ResourceSnapshot.take()
    t = OpenAIRealtimeTransport(options(openai_fake), FileMediaManager(realtime=True))
    log = EventLog(t)
    await t.connect()
    sent = t.stats.chunks_sent
    await send_raw(openai_fake, frame)
    error = await log.wait("error")
    assert "nested deeper than" in error.to_dict()["data"]["error"]
    assert t.stats.malformed_messages == 1 and t.state is S.READY
    await t.send_text("still there?")  # the receive loop is alive: the reply arrives
    await log.wait("bot-llm-stopped")
    await openai_fake.wait_until(lambda: t.stats.chunks_sent > sent + 3 or None)  # the mic too
    assert t.stats.chunks_dropped_not_ready == 0
    await openai_fake.close(1011, "restarting")  # and a close afterwards is noticed
    await log.wait("reconnected")
    await t.disconnect()
    await assert_released(before)
    assert not any(e["fatal"] for e in log.data("error"))


async def test_function_arguments_nested_too_deep_are_refused_not_a_crash(
    openai_fake: FakeRealtimeServer,
) -> None:
    t = OpenAIRealtimeTransport(options(openai_fake), FileMediaManager(realtime=True))
    log = EventLog(t)
    async with t:
        done = {
            "type": "response.function_call_arguments.done",
            "response_id": "resp_1",
            "item_id": "item_1",
            "output_index": 0,
            "call_id": "call_1",
            "name": "lookup",
            "arguments": deep_array(),
        }
        await openai_fake.send_event(done)
        await log.wait("llm-function-call-in-progress")
        assert t.state is S.READY
        assert not [e for e in log.data("error") if "RecursionError" in e["error"]]


# ---------------------------------------------------------------- the client-secret mint
def minting(base_url: str) -> OpenAIRealtimeOptions:
    return OpenAIRealtimeOptions.model_validate(
        {"api_key": KEY, "base_url": base_url, "ephemeral": {"timeout": 3.0}}
    )


BODIES: list[Any] = [
    pytest.param(deep_array().encode(), id="deep-array"),
    pytest.param(b'{"value": ' + deep_object(5000).encode() + b"}", id="deep-value"),
    pytest.param(json.dumps({"value": ["ek"], "expires_at": "soon"}).encode(), id="odd-types"),
]


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize(
    ("status", "error"),
    [(200, ConnectionFailed), (401, AuthenticationError), (500, ConnectionFailed)],
)
async def test_a_mint_answer_no_parser_expected_is_a_clear_error(
    body: bytes, status: int, error: type[Exception]
) -> None:
    async def mint(url: str) -> object:
        return await fetch_client_secret(minting(f"{url}/v1"))

    await assert_mint_fails_cleanly(mint, status, body, error, match="client_secrets")


async def test_a_connect_whose_mint_meets_a_hostile_answer_fails_cleanly() -> None:
    async with hostile_http(200, deep_array().encode()) as server:
        t = OpenAIRealtimeTransport(minting(f"{server.url}/v1"), FileMediaManager(realtime=True))
        log = EventLog(t)
        with pytest.raises(ConnectionFailed, match="without a client secret"):
            await t.connect()
        assert t.state is S.ERROR and log.data("error")[-1]["fatal"]
        await t.disconnect()


# ---------------------------------------------------------------- the key in cleartext
CLEARTEXT_REFUSED = [
    "http://10.0.0.2/v1",
    "ws://api.example.com/v1",
    "http://127.0.0.1.evil.example/v1",
]
LOOPBACK = [
    "http://127.0.0.1:9/v1",
    "ws://localhost:9/v1",
    "http://[::1]:9/v1",
    "ws://a.localhost/v1",
]


@pytest.mark.parametrize("url", CLEARTEXT_REFUSED)
def test_a_cleartext_url_off_this_machine_is_refused_with_the_reason(url: str) -> None:
    secret = "sk-cleartext-never-shown-0123456789"
    with pytest.raises(ValueError, match="unencrypted to a host that is not this machine") as info:
        OpenAIRealtimeOptions(api_key=secret, base_url=url)
    assert "allow_cleartext=True" in str(info.value) and secret[:12] not in str(info.value)
    opted_in = OpenAIRealtimeOptions(api_key=secret, base_url=url, allow_cleartext=True)
    assert opted_in.realtime_url().startswith("ws://")


@pytest.mark.parametrize("url", LOOPBACK)
def test_cleartext_to_this_machine_is_fine(url: str) -> None:
    OpenAIRealtimeOptions(api_key="sk-x", base_url=url)


def test_a_cleartext_token_endpoint_off_this_machine_is_refused() -> None:
    ephemeral = {
        "mode": "endpoint",
        "endpoint": "http://tokens.example.com/mint",
        "endpoint_headers": {"Authorization": "Bearer app-session-secret-42"},
    }
    with pytest.raises(
        ValueError, match=r"ephemeral\.endpoint http://tokens\.example\.com"
    ) as info:
        OpenAIRealtimeOptions(api_key="sk-x", ephemeral=ephemeral)  # pyright: ignore[reportArgumentType]
    assert "app-session-secret" not in str(info.value)


async def test_the_refusal_happens_before_any_byte_leaves(openai_fake: FakeRealtimeServer) -> None:
    """Assigning a cleartext URL to live options is refused too (validate_assignment)."""
    opts = options(openai_fake)
    with pytest.raises(ValueError, match="unencrypted"):
        opts.base_url = "http://192.0.2.7/v1"
    assert opts.base_url == openai_fake.base_url


async def test_a_failed_mint_does_not_chain_the_request_that_carried_the_key() -> None:
    """httpx's exception holds the request, headers and all: it must not ride along."""
    from tests.hostile import reachable_strings

    async with hostile_http() as server:
        url = server.url  # a port that was listening a moment ago, closed now
    with pytest.raises(ConnectionFailed, match="could not fetch an ephemeral token") as info:
        await fetch_client_secret(minting(f"{url}/v1"))
    assert info.value.__context__ is None and info.value.__cause__ is None
    assert not [s for s in reachable_strings(info.value) if KEY in s]


@pytest.mark.parametrize(
    "value", ["ek_x\r\nX-Injected: 1", "ek with spaces", "ek_\x1b[2J", "ek_é", "e" * 10_000]
)
async def test_a_minted_secret_that_is_not_a_token_is_refused_before_any_handshake(
    value: str,
) -> None:
    async with hostile_http(200, json.dumps({"value": value}).encode()) as server:
        with pytest.raises(ConnectionFailed, match="not a token") as info:
            await fetch_client_secret(minting(f"{server.url}/v1"))
    assert value not in str(info.value) and not info.value.retryable
