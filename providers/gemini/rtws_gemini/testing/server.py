"""A local fake of the Gemini Live API (``BidiGenerateContent``), faithful at the wire.

What it mimics, because clients depend on it:

* the endpoint paths, ``x-goog-api-key`` / ``?key=`` and, on ``v1alpha``
  ``BidiGenerateContentConstrained``, ephemeral tokens (``?access_token=`` or
  ``Authorization: Token``);
* a refused key is not an HTTP error: the handshake succeeds and the server
  closes with 1008 and Google's reason; an invalid message closes with 1007
  and the parser's reason (see :mod:`.schema`);
* frames are binary UTF-8 JSON in camelCase, default values omitted; the
  client may send camelCase or snake_case, standard or URL-safe base64;
* ``setupComplete`` before anything else; server VAD on the audio
  (:mod:`.vad`) or ``activityStart``/``activityEnd``; ``inputTranscription``,
  ``modelTurn`` audio parts at 24 kHz with ``outputTranscription``,
  ``generationComplete``, a wait for real-time playback, then
  ``turnComplete`` with ``usageMetadata``; barge-in sends ``interrupted``
  (and ``toolCallCancellation`` for calls in flight) then ``turnComplete``;
* ``sessionResumptionUpdate`` handles that really restore the conversation
  (:class:`.turns.Conversation`) on a new connection, ``goAway`` followed by
  a forced close when the time is up.
"""

from __future__ import annotations

import collections
import json
import re
import secrets
from collections.abc import Callable, Iterable
from ssl import SSLContext
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from rtws.testing.fakeserver import FakeServer, json_response, phrase
from rtws.testing.records import masked_headers

from .records import ConnectionRecord
from .session import BAD_KEY, BAD_TOKEN, NO_KEY, PATH, Session
from .turns import Conversation, Reply, default_reply
from .wild import Wild

__all__ = ["BAD_KEY", "BAD_TOKEN", "NO_KEY", "PATH", "ConnectionRecord", "FakeGeminiServer"]

#: google.rpc status names of the HTTP statuses a refusal uses.
RPC_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class FakeGeminiServer(FakeServer[ConnectionRecord, Session]):
    """The Live API on 127.0.0.1. ``async with FakeGeminiServer() as server: server.url``.

    Args:
        api_key: the key that opens sessions (``None`` accepts any key).
        text_frames: send text frames instead of Google's binary ones.
        playback_wait: ``turnComplete`` waits this fraction of the reply's audio
            duration after the first audio part, as the real server waits for a
            real-time listener (0 = answer as fast as possible).
        voice_activity: also send ``voiceActivity`` start/end messages.
        max_connection_s: the server's connection limit: ``goAway`` is sent
            ``go_away_time_left`` seconds before it, then the socket is closed.
        known_models: model names (``models/...``) accepted; ``None`` = any.
        wild: behave as the live service does (:class:`.wild.Wild`): ``True`` takes
            the seed from ``RTWS_WILD_SEED`` (or a random one), an int is the seed,
            ``None`` keeps the tidy order demos use.
    """

    def __init__(
        self,
        api_key: str | None = "fake-gemini-key",
        *,
        text_frames: bool = False,
        playback_wait: float = 1.0,
        voice_activity: bool = False,
        max_connection_s: float | None = None,
        go_away_time_left: float = 10.0,
        known_models: Iterable[str] | None = None,
        wild: Wild | int | bool | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl: SSLContext | None = None,
    ) -> None:
        super().__init__(host=host, port=port, ssl=ssl, max_size=None)
        self.api_key = api_key
        self.text_frames = text_frames
        self.playback_wait = playback_wait
        self.voice_activity = voice_activity
        self.max_connection_s = max_connection_s
        self.go_away_time_left = go_away_time_left
        self.known_models = set(known_models) if known_models is not None else None
        self.wild = Wild.coerce(wild)
        self.tokens: dict[str, int] = {}
        self.replies: collections.deque[Reply] = collections.deque()
        self.reply_for: Callable[[Conversation, str], Reply] = default_reply
        self.conversations: dict[str, Conversation] = {}
        self.handles: dict[str, Conversation] = {}
        self.resumed: list[str] = []
        self.forced_closes = 0

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:port`` (``wss://`` with TLS): what ``GeminiLiveOptions.host`` takes."""
        return self.origin

    # ------------------------------------------------------------------ scripting
    def script(self, *replies: Reply) -> None:
        """Queue replies for the next model turns (then :attr:`reply_for` takes over)."""
        self.replies.extend(replies)

    def add_token(self, token: str, uses: int = 1) -> None:
        """Accept an ephemeral token (``uses=0``: unlimited) on the constrained endpoint."""
        self.tokens[token] = uses if uses > 0 else -1

    async def go_away(self, time_left: float | None = None) -> None:
        """Tell the newest connection it ends in ``time_left`` s, then close it when time is up."""
        await self.newest().go_away(self.go_away_time_left if time_left is None else time_left)

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Wait until ``predicate()`` holds; it is re-checked whenever the fake changes state."""
        await self.signal.wait_until(predicate, within, "change the test waited for")

    # ------------------------------------------------------------------ inspection
    def conversation(self) -> Conversation:
        """The conversation of the newest connection."""
        cid = self.latest.conversation_id
        assert cid is not None, "the newest connection has no session yet"
        return self.conversations[cid]

    def received_audio(self) -> np.ndarray[Any, np.dtype[np.int16]]:
        """Every audio sample received, in order, across all connections."""
        data = b"".join(bytes(c.audio) for c in self.connections)
        return np.frombuffer(data, dtype=np.int16)

    def _newest(self) -> Session:
        """:meth:`newest` under its former name (tests that send raw frames use it)."""
        return self.newest()

    # ---- used by the connections
    def next_reply(self, conversation: Conversation, heard: str) -> Reply:
        return self.replies.popleft() if self.replies else self.reply_for(conversation, heard)

    def issue_handle(self, conversation: Conversation) -> str:
        handle = secrets.token_urlsafe(24)
        self.handles[handle] = conversation.snapshot()
        return handle

    # ------------------------------------------------------------------ the protocol
    def check_request(self, request: Request) -> Response | None:
        """Only an unknown path is an HTTP error: keys are refused after the upgrade."""
        if PATH.match(_clean_path(request.path)) is None:
            return self.refusal(404)
        return None

    def refusal(self, status: int, message: str | None = None) -> Response:
        error = {
            "code": status,
            "message": message or phrase(status),
            "status": RPC_STATUS.get(status, "UNKNOWN"),
        }
        return json_response(status, json.dumps({"error": error}) + "\n")

    def open_connection(self, ws: ServerConnection, index: int) -> tuple[ConnectionRecord, Session]:
        request = ws.request
        assert request is not None
        record = ConnectionRecord(
            index=index,
            path=_clean_path(request.path),
            query=dict(parse_qsl(urlsplit(request.path).query)),
            headers=masked_headers(request.headers),
        )
        return record, Session(self, ws, record)


def _clean_path(target: str) -> str:
    """The request path, with doubled slashes folded the way Google's front end folds them."""
    return re.sub(r"/{2,}", "/", urlsplit(target).path)
