"""The API key and client secrets never show in logs (even websockets' DEBUG handshake log),
reprs, exceptions or events."""

from __future__ import annotations

import logging
import time

import httpx
import pytest
import respx
from rtws_openai.testing import FakeRealtimeServer, Reply, ScriptedBot

from providers.openai.tests.support import KEY, SPEECH_WAV, EventLog, transport
from rtws import AuthenticationError, FileMediaManager

WRONG = "sk-wrong-0000-secret-9999"
EPHEMERAL = "ek_secret_client_token_55555"
#: The fake server's own loggers print what it received, raw; they are not the provider's.
SERVER_SIDE = ("websockets.server", "rtws_openai.testing")


async def test_no_secret_in_logs_reprs_events_or_errors(
    openai_fake: FakeRealtimeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("websockets", "websockets.client", "rtws", "rtws.websockets", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    openai_fake.bot = ScriptedBot([Reply.say("Hi.")], transcripts=["hello"])
    texts: list[str] = []

    t = transport(openai_fake, FileMediaManager(SPEECH_WAV, realtime=False))
    log = EventLog(t)
    await t.connect()
    await log.wait("bot-stopped-speaking")
    texts += [repr(t), repr(t.options), str(t.options), t.options.model_dump_json()]
    await t.disconnect()

    bad = transport(openai_fake, api_key=WRONG)
    bad_log = EventLog(bad)
    with pytest.raises(AuthenticationError) as info:
        await bad.connect()
    texts += [str(info.value), repr(info.value), repr(bad)]
    await bad.disconnect()

    mint = openai_fake.base_url.replace("ws://", "http://") + "/realtime/client_secrets"
    openai_fake.allow_key(EPHEMERAL)
    body = {
        "value": EPHEMERAL,
        "expires_at": int(time.time()) + 60,
        "session": {"type": "realtime"},
    }
    with respx.mock() as router:
        router.post(mint).mock(return_value=httpx.Response(200, json=body))
        eph = transport(openai_fake, ephemeral={})
        eph_log = EventLog(eph)
        await eph.connect()
        await eph.disconnect()

    handshake_logged = [r for r in caplog.records if r.name.startswith("rtws.websockets")]
    assert any("GET /v1/realtime" in r.getMessage() for r in handshake_logged), (
        "the websockets DEBUG log was not captured: the check below would prove nothing"
    )
    texts += [e.to_json() for e in log.events + bad_log.events + eph_log.events]
    texts += [r.getMessage() for r in caplog.records if not r.name.startswith(SERVER_SIDE)]
    texts += [h.headers.get("authorization", "") for h in openai_fake.handshakes]
    for secret in (KEY, WRONG, EPHEMERAL):
        leaks = [text for text in texts if secret in text]
        assert not leaks, f"{secret[:6]}... leaked: {leaks[:3]}"
