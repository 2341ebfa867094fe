"""A hostile Gemini server cannot kill a session or crash a token mint (issue 16).

The fake plays the hostile server on 127.0.0.1: its socket sends frames no
honest server would (JSON nested thousands deep, odd-length audio), and a
local HTTP server answers the token mint with bodies no parser expected.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pydantic import SecretStr
from rtws_gemini import EphemeralToken, GeminiLiveOptions, GeminiLiveTransport
from rtws_gemini.auth import mint_token
from rtws_gemini.testing import FakeGeminiServer, running_fake

from providers.gemini.tests.conftest import Events
from rtws import AuthenticationError, ConnectionFailed, FileMediaManager, TransportState
from rtws.safejson import MAX_DEPTH
from tests.hostile import assert_mint_fails_cleanly, deep_array, deep_object, hostile_http
from tests.resources import ResourceSnapshot, assert_released

S = TransportState


def silent_media() -> FileMediaManager:
    return FileMediaManager(None, input_rate=16000, realtime=True)


async def send_raw(server: FakeGeminiServer, frame: str | bytes) -> None:
    """A frame as is on the newest connection (the fake's own ``push`` only sends valid JSON)."""
    await server._newest().ws.send(frame)  # pyright: ignore[reportPrivateUsage]


def usage_arrived(events: Events, total: int) -> bool:
    return any(
        m.data.tokens and m.data.tokens[0].value["total_tokens"] == total
        for m in events.of("metrics")
    )


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(deep_array().encode(), id="array-5000-deep"),
        pytest.param(deep_object(5000).encode(), id="object-5000-deep"),
        pytest.param(deep_object(MAX_DEPTH + 1).encode(), id="object-just-too-deep"),
    ],
)
async def test_a_deeply_nested_frame_is_an_error_event_and_the_session_goes_on(
    frame: bytes,
) -> None:
    async with running_fake(playback_wait=0.0) as (server, options):
        before = ResourceSnapshot.take()
        t = GeminiLiveTransport(options, silent_media())
        events = Events(t)
        await t.connect()
        sent = t.stats.chunks_sent
        await send_raw(server, frame)
        await events.wait_for("error")
        (error,) = events.of("error")
        assert not error.data.fatal and "nested deeper than" in error.data.error
        assert t.stats.malformed_messages == 1 and t.state is S.READY
        await server.push({"usageMetadata": {"totalTokenCount": 4242}})
        await events.until(lambda: usage_arrived(events, 4242))  # the receive loop is alive
        await events.until(lambda: t.stats.chunks_sent > sent + 3)  # so is the mic
        assert t.stats.chunks_dropped_not_ready == 0
        await server.close(1011, "restarting")  # and a close afterwards is noticed
        await events.wait_for("reconnected")
        await t.disconnect()
        await assert_released(before)


async def test_odd_length_audio_is_refused_with_the_words_openai_uses() -> None:
    async with running_fake(playback_wait=0.0) as (server, options):
        t = GeminiLiveTransport(options, silent_media())
        events = Events(t)
        async with t:
            odd = base64.b64encode(b"\x01\x02\x03").decode()
            part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": odd}}
            await server.push({"serverContent": {"modelTurn": {"parts": [part]}}})
            await events.wait_for("error")
            (error,) = events.of("error")
            assert "Gemini sent audio that is not whole PCM16 samples" in error.data.error
            assert "buffer size" not in error.data.error and not error.data.fatal
            assert not events.of("bot-started-speaking") and t.state is S.READY


# ---------------------------------------------------------------- the token mint
def minting_options(rest_host: str) -> GeminiLiveOptions:
    return GeminiLiveOptions(
        api_key=SecretStr("AIza-hostile-mint-0000"),
        ephemeral=EphemeralToken.model_validate({"rest_host": rest_host, "timeout": 3.0}),
    )


BODIES: list[Any] = [
    pytest.param(deep_array().encode(), id="deep-array"),
    pytest.param(b'{"name": ' + deep_object(5000).encode() + b"}", id="deep-name"),
    pytest.param(b'{"error": {"details": [{"reason": ["unhashable"]}]}}', id="odd-types"),
]


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize(
    ("status", "error"),
    [(200, ConnectionFailed), (400, ConnectionFailed), (401, AuthenticationError)],
)
async def test_a_token_answer_no_parser_expected_is_a_clear_error(
    body: bytes, status: int, error: type[Exception]
) -> None:
    async def mint(url: str) -> object:
        return await mint_token(minting_options(url))

    await assert_mint_fails_cleanly(mint, status, body, error, match="auth_tokens")


async def test_a_connect_whose_token_mint_meets_a_hostile_answer_fails_cleanly() -> None:
    async with hostile_http(200, deep_array().encode()) as server:
        options = minting_options(server.url).model_copy(update={"connect_timeout": 3.0})
        t = GeminiLiveTransport(options, silent_media())
        events = Events(t)
        with pytest.raises(ConnectionFailed, match="without a token"):
            await t.connect()
        assert t.state is S.ERROR and events.of("error")[-1].data.fatal
        await t.disconnect()


# ---------------------------------------------------------------- the key in cleartext
@pytest.mark.parametrize("host", ["ws://10.0.0.2", "ws://generativelanguage.example.com"])
def test_a_cleartext_host_off_this_machine_is_refused_with_the_reason(host: str) -> None:
    secret = "AIza-cleartext-never-shown-0123"
    with pytest.raises(ValueError, match="unencrypted to a host that is not this machine") as info:
        GeminiLiveOptions(api_key=SecretStr(secret), host=host)
    assert "allow_cleartext=True" in str(info.value) and secret[:10] not in str(info.value)
    GeminiLiveOptions(api_key=SecretStr(secret), host=host, allow_cleartext=True)


@pytest.mark.parametrize("host", ["ws://127.0.0.1:9", "ws://localhost:9", "ws://[::1]:9"])
def test_cleartext_to_this_machine_is_fine(host: str) -> None:
    GeminiLiveOptions(api_key=SecretStr("k"), host=host)


def test_a_cleartext_token_host_off_this_machine_is_refused() -> None:
    with pytest.raises(ValueError, match=r"ephemeral\.rest_host http://auth\.example\.com"):
        minting_options("http://auth.example.com")
    GeminiLiveOptions(
        api_key=SecretStr("k"),
        ephemeral=EphemeralToken.model_validate({"rest_host": "http://auth.example.com"}),
        allow_cleartext=True,
    )
