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

import collections
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from rtws.testing.fakeserver import FakeServer, authorization, json_response, phrase
from rtws.testing.records import mask_secret, masked_headers

from .replies import ConnectionRecord, FunctionCall, Int16Array, Reply, default_reply
from .session import Session
from .speech import Voice

__all__ = ["DEFAULT_API_KEY", "PATH", "FakeDeepgramAgent", "mask_secret"]

T = TypeVar("T")
PATH = "/v1/agent/converse"
DEFAULT_API_KEY = "dg-fake-rtws-0123456789abcdef"
#: How browsers pass the key: as the websocket subprotocols ``token, <key>``.
KEY_PROTOCOLS = ("token", "bearer")


class FakeDeepgramAgent(FakeServer[ConnectionRecord, Session]):
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
        super().__init__(
            host=host,
            port=port,
            select_subprotocol=_select_subprotocol,
            max_size=None,
            ping_interval=None,
        )
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

    @property
    def base_url(self) -> str:
        """``ws://127.0.0.1:PORT``: the SDK's ``DeepgramClientEnvironment(agent=...)``."""
        return self.origin

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

    async def push_audio(self, pcm: bytes) -> None:
        """Send agent audio as is (binary frames), e.g. late audio of a reply that was cut."""
        session = self.newest()
        step = max(2, session.record.output_rate * self.piece_ms // 1000 * 2)
        for offset in range(0, len(pcm), step):
            await session.send_audio(pcm[offset : offset + step])

    # ------------------------------------------------------------------ inspection
    @property
    def refusals(self) -> list[int]:
        """The status of every refused handshake, in order."""
        return [h.status for h in self.handshakes if h.status != 101]

    def received_audio(self) -> bytes:
        """Every mic byte received, in order, across connections."""
        return b"".join(bytes(c.audio_in) for c in self.connections)

    async def wait_until(self, probe: Callable[[], T | None], within: float = 5.0) -> T:
        """The first truthy ``probe()``, re-checked whenever the fake records something."""
        return await self.signal.wait_until(probe, within)

    async def wait_sent(self, kind: str, count: int = 1, within: float = 5.0) -> dict[str, Any]:
        """The ``count``-th message of ``kind`` the fake sent (on any connection)."""

        def probe() -> dict[str, Any] | None:
            found = [m for c in self.connections for m in c.of_type(kind)]
            return found[count - 1] if len(found) >= count else None

        return await self.wait_until(probe, within)

    # ------------------------------------------------------------------ the protocol
    def check_request(self, request: Request) -> Response | None:
        path = request.path.split("?")[0]
        if path != PATH:
            return _refuse(404, "NOT_FOUND", f"No such endpoint: {path}")
        key = _credential(request.headers)
        if self.api_key is not None and key != self.api_key:
            return _refuse(401, "INVALID_AUTH", "Invalid credentials.")
        return None

    def refusal(self, status: int, message: str | None = None) -> Response:
        return _refuse(status, "REFUSED", message or phrase(status))

    def open_connection(self, ws: ServerConnection, index: int) -> tuple[ConnectionRecord, Session]:
        request = ws.request
        assert request is not None
        record = ConnectionRecord(
            index=index,
            path=request.path,
            headers=masked_headers(request.headers),
            subprotocol=ws.subprotocol,
        )
        return record, Session(self, ws, record)


def _refuse(status: int, code: str, message: str) -> Response:
    body = {"err_code": code, "err_msg": message, "request_id": str(uuid.uuid4())}
    return json_response(status, json.dumps(body) + "\n")


def _credential(headers: Headers) -> str | None:
    """The key from ``Authorization: Token|Bearer <key>`` or the ``token, <key>`` subprotocols."""
    key = authorization(headers, *KEY_PROTOCOLS)
    if key is not None:
        return key
    offered = [p.strip() for h in headers.get_all("sec-websocket-protocol") for p in h.split(",")]
    if len(offered) == 2 and offered[0] in KEY_PROTOCOLS:
        return offered[1]
    return None


def _select_subprotocol(
    conn: ServerConnection, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    """Echo ``token`` (or ``bearer``) when the key came as subprotocols, as browsers require."""
    return offered[0] if offered and offered[0] in KEY_PROTOCOLS else None
