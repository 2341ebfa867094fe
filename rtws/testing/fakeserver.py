"""The shell every provider's fake server stands on: serving, refusing, recording, waiting.

The fakes of OpenAI Realtime, Gemini Live and Deepgram Voice Agent differ in
their protocols (what a handshake must carry, what each message means, what
the bot says) and in nothing else a test touches. Each serves websockets on
127.0.0.1 (port 0: a free one), can be told to refuse, stall or hang the
next handshakes, records every handshake and connection with the secrets in
its headers masked, counts its live connections, lets a test wait until
something was recorded, and acts on the newest connection (push a message,
drop it, close it). :class:`FakeServer` holds that shell once, and
:class:`~.served.ServedConnection` the part of it each accepted socket
carries; :mod:`.records` what both record.

Why base classes and not helpers the fakes hold: what the shell gives is
the fakes' public face (``server.port``, ``server.latest``,
``server.reject(...)``, ``server.drop()``). Held as a helper, each fake would
forward a dozen members to it, the very copy this module removes. A fake
adds its protocol and nothing else: :meth:`FakeServer.check_request` (its
handshake rules), :meth:`FakeServer.refusal` (its HTTP error body) and
:meth:`FakeServer.open_connection` (its protocol for one socket).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import http
from collections.abc import Callable
from dataclasses import dataclass
from ssl import SSLContext
from typing import Any, Generic, Protocol, Self, TypeVar

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from .records import ConnectionRecord, Handshake, masked_headers

__all__ = [
    "FakeServer",
    "LiveConnection",
    "Rejection",
    "Signal",
    "authorization",
    "json_response",
    "phrase",
]

T = TypeVar("T")
R = TypeVar("R", bound=ConnectionRecord)


class Signal:
    """Wakes whoever waits on a fake whenever the fake recorded something.

    A probe may also look at state the fake does not record (the client's
    own), so it is re-checked at least every ``poll_s`` seconds too.
    """

    def __init__(self, poll_s: float = 0.05) -> None:
        self.poll_s = poll_s
        self._waiters: set[asyncio.Future[None]] = set()

    def fire(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait_until(
        self, probe: Callable[[], T | None], within: float, what: str = "match"
    ) -> T:
        """The first truthy ``probe()``; TimeoutError naming ``what`` after ``within`` s."""
        try:
            async with asyncio.timeout(within):
                while not (found := probe()):
                    waiter = asyncio.get_running_loop().create_future()
                    self._waiters.add(waiter)
                    try:
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(self.poll_s):
                                await waiter
                    finally:
                        self._waiters.discard(waiter)
                return found
        except TimeoutError:
            raise TimeoutError(f"fake server: no {what} within {within} s") from None


@dataclass
class Rejection:
    """What :meth:`FakeServer.reject` asked for: refuse the next handshakes with ``status``."""

    status: int
    remaining: int | None  # None: until accept()
    retry_after: str | None = None
    message: str | None = None


class LiveConnection(Protocol):
    """What the server does with a live connection: run it, and act on it for a test."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...

    async def send(self, message: dict[str, Any], /) -> None: ...

    async def drop(self) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


C = TypeVar("C", bound=LiveConnection)


class FakeServer(abc.ABC, Generic[R, C]):
    """A provider fake's server: serving, handshakes, records, waiting, the newest connection.

    Failure knobs every fake has: :meth:`reject` refuses handshakes with an
    HTTP status, ``handshake_delay`` stalls each handshake, and
    ``hang_handshake`` accepts TCP but never answers the upgrade (until the
    server stops).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl: SSLContext | None = None,
        **serve_options: Any,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.handshake_delay = 0.0
        self.hang_handshake = False
        #: Every opening handshake, in order: 101 when accepted, else the refusal's status.
        self.handshakes: list[Handshake] = []
        self.connections: list[R] = []
        self.signal = Signal()
        self._ssl = ssl
        self._serve_options = serve_options
        self._rejection: Rejection | None = None
        self._live: dict[int, C] = {}
        self._server: Server | None = None
        self._released = asyncio.Event()

    # ------------------------------------------------------------------ the protocol
    @abc.abstractmethod
    def check_request(self, request: Request) -> Response | None:
        """The provider's handshake rules: an HTTP refusal, or None to upgrade."""

    @abc.abstractmethod
    def refusal(self, status: int, message: str | None = None) -> Response:
        """The provider's HTTP error for ``status`` (``message``: None for its usual words)."""

    @abc.abstractmethod
    def open_connection(self, ws: ServerConnection, index: int) -> tuple[R, C]:
        """The record and the protocol for an accepted socket, the ``index``-th one."""

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> Self:
        self._released = asyncio.Event()
        self._server = await serve(
            self._handle,
            self.host,
            self.requested_port,
            process_request=self._process_request,
            ssl=self._ssl,
            **self._serve_options,
        )
        return self

    async def stop(self) -> None:
        self._released.set()
        for connection in list(self._live.values()):
            connection.stop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake server is not started: use it inside `async with`")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def origin(self) -> str:
        """``ws://127.0.0.1:PORT`` (``wss://`` when serving TLS)."""
        return f"{'wss' if self._ssl else 'ws'}://{self.host}:{self.port}"

    # ------------------------------------------------------------------ refusing
    def reject(self, status: int, *, times: int | None = None) -> None:
        """Refuse the next ``times`` handshakes (all, until :meth:`accept`) with ``status``."""
        self._rejection = Rejection(status, times)

    def accept(self) -> None:
        self._rejection = None

    # ------------------------------------------------------------------ records
    @property
    def latest(self) -> R:
        return self.connections[-1]

    @property
    def live_connections(self) -> int:
        return len(self._live)

    def notify(self) -> None:
        """Something was recorded: wake whoever waits on the fake."""
        self.signal.fire()

    # ------------------------------------------------------------------ the newest connection
    def newest(self) -> C:
        return self._pick(None)

    def _pick(self, connection: int | None) -> C:
        """The live connection of that index, or the newest one."""
        if not self._live:
            raise RuntimeError("no live connection")
        return self._live[max(self._live) if connection is None else connection]

    async def push(self, message: dict[str, Any], connection: int | None = None) -> None:
        """Send any message as is (for behaviours no script covers)."""
        await self._pick(connection).send(message)

    async def drop(self, connection: int | None = None) -> None:
        """Cut the connection without a close frame (a network failure): the client sees 1006."""
        await self._pick(connection).drop()

    async def close(
        self, code: int = 1000, reason: str = "", connection: int | None = None
    ) -> None:
        """Close the connection with ``code`` and ``reason``, as the service does on errors."""
        await self._pick(connection).close(code, reason)

    # ------------------------------------------------------------------ serving
    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        if self.handshake_delay:
            await asyncio.sleep(self.handshake_delay)
        if self.hang_handshake:
            await self._released.wait()  # until the server stops; then a polite refusal
            return self.refusal(503, "The server is shutting down.")
        response = self._rejected() or self.check_request(request)
        status = 101 if response is None else response.status_code
        self.handshakes.append(Handshake(request.path, status, masked_headers(request.headers)))
        self.notify()
        return response

    def _rejected(self) -> Response | None:
        rejection = self._rejection
        if rejection is None:
            return None
        if rejection.remaining is not None:
            rejection.remaining -= 1
            if rejection.remaining <= 0:
                self._rejection = None
        response = self.refusal(rejection.status, rejection.message)
        if rejection.retry_after:
            response.headers["Retry-After"] = rejection.retry_after
        return response

    async def _handle(self, ws: ServerConnection) -> None:
        record, connection = self.open_connection(ws, len(self.connections))
        self.connections.append(record)
        self._live[record.index] = connection
        self.notify()
        try:
            await connection.run()
        finally:
            connection.stop()
            self._live.pop(record.index, None)
            self.notify()


def authorization(headers: Headers, *schemes: str) -> str | None:
    """The credential of ``Authorization: <scheme> <credential>``.

    None without the header; "" when its scheme is none of ``schemes`` or it
    carries nothing (a credential was offered, but not one that can match).
    """
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, credential = value.partition(" ")
    return credential.strip() if scheme.lower() in schemes else ""


def json_response(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    """An HTTP refusal with a JSON body, as the services send them."""
    data = body.encode()
    all_headers = Headers({"Content-Type": "application/json", **(headers or {})})
    all_headers["Content-Length"] = str(len(data))
    return Response(status, phrase(status), all_headers, data)


def phrase(status: int) -> str:
    """The reason phrase of ``status`` ("Error" for a status HTTP does not name)."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"
