"""``FakeRealtimeServer``: the OpenAI Realtime GA websocket endpoint on 127.0.0.1.

The handshake is checked as the service checks it (``Authorization: Bearer``
or Azure's ``api-key`` header, a ``model``/``deployment`` query, no beta
header) and refused with OpenAI's JSON error bodies; knobs make it refuse
with any status, stall, or never answer. After the handshake each connection
speaks the protocol (:mod:`.connection`) and is recorded for tests.

    async with FakeRealtimeServer(bot=ScriptedBot([Reply.say("Hi!")])) as server:
        url = server.url  # ws://127.0.0.1:PORT/v1/realtime
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from rtws.testing.fakeserver import FakeServer, Rejection, authorization, json_response, phrase
from rtws.testing.records import Handshake, mask_secret, masked_headers
from rtws.websocket import StreamingServerConnection

from . import events
from .bots import Bot, ScriptedBot
from .connection import FakeConnection
from .pacing import Streaming
from .records import ConnectionRecord, Truncation
from .wild import Wild

__all__ = ["DEFAULT_API_KEY", "FakeRealtimeServer", "Handshake", "mask_secret", "masked_headers"]

Json = dict[str, Any]
T = TypeVar("T")

DEFAULT_API_KEY = "sk-fake-rtws-0123456789abcdef"


def _error_body(message: str, type: str, code: str | None, param: str | None = None) -> str:
    error = {"message": message, "type": type, "param": param, "code": code}
    return json.dumps({"error": error}, indent=2) + "\n"


class FakeRealtimeServer(FakeServer[ConnectionRecord, FakeConnection]):
    """A local OpenAI Realtime (GA) server. ``api_key=None`` accepts any (or no) key.

    ``wild`` makes it behave as the service does in the wild (:mod:`.wild`):
    ``True`` takes the seed from ``RTWS_WILD_SEED`` (or a random one), an int is
    the seed, ``None`` keeps the tidy order demos use.
    """

    def __init__(
        self,
        api_key: str | None = DEFAULT_API_KEY,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot: Bot | None = None,
        pace: float = 0.0,
        piece_ms: int = 40,
        latency: float = 0.0,
        wild: Wild | int | bool | None = None,
        session_lifetime_s: float = 3600.0,
    ) -> None:
        super().__init__(
            host=host,
            port=port,
            max_size=16 * 2**20,
            open_timeout=None,
            ping_interval=None,
            # A fleet of sessions is 85 frames a second each: the fake reads and
            # writes them without websockets' generic per-message paths, as rtws does.
            create_connection=StreamingServerConnection,
        )
        self.bot: Bot = bot if bot is not None else ScriptedBot()
        self.streaming = Streaming(
            pace=pace, piece_ms=piece_ms, latency=latency, wild=Wild.coerce(wild)
        )
        #: A session's limit (the service's is 60 minutes): then ``session_expired``, close 1001.
        self.session_lifetime_s = session_lifetime_s
        self._keys: set[str] = set() if api_key is None else {api_key}
        self._check_keys = api_key is not None
        self.silent = False  # accept the websocket, never say anything

    @property
    def base_url(self) -> str:
        """For ``AsyncOpenAI(websocket_base_url=...)``."""
        return f"{self.origin}/v1"

    @property
    def http_base_url(self) -> str:
        """The same endpoint as a REST-style base (clients that derive ws:// from https://)."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def url(self) -> str:
        return f"{self.base_url}/realtime"

    # ================================================================ knobs
    def reject(
        self,
        status: int,
        *,
        retry_after: float | str | None = None,
        times: int | None = None,
        message: str | None = None,
    ) -> None:
        """Refuse the next ``times`` handshakes (all, until :meth:`accept`, when None)."""
        retry = None if retry_after is None else str(retry_after)
        self._rejection = Rejection(status, times, retry, message)

    def allow_key(self, key: str) -> None:
        """Also accept ``key`` (e.g. an ``ek_...`` client secret a test minted)."""
        self._keys.add(key)

    @property
    def wild(self) -> Wild | None:
        return self.streaming.wild

    @property
    def pace(self) -> float:
        return self.streaming.pace

    @pace.setter
    def pace(self, value: float) -> None:
        self.streaming.pace = value

    # ================================================================ actions
    async def send_event(self, event: Json, connection: int | None = None) -> Json:
        """Send any event as is (an ``event_id`` is added when missing); returns what was sent."""
        event = {**event}
        event.setdefault("event_id", events.new_id("event"))
        await self._pick(connection).send(event)
        return event

    async def rate_limit_error(self, connection: int | None = None) -> Json:
        """``rate_limit_exceeded`` as the service sends it: no client ``event_id`` in it."""
        return await self.send_event(
            events.error(
                "Rate limit reached for gpt-realtime in organization org-fake on tokens per min "
                "(TPM): Limit 40000, Used 40000, Requested 900. Please try again in 1.35s.",
                type="tokens",
                code="rate_limit_exceeded",
            ),
            connection,
        )

    # ================================================================ records
    @property
    def received(self) -> list[Json]:
        return [e for c in self.connections for e in c.received]

    @property
    def sent(self) -> list[Json]:
        return [e for c in self.connections for e in c.sent]

    @property
    def audio_in(self) -> bytes:
        return b"".join(bytes(c.audio_in) for c in self.connections)

    @property
    def truncations(self) -> list[Truncation]:
        return [t for c in self.connections for t in c.truncations]

    async def wait_until(
        self, probe: Callable[[], T | None], timeout_s: float = 5.0, what: str = "match"
    ) -> T:
        """The first truthy ``probe()``, re-checked whenever anything is recorded."""
        return await self.signal.wait_until(probe, timeout_s, what)

    async def wait_received(self, type: str, count: int = 1, timeout_s: float = 5.0) -> Json:
        """The ``count``-th client event of ``type`` (waiting for it)."""
        return await self.wait_until(
            lambda: _nth([e for e in self.received if e.get("type") == type], count),
            timeout_s,
            f"client event {type!r} #{count}",
        )

    async def wait_sent(self, type: str, count: int = 1, timeout_s: float = 5.0) -> Json:
        """The ``count``-th server event of ``type`` (waiting for it)."""
        return await self.wait_until(
            lambda: _nth([e for e in self.sent if e.get("type") == type], count),
            timeout_s,
            f"server event {type!r} #{count}",
        )

    async def wait_connection(self, count: int = 1, timeout_s: float = 5.0) -> ConnectionRecord:
        return await self.wait_until(
            lambda: _nth(self.connections, count), timeout_s, f"connection #{count}"
        )

    async def wait_closed(self, connection: int = -1, timeout_s: float = 5.0) -> ConnectionRecord:
        def probe() -> ConnectionRecord | None:
            if not self.connections:
                return None
            record = self.connections[connection]
            return record if record.closed else None

        return await self.wait_until(probe, timeout_s, "closed connection")

    # ================================================================ handshake
    def check_request(self, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        if not parts.path.rstrip("/").endswith("/realtime"):
            body = _error_body(f"Invalid URL (GET {parts.path})", "invalid_request_error", None)
            return json_response(404, body)
        key = _credential(request.headers)
        if self._check_keys and key is None:
            return json_response(
                401,
                _error_body(
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                    "invalid_request_error",
                    None,
                ),
            )
        if self._check_keys and key not in self._keys:
            return json_response(
                401,
                _error_body(
                    f"Incorrect API key provided: {mask_secret(key or '')}. You can find your "
                    "API key at https://platform.openai.com/account/api-keys.",
                    "invalid_request_error",
                    "invalid_api_key",
                ),
            )
        if request.headers.get("openai-beta", "").startswith("realtime"):
            return json_response(
                400,
                _error_body(
                    "The Realtime API beta shape is disabled: remove the 'OpenAI-Beta: "
                    "realtime=v1' header and use the GA interface.",
                    "invalid_request_error",
                    "beta_api_shape_disabled",
                ),
            )
        if _model(request.path) is None:
            return json_response(
                400,
                _error_body(
                    "Missing required parameter: 'model'.",
                    "invalid_request_error",
                    "missing_required_parameter",
                    "model",
                ),
            )
        return None

    def refusal(self, status: int, message: str | None = None) -> Response:
        if status == 429:
            body = _error_body(
                message
                or "Rate limit reached for requests per min (RPM): Limit 100, Used 100, "
                "Requested 1. Please try again in 600ms.",
                "requests",
                "rate_limit_exceeded",
            )
        elif status >= 500:
            body = _error_body(
                message
                or "The server had an error while processing your request. Sorry about that!",
                "server_error",
                None,
            )
        else:
            body = _error_body(message or phrase(status), "invalid_request_error", None)
        return json_response(status, body)

    def open_connection(
        self, ws: ServerConnection, index: int
    ) -> tuple[ConnectionRecord, FakeConnection]:
        request = ws.request
        assert request is not None
        record = ConnectionRecord(
            index=index,
            path=request.path,
            model=_model(request.path) or "",
            headers=masked_headers(request.headers),
        )
        connection = FakeConnection(
            cast(StreamingServerConnection, ws),
            record,
            self.bot,
            self.streaming,
            self.notify,
            silent=self.silent,
            lifetime_s=self.session_lifetime_s,
        )
        return record, connection


def _nth(items: list[T], count: int) -> T | None:
    return items[count - 1] if len(items) >= count else None


def _credential(headers: Headers) -> str | None:
    key = authorization(headers, "bearer")
    return key if key is not None else headers.get("api-key")


def _model(path: str) -> str | None:
    query = parse_qs(urlsplit(path).query)
    for name in ("model", "deployment"):
        if query.get(name):
            return query[name][0]
    return None
