"""A known fake key must never show up anywhere a user or a log collector could see it.

One session runs through everything that might print a key: DEBUG logs of
every logger (websockets' handshake headers included), a server that echoes
the key back in errors, a refused handshake, a reconnect, a key passed as
``?key=`` in the URL, handler failures with tracebacks, and recordings. Then
every captured byte is scanned: log records and their formatted text,
stdout/stderr, reprs and strs, exceptions with their tracebacks, every
event's wire JSON, and the WAV files written.
"""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path

import numpy as np
import pytest
from websockets.asyncio.server import Request, Response, ServerConnection
from websockets.datastructures import Headers

from rtws import FileMediaManager, ReconnectPolicy, RTWSError, TransportState
from rtws.cli.media import file_media
from rtws.cli.record import StereoRecorder
from rtws.redact import MASK, redact
from rtws.testing import EventLog, wait_for
from tests.echo_provider import EchoOptions, EchoServer, EchoTransport

KEY = "sk-test-SECRET-1234567890"
FAST = ReconnectPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.02, jitter=0.0)
LOGGERS = ("", "rtws", "rtws.websockets", "websockets", "websockets.client", "websockets.server")


class LeakyServer(EchoServer):
    """An echo server that quotes the credentials it was given back in its errors."""

    def __init__(self) -> None:
        super().__init__(api_key=KEY)
        self.refuse = False

    async def _check_request(self, conn: ServerConnection, request: Request) -> Response | None:
        if self.refuse:
            auth = request.headers.get("Authorization", "")
            body = json.dumps({"error": {"message": f"Incorrect API key provided: {auth}"}})
            return Response(
                401, "Unauthorized", Headers({"Content-Type": "application/json"}), body.encode()
            )
        return await super()._check_request(conn, request)


def scan(where: str, text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    assert KEY.encode() not in data, f"the key leaked in {where}"


@pytest.fixture
def debug_everything(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


async def test_a_whole_session_never_shows_the_key(
    debug_everything: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    caplog = debug_everything
    async with LeakyServer() as server:
        recorder = StereoRecorder(tmp_path / "both.wav")
        media = file_media(None, tmp_path / "bot.wav", realtime=True, recorder=recorder)
        url = f"{server.url}?key={KEY}&model=echo"  # the key in the URL too, as Gemini does
        options = EchoOptions(url=url, api_key=KEY, reconnect=FAST, connect_timeout=3.0)
        t = EchoTransport(options, media)
        log = EventLog(t)
        failures: list[BaseException] = []

        await t.connect()
        assert t.state is TransportState.READY
        assert "Authorization: Bearer ***" in caplog.text  # the header log exists, masked
        # A server error that quotes the key; a message no handler can digest.
        await server.send({"type": "error", "message": f"quota exceeded for key {KEY}"})
        await server.send({"type": "transcript", "role": "user", "text": {"key": KEY}})
        pcm = (np.sin(np.arange(4800) / 3) * 5000).astype(np.int16)
        await server.send_audio(pcm, "reply")
        await wait_for(lambda: t.stats.malformed_messages == 1, 2.0, "the bad transcript")
        await wait_for(lambda: log.of_type("bot-started-speaking"), 2.0, "the reply")
        # A reconnect (the close reason quotes the key), refused with the key in the body.
        server.refuse = True
        await server.close_all(1011, f"internal error for {KEY}")
        await wait_for(lambda: t.state is TransportState.ERROR, 3.0, "the refused reconnect")
        await t.disconnect()
        recorder.close()

        # A first connect refused the same way: the exception a user sees.
        t2 = EchoTransport(options, FileMediaManager(realtime=False))
        try:
            await t2.connect()
        except RTWSError as exc:
            failures.append(exc)
        await t2.disconnect()

    assert failures and MASK in str(failures[0]) and "Incorrect API key" in str(failures[0])
    for exc in failures:
        scan("an exception", str(exc) + repr(exc) + "".join(traceback.format_exception(exc)))
    for record in caplog.records:
        scan(f"log record {record.name}", record.getMessage() + (record.exc_text or ""))
    scan("the formatted log", caplog.text)
    captured = capsys.readouterr()
    scan("stdout", captured.out)
    scan("stderr", captured.err)
    for event in log.events:
        scan(f"a {event.type} event", event.to_json() + repr(event) + str(event))
    assert any(KEY not in e.to_json() and MASK in e.to_json() for e in log.of_type("error"))
    for thing in (t, t2, options, media, t.stats, t.options.reconnect):
        scan(f"repr of {type(thing).__name__}", repr(thing) + str(thing))
    plain = EchoOptions(url="ws://127.0.0.1:1/echo", api_key=KEY)  # the key only as a SecretStr
    scan("options dump", str(plain.model_dump()) + plain.model_dump_json() + repr(plain))
    scan_recordings(tmp_path)


def scan_recordings(folder: Path) -> None:
    """WAV headers carry no metadata today; this keeps it so if someone adds some."""
    wavs = sorted(folder.glob("*.wav"))
    assert len(wavs) == 2 and all(w.stat().st_size > 44 for w in wavs)  # both were written
    for wav in wavs:
        scan(f"recording {wav.name}", wav.read_bytes())


def test_keys_in_urls_and_headers_are_masked_in_any_text() -> None:
    token = "auth_tokens/AbCdEf0123456789"  # an ephemeral token never registered anywhere
    samples = [
        f"wss://generativelanguage.googleapis.com/ws/x?key={KEY}",
        f"wss://h/x?alt=json&access_token={token}#frag",
        f"> GET /v1/realtime?model=m&api_key={KEY} HTTP/1.1",
        f"> Authorization: Bearer {token}",
        f"x-goog-api-key: {token}",
        f"{{'api-key': '{token}'}}",
    ]
    for text in samples:
        clean = redact(text)
        assert token not in clean and KEY not in clean and MASK in clean, clean


async def test_handshake_failure_with_the_key_in_the_url_is_masked() -> None:
    async with EchoServer() as server:
        server.reject_status = 500
        options = EchoOptions(url=f"{server.url}?key=AIzaSyUNREGISTERED-0000", connect_timeout=2.0)
        t = EchoTransport(options, FileMediaManager(realtime=False))
        with pytest.raises(RTWSError) as info:
            await t.connect()
        await t.disconnect()
    text = str(info.value) + "".join(traceback.format_exception(info.value))
    assert "AIzaSyUNREGISTERED" not in text and "key=***" in text


def test_options_register_their_secrets_with_the_redactor() -> None:
    """A provider that forgets ``register_secret`` still cannot leak its options' key."""
    key = "sk-proj-registered-by-options-42"
    EchoOptions(url="ws://127.0.0.1:1/x", api_key=key)
    assert redact(f"server said: bad key {key}") == f"server said: bad key {MASK}"
