"""What the test providers' servers share: a websocket server on 127.0.0.1 that keeps its peers.

The echo and pcm protocols (``tests/echo_provider.py``, ``tests/pcm_provider.py``)
differ in what their servers check at the handshake and answer to a frame, not
in how they listen: a free port, every handshake counted, every connection
kept (tests talk to the newest), ``async with`` to run one.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self

from websockets.asyncio.server import Request, Response, Server, ServerConnection, serve


class LocalServer(ABC):
    """A test protocol's server: subclasses say what a handshake needs and how a peer is served."""

    #: The URL path clients connect to (the server accepts any; it only names the protocol).
    path: ClassVar[str]

    def __init__(self) -> None:
        self.connections: list[ServerConnection] = []
        self.handshakes = 0
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}{self.path}"

    async def __aenter__(self) -> Self:
        self._server = await serve(self._handle, "127.0.0.1", 0, process_request=self._handshake)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def send(self, message: dict[str, Any]) -> None:
        """Send ``message`` as a JSON text frame to the newest connection."""
        await self.connections[-1].send(json.dumps(message))

    async def _handshake(self, conn: ServerConnection, request: Request) -> Response | None:
        self.handshakes += 1
        return await self._check_request(conn, request)

    @abstractmethod
    async def _check_request(self, conn: ServerConnection, request: Request) -> Response | None:
        """The handshake's answer: None accepts it, a response refuses it."""

    @abstractmethod
    async def _handle(self, conn: ServerConnection) -> None:
        """Serve one accepted connection until it closes (append it to :attr:`connections`)."""
