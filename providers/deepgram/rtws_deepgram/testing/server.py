"""``FakeDeepgramAgent``: the Deepgram Voice Agent API v1 on 127.0.0.1, faithful at the wire.

The handshake is checked as the service checks it: the path
``/v1/agent/converse``, then the key as ``Authorization: Token <key>`` (or
``Bearer <token>``), or as the websocket subprotocols ``token, <key>`` that
browsers use; a missing or wrong key is refused with HTTP 401 before the
upgrade, which is what the SDK reports as "invalid credentials". After the
handshake each connection speaks the protocol (:mod:`.session`) and is
recorded (:class:`~.replies.ConnectionRecord`) for tests.

    async with FakeDeepgramAgent(pace=0) as server:
        url = server.url  # ws://127.0.0.1:PORT/v1/agent/converse
"""

from __future__ import annotations

import asyncio
import collections
import http
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from .replies import ConnectionRecord, FunctionCall, Int16Array, Reply, default_reply
from .session import Session
from .speech import Voice

T = TypeVar("T")
PATH = "/v1/agent/converse"
DEFAULT_API_KEY = "dg-fake-rtws-0123456789abcdef"


def mask_secret(secret: str) -> str:
    """A few characters at each end, never the whole key."""
    return "*" * len(secret) if len(secret) <= 10 else f"{secret[:3]}...{secret[-4:]}"


class FakeDeepgramAgent:
    """A local Voice Agent server. ``api_key=None`` accepts any (or no) key.

    Args:
        pace: reply audio is sent at ``pace`` times real time (1.0 like the service,
            0 as fast as possible).
        piece_ms: audio per binary frame sent.
        late_audio_ms: audio of a cut reply still sent after ``UserStartedSpeaking``
            (frames in flight), which the client must drop.
        idle_timeout: seconds without audio or any message before
            ``CLIENT_MESSAGE_TIMEOUT`` (``None``: never).
        real_voice: speak with espeak-ng and listen with pocketsphinx when
            installed (the demo), instead of the deterministic tone.
    """

    def __init__(
        self,
        api_key: str | None = DEFAULT_API_KEY,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        pace: float = 1.0,
        piece_ms: int = 40,
        late_audio_ms: int = 0,
        idle_timeout: float | None = 10.0,
        real_voice: bool = False,
    ) -> None:
        self.api_key = api_key
        self.pace = pace
        self.piece_ms = piece_ms
        self.late_audio_ms = late_audio_ms
        self.idle_timeout = idle_timeout
        self.voice = Voice(real=real_voice)
        self.welcome = True  # False: never say Welcome (a client must not send before it)
        #: False: record mic audio but find no turns in it (a harness then decides when the
        #: user speaks, with :meth:`interrupt`, as a push-to-talk client would).
        self.hear_speech = True
        #: Send a reply's ConversationText before its AgentStartedSpeaking (the order is not
        #: documented; clients must handle both).
        self.text_first = False
        self.replies: collections.deque[Reply] = collections.deque()
        self.reply_for: Callable[[str], Reply] = default_reply
        self.connections: list[ConnectionRecord] = []
        self.refusals: list[int] = []
        self._reject: tuple[int, int | None] | None = None
        self._host, self._port = host, port
        self._server: Server | None = None
        self._live: list[Session] = []
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> FakeDeepgramAgent:
        self._server = await serve(
            self._handle,
            self._host,
            self._port,
            process_request=self._check_request,
            select_subprotocol=_select_subprotocol,
            max_size=None,
            ping_interval=None,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        for session in list(self._live):
            session.stop()
        self._server.close()
        await self._server.wait_closed()
        self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None, "use the server inside `async with`"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        """``ws://127.0.0.1:PORT``: the SDK's ``DeepgramClientEnvironment(agent=...)``."""
        return f"ws://{self._host}:{self.port}"

    @property
    def url(self) -> str:
        """The endpoint: ``DeepgramVoiceAgentOptions(url=...)``."""
        return self.base_url + PATH

    # ------------------------------------------------------------------ scripting
    def script(self, *replies: Reply) -> None:
        """Queue replies for the next turns (then :attr:`reply_for` answers)."""
        self.replies.extend(replies)

    def take_scripted(self) -> Reply | None:
        return self.replies.popleft() if self.replies else None

    def reject(self, status: int, *, times: int | None = None) -> None:
        """Refuse the next ``times`` handshakes (all, until :meth:`accept`) with ``status``."""
        self._reject = (status, times)

    def accept(self) -> None:
        self._reject = None

    # ------------------------------------------------------------------ controls (newest session)
    async def say(self, text: str, audio: Int16Array | None = None) -> None:
        """The agent speaks unprompted; returns once all of it (and ``AgentAudioDone``) was sent."""
        await self.newest().reply(Reply(text=text, audio=audio), None)

    async def interrupt(self) -> None:
        """What the service does when the user talks over the agent: ``UserStartedSpeaking``."""
        session = self.newest()
        await session.user_started()
        session.user_speaking = False  # a barge-in with no words after it

    async def request_function(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Ask the client to run ``name`` now; the ``FunctionCallResponse`` it answers with."""
        session = self.newest()
        call = FunctionCall(name, arguments)
        await session.call_functions([call])
        return session.answers[call.id]

    async def error(self, code: str, description: str) -> None:
        """A fatal ``Error`` (then the close), as the service sends on a failure."""
        await self.newest().fatal(code, description)

    async def warn(self, code: str, description: str) -> None:
        await self.push({"type": "Warning", "description": description, "code": code})

    async def push(self, message: dict[str, Any]) -> None:
        """Send any JSON message as is on the newest connection."""
        await self.newest().send(message)

    async def push_audio(self, pcm: bytes) -> None:
        """Send agent audio as is (binary frames), e.g. late audio of a reply that was cut."""
        session = self.newest()
        step = max(2, session.record.output_rate * self.piece_ms // 1000 * 2)
        for offset in range(0, len(pcm), step):
            await session.send_audio(pcm[offset : offset + step])

    async def drop(self) -> None:
        """Cut the newest connection without a close frame (a network failure)."""
        session = self.newest()
        session.record.closed_by = "drop"
        session.ws.transport.abort()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.newest().close(code, reason)

    # ------------------------------------------------------------------ inspection
    @property
    def latest(self) -> ConnectionRecord:
        return self.connections[-1]

    @property
    def live_connections(self) -> int:
        return len(self._live)

    def received_audio(self) -> bytes:
        """Every mic byte received, in order, across connections."""
        return b"".join(bytes(c.audio_in) for c in self.connections)

    def newest(self) -> Session:
        if not self._live:
            raise RuntimeError("no live connection")
        return self._live[-1]

    def notify(self) -> None:
        self._changed.set()

    async def wait_until(self, probe: Callable[[], T | None], within: float = 5.0) -> T:
        """The first truthy ``probe()``, re-checked whenever the fake records something."""
        async with asyncio.timeout(within):
            while not (found := probe()):
                self._changed.clear()
                try:
                    async with asyncio.timeout(0.05):
                        await self._changed.wait()
                except TimeoutError:
                    pass
            return found

    async def wait_sent(self, kind: str, count: int = 1, within: float = 5.0) -> dict[str, Any]:
        """The ``count``-th message of ``kind`` the fake sent (on any connection)."""

        def probe() -> dict[str, Any] | None:
            found = [m for c in self.connections for m in c.of_type(kind)]
            return found[count - 1] if len(found) >= count else None

        return await self.wait_until(probe, within)

    # ------------------------------------------------------------------ handshake
    async def _check_request(self, conn: ServerConnection, request: Request) -> Response | None:
        status, detail = self._refusal(request)
        if status is None:
            return None
        self.refusals.append(status)
        self.notify()
        body = {"err_code": detail[0], "err_msg": detail[1], "request_id": str(uuid.uuid4())}
        return conn.respond(http.HTTPStatus(status), json.dumps(body) + "\n")

    def _refusal(self, request: Request) -> tuple[int | None, tuple[str, str]]:
        if self._reject is not None:
            status, times = self._reject
            if times is not None:
                self._reject = (status, times - 1) if times > 1 else None
            return status, ("REFUSED", http.HTTPStatus(status).phrase)
        if request.path.split("?")[0] != PATH:
            return 404, ("NOT_FOUND", f"No such endpoint: {request.path.split('?')[0]}")
        key = _credential(request.headers)
        if self.api_key is not None and key != self.api_key:
            return 401, ("INVALID_AUTH", "Invalid credentials.")
        return None, ("", "")

    async def _handle(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        record = ConnectionRecord(
            index=len(self.connections),
            path=request.path,
            headers=_masked(request.headers),
            subprotocol=ws.subprotocol,
        )
        self.connections.append(record)
        session = Session(self, ws, record)
        self._live.append(session)
        self.notify()
        try:
            await session.run()
        finally:
            session.stop()
            self._live.remove(session)
            if record.closed_by is None:
                record.closed_by = "client"
                record.close_code = ws.close_code
            self.notify()


def _credential(headers: Headers) -> str | None:
    """The key from ``Authorization: Token|Bearer <key>`` or the ``token, <key>`` subprotocols."""
    auth = headers.get("authorization")
    if auth is not None:
        scheme, _, key = auth.partition(" ")
        return key.strip() if scheme.lower() in ("token", "bearer") else None
    offered = [p.strip() for h in headers.get_all("sec-websocket-protocol") for p in h.split(",")]
    if len(offered) == 2 and offered[0] in ("token", "bearer"):
        return offered[1]
    return None


def _select_subprotocol(
    conn: ServerConnection, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    """Echo ``token`` (or ``bearer``) when the key came as subprotocols, as browsers require."""
    return offered[0] if offered and offered[0] in ("token", "bearer") else None


def _masked(headers: Headers) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.raw_items():
        key = name.lower()
        if key == "authorization":
            scheme, _, secret = value.partition(" ")
            value = f"{scheme} {mask_secret(secret)}"
        elif key == "sec-websocket-protocol":
            value = ", ".join(
                mask_secret(p.strip()) if i else p for i, p in enumerate(value.split(","))
            )
        out[key] = value
    return out
