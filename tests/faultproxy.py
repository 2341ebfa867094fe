"""A TCP proxy on 127.0.0.1 that breaks connections on demand, for fault-injection tests.

Fake servers speak their protocol faithfully; the network faults a voice
session meets in the wild happen below the protocol, so they are injected
here, between the client and an unmodified server:

* :meth:`FaultProxy.freeze` stops reading from one or both sides. Nothing is
  forwarded and TCP back-pressure builds up exactly as with a peer that hung
  (pings go unanswered: a half-open connection), or, upstream only, a server
  that stops reading what the client sends.
* :meth:`FaultProxy.throttle` caps what the server reads per second: a slow
  server, or a thin uplink.
* :meth:`FaultProxy.drop` resets every connection (no close frame, no FIN).

New connections are not frozen, so a reconnect gets through.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

#: Small kernel buffers on the proxy side, so back-pressure reaches the client quickly.
_PROXY_BUFFER = 16 * 1024
#: StreamReader pauses the socket past twice this: the proxy itself holds little.
_READ_LIMIT = 4096


@dataclass(eq=False)
class _Pair:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    upstream: asyncio.Event = field(default_factory=asyncio.Event)  # set = forwarding
    downstream: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list[asyncio.Task[None]])
    upstream_bytes: int = 0


class FaultProxy:
    """Forwards ``127.0.0.1:<port>`` to a target URL's host and port."""

    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        assert parts.hostname is not None and parts.port is not None
        self._target = (parts.hostname, parts.port)
        self._target_url = target_url
        self._server: asyncio.Server | None = None
        self._pairs: list[_Pair] = []
        self._upstream_rate: float | None = None
        self.connections = 0

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """The target URL, rerouted through the proxy."""
        parts = urlsplit(self._target_url)
        return urlunsplit(parts._replace(netloc=f"127.0.0.1:{self.port}"))

    @property
    def upstream_bytes(self) -> int:
        """Bytes forwarded client → server, over every connection."""
        return sum(p.upstream_bytes for p in self._pairs)

    async def __aenter__(self) -> FaultProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _PROXY_BUFFER)
        listener.bind(("127.0.0.1", 0))
        self._server = await asyncio.start_server(self._accept, sock=listener, limit=_READ_LIMIT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.drop()
        for pair in self._pairs:
            for task in pair.tasks:
                task.cancel()
            await asyncio.gather(*pair.tasks, return_exceptions=True)
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def freeze(self, *, upstream: bool = True, downstream: bool = True) -> None:
        """Stop reading (so stop forwarding) on the open connections."""
        for pair in self._pairs:
            if upstream:
                pair.upstream.clear()
            if downstream:
                pair.downstream.clear()

    def thaw(self) -> None:
        for pair in self._pairs:
            pair.upstream.set()
            pair.downstream.set()

    def throttle(self, bytes_per_s: float | None) -> None:
        """Forward at most this many bytes a second client → server (None: no cap)."""
        self._upstream_rate = bytes_per_s

    def drop(self) -> None:
        """Reset every open connection, both sides, without a goodbye."""
        for pair in self._pairs:
            for writer in (pair.client, pair.server):
                transport = writer.transport
                if not transport.is_closing():
                    transport.abort()

    async def _accept(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            s_reader, s_writer = await asyncio.open_connection(*self._target, limit=_READ_LIMIT)
        except OSError:
            c_writer.transport.abort()
            return
        sock = c_writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _PROXY_BUFFER)
        pair = _Pair(c_writer, s_writer)
        pair.upstream.set()
        pair.downstream.set()
        self._pairs.append(pair)
        pair.tasks = [
            asyncio.create_task(self._pump(c_reader, s_writer, pair.upstream, pair, up=True)),
            asyncio.create_task(self._pump(s_reader, c_writer, pair.downstream, pair, up=False)),
        ]

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        flowing: asyncio.Event,
        pair: _Pair,
        *,
        up: bool,
    ) -> None:
        try:
            while True:
                await flowing.wait()
                data = await reader.read(4096)
                if not data:
                    break
                await flowing.wait()  # frozen while the read was pending: hold the data
                writer.write(data)
                await writer.drain()
                if up:
                    pair.upstream_bytes += len(data)
                    if self._upstream_rate:
                        await asyncio.sleep(len(data) / self._upstream_rate)
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.transport.abort()
