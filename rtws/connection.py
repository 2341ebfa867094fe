"""The websocket plumbing every provider needs, so providers only translate messages.

Opening a socket is where most user-facing failures happen: a bad key, a rate
limit, a typo in a URL, a server that never answers. This module turns each
into the right :mod:`rtws.errors` exception with a redacted, actionable
message, and turns an unexpected close into :class:`~rtws.errors.ConnectionLost`
(or an auth error, when the close code says the credentials were refused).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any, cast
from urllib.parse import urlsplit

from websockets import State
from websockets.asyncio.client import connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)
from websockets.frames import CloseCode

from . import safejson
from .errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailed,
    ConnectionLost,
    ConnectTimeout,
    RateLimited,
    RTWSError,
)
from .http import retry_after_seconds
from .redact import get_logger, redact
from .websocket import StreamingConnection

log = get_logger("rtws.connection")
_ws_log = get_logger("rtws.websockets")

#: Close codes after which reconnecting cannot help: the same request fails again.
NON_RETRYABLE_CLOSE_CODES = frozenset(
    {
        CloseCode.PROTOCOL_ERROR,  # 1002
        CloseCode.UNSUPPORTED_DATA,  # 1003
        CloseCode.INVALID_DATA,  # 1007
        CloseCode.POLICY_VIOLATION,  # 1008
        CloseCode.MESSAGE_TOO_BIG,  # 1009
        CloseCode.MANDATORY_EXTENSION,  # 1010
    }
)


def _error_detail(body: bytes | bytearray | None) -> str:
    """The human part of an HTTP error body (OpenAI/Google style JSON or plain text)."""
    if not body:
        return ""
    text = body.decode("utf-8", "replace")
    try:
        data: Any = safejson.loads(text)
    except ValueError:  # not JSON, or nested too deep to be an error we know
        return text.strip()[:200]
    err = cast("dict[str, Any]", data).get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        fields = cast("dict[str, Any]", err)
        return str(fields.get("message") or fields.get("code") or "")[:300]
    return text.strip()[:200]


def handshake_error(exc: BaseException, provider: str, url: str) -> RTWSError:
    """Map a failed websocket opening handshake to an rtws error a user can act on."""
    where = redact(url)
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        try:
            detail = redact(_error_detail(exc.response.body))
        except Exception as problem:  # a body no parser expected must not hide the status
            log.debug("could not read the refusal's body: %r", problem)
            detail = ""
        suffix = f": {detail}" if detail else ""
        if status in (401, 403):
            return AuthenticationError(
                f"{provider} rejected the credentials (HTTP {status}){suffix.rstrip('.')}. "
                "Check the API key (or token) in the options or environment."
            )
        if status == 429:
            retry_after = retry_after_seconds(exc.response.headers.get("retry-after"))
            hint = f"; retry after {retry_after:g} s" if retry_after is not None else ""
            return RateLimited(
                f"{provider} is rate limiting this key (HTTP 429){suffix}{hint}",
                retry_after=retry_after,
            )
        if 400 <= status < 500:
            return ConnectionFailed(
                f"{provider} refused the connection to {where} (HTTP {status}){suffix}",
                retryable=False,
            )
        return ConnectionFailed(
            f"{provider} failed to open a session at {where} (HTTP {status}){suffix}",
            retryable=True,
        )
    if isinstance(exc, InvalidURI):
        return ConfigurationError(f"invalid {provider} URL {where!r}: {redact(str(exc))}")
    if isinstance(exc, TimeoutError):
        return ConnectTimeout(f"timed out opening a websocket to {where}")
    if isinstance(exc, OSError):
        return ConnectionFailed(f"cannot reach {where}: {redact(str(exc))}")
    if isinstance(exc, InvalidHandshake):
        return ConnectionFailed(f"websocket handshake with {where} failed: {redact(str(exc))}")
    return ConnectionFailed(f"could not connect to {where}: {redact(repr(exc))}")


def close_error(code: int | None, reason: str, provider: str) -> RTWSError:
    """The error an unexpected close stands for; providers may refine it."""
    reason = redact(reason)
    text = f"{provider} closed the connection (code {code}{': ' + reason if reason else ''})"
    if code is None or code == CloseCode.ABNORMAL_CLOSURE:
        return ConnectionLost(f"lost the connection to {provider} (no close frame)", code=code)
    if code in NON_RETRYABLE_CLOSE_CODES:
        return ConnectionLost(text, code=code, reason=reason, retryable=False)
    return ConnectionLost(text, code=code, reason=reason)


_default_close = close_error

#: Seconds for the closing handshake before the TCP connection is reset.
_CLOSE_TIMEOUT = 2.0

#: Compact JSON, with the encoder built once: given options, ``json.dumps``
#: builds a new encoder on every call, and the mic sends 50 messages a second.
_compact_json = json.JSONEncoder(separators=(",", ":")).encode


class WebSocketConnection:
    """One client websocket: open with mapped errors, send JSON, read messages in batches."""

    def __init__(
        self,
        url: str,
        *,
        provider: str,
        headers: Mapping[str, str] | None = None,
        open_timeout: float = 15.0,
        ping_interval: float | None = 10.0,
        ping_timeout: float | None = 10.0,
        max_size: int | None = 16 * 2**20,
        compression: str | None = None,
        close_error: Callable[[int | None, str], RTWSError] | None = None,
    ) -> None:
        scheme = urlsplit(url).scheme
        if scheme not in ("ws", "wss"):
            raise ConfigurationError(
                f"{provider} URL must start with ws:// or wss://, got {redact(url)!r}"
            )
        self._url = url
        self._headers = dict(headers or {})
        self.provider = provider
        self._open_timeout = open_timeout
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._max_size = max_size
        self._compression = compression

        def provider_close_error(code: int | None, reason: str) -> RTWSError:
            return _default_close(code, reason, provider)

        self._close_error = close_error or provider_close_error
        self._ws: StreamingConnection | None = None
        self._closing = False
        #: Why rtws cut the connection itself (a stalled send), for the error the user sees.
        self._abort_reason: str | None = None

    def __repr__(self) -> str:
        return f"<WebSocketConnection {redact(self._url)} open={self.is_open}>"

    @property
    def url(self) -> str:
        """The URL with any credentials masked (safe to print)."""
        return redact(self._url)

    @property
    def is_open(self) -> bool:
        return self._ws is not None and self._ws.state is State.OPEN

    @property
    def close_code(self) -> int | None:
        return self._ws.close_code if self._ws is not None else None

    async def open(self) -> None:
        try:
            ws = await connect(
                self._url,
                additional_headers=self._headers,
                open_timeout=self._open_timeout,
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_timeout,
                close_timeout=_CLOSE_TIMEOUT,
                max_size=self._max_size,
                compression=self._compression,
                logger=_ws_log,
                create_connection=StreamingConnection,
                user_agent_header=f"rtws/{_version('rtws')} websockets/{_version('websockets')}",
            )
        except Exception as exc:
            error = handshake_error(exc, self.provider, self._url)
        else:
            self._ws = cast(StreamingConnection, ws)  # create_connection= made it one
            return
        # Raised outside the ``except``: websockets' exception holds the server's
        # response, whose body may quote the key; chained as ``__context__`` it would
        # reach anyone who walks the chain (error trackers do).
        raise error

    def send_json(self, message: Mapping[str, Any]) -> Awaitable[None]:
        """Send one JSON message, compact (await the result; see :meth:`write`)."""
        return self.write(_compact_json(message))

    def write(self, text: str) -> Awaitable[None]:
        """Send one text frame; await the result.

        The frame is written before this returns whenever the socket can take
        it at once (the result is then already finished, and awaiting it costs
        nothing); otherwise the result is :meth:`send`'s coroutine, which
        waits for room in the buffer.
        """
        ws = self._ws
        if ws is not None and ws.send_now(text):
            return _SENT
        return self.send(text)

    def send_bytes(self, data: bytes | bytearray | memoryview) -> Awaitable[None]:
        """Send one binary frame (raw PCM, for providers whose wire carries it); await it."""
        return self.send(bytes(data))

    async def send(self, data: str | bytes) -> None:
        """Send one frame, waiting while the socket's write buffer is full (back-pressure).

        A peer that stops reading fills the buffer and this waits; one that has
        read nothing for ``ping_timeout`` seconds is treated as gone, like one
        that misses a pong. That check cannot be left to websockets' keepalive:
        its ping waits behind the same full buffer, so it never times out and
        a half-open connection with a live microphone would hang until TCP
        gives up, many minutes later.
        """
        ws = self._ws
        if ws is None:
            raise ConnectionFailed(f"not connected to {self.provider}", retryable=False)
        try:
            if not ws.transport.get_write_buffer_size():
                # Nothing queued: this frame cannot wait on the peer, so the
                # stall timer (6 µs a call, 50 calls a second) is not armed.
                await ws.send(data)
                return
            async with asyncio.timeout(self._ping_timeout):
                await ws.send(data)
                return
        except TimeoutError:
            error = self._stalled(ws)
        except ConnectionClosed as exc:
            error = self._closed_error(exc)
        raise error  # unchained: the close frame's reason is the server's text

    def _stalled(self, ws: StreamingConnection) -> RTWSError:
        if self._abort_reason is None:
            self._abort_reason = (
                f"{self.provider} stopped reading: nothing sent for {self._ping_timeout:g} s "
                "(options.ping_timeout)"
            )
            log.warning("%s; dropping the connection", self._abort_reason)
            ws.transport.abort()
        return ConnectionLost(self._abort_reason)

    async def next_messages(self) -> list[str | bytes]:
        """The messages received since the last call, in order (waits for one).

        An empty list means the socket closed because rtws closed it; an
        unexpected close raises its error (after every message that came first).
        """
        ws = self._ws
        if ws is None:
            return []
        try:
            return await ws.next_messages()
        except ConnectionClosed as exc:
            if self._closing:
                return []
            error = self._closed_error(exc)
        raise error  # unchained: the close frame's reason is the server's text

    def _closed_error(self, exc: ConnectionClosed) -> RTWSError:
        frame = exc.rcvd
        if frame is not None:
            return self._close_error(frame.code, frame.reason)
        if self._abort_reason is not None:
            return ConnectionLost(self._abort_reason)
        sent = exc.sent
        if sent is not None:
            # We failed the connection: the server sent what websockets refuses
            # (invalid UTF-8 text, an oversized message) or missed a pong. The
            # server was at fault, so a fresh connection may well work.
            return ConnectionLost(
                f"rtws dropped the connection to {self.provider}: "
                f"{redact(sent.reason) or 'protocol error'} (code {sent.code})",
                code=sent.code,
                reason=redact(sent.reason),
            )
        return self._close_error(None, "")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close politely (bounded wait), then drop the TCP connection regardless.

        websockets bounds the closing handshake but not the wait to write the
        close frame, which never ends when the peer stopped reading; a full
        write buffer means the frame would queue behind data nobody reads, so
        the connection is reset at once.
        """
        self._closing = True
        ws = self._ws
        if ws is None:
            return
        try:
            # The transport's limit is websockets' write_limit (its attribute name varies).
            if ws.transport.get_write_buffer_size() < ws.transport.get_write_buffer_limits()[1]:
                async with asyncio.timeout(_CLOSE_TIMEOUT * 2):
                    await ws.close(code, reason)
        except Exception as exc:  # closing must never fail a disconnect
            log.debug("error while closing %s: %r", self.url, exc)
        finally:
            if ws.state is not State.CLOSED:
                ws.transport.abort()
                try:
                    async with asyncio.timeout(_CLOSE_TIMEOUT):
                        await ws.wait_closed()
                except TimeoutError:
                    log.debug("%s did not report the socket closed after an abort", self.url)


class _Sent:
    """What :meth:`WebSocketConnection.write` returns for a frame already written:
    awaiting it returns at once, with no coroutine or trip through the event loop."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        return
        yield  # a generator function that finishes without yielding


_SENT = _Sent()


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "0"
