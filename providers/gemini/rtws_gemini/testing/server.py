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

import asyncio
import collections
import contextlib
import http
import itertools
import json
import re
import secrets
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from ssl import SSLContext
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from ..wire import b64encode, format_duration, pcm_rate
from .schema import InvalidMessage, parse_client_message
from .turns import OUTPUT_RATE, Conversation, Reply, ToolCall, audio_for, default_reply
from .vad import EnergyVAD, VadEvent
from .wild import Wild, words_in_pieces

PATH = re.compile(
    r"^/ws/google\.ai\.generativelanguage\.(?P<version>v1|v1alpha|v1beta)\."
    r"GenerativeService\.(?P<method>BidiGenerateContent|BidiGenerateContentConstrained)$"
)
BAD_KEY = "API key not valid. Please pass a valid API key."
NO_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
BAD_TOKEN = "Unauthenticated: the ephemeral token is invalid, expired or used up."
#: Gemini's prebuilt voices; another name is an invalid argument (a 1007 close).
VOICES = frozenset(
    """zephyr puck charon kore fenrir leda orus aoede callirrhoe autonoe enceladus iapetus umbriel
    algieba despina erinome algenib rasalgethi laomedeia achernar alnilam schedar gacrux
    pulcherrima achird zubenelgenubi vindemiatrix sadachbia sadaltager sulafat""".split()  # noqa: SIM905
)
INVALID_ARGUMENT = "Request contains an invalid argument."
#: Gemini 3.x Live models take typed text as ``realtimeInput.text``; ``clientContent`` only
#: seeds the initial history (``historyConfig.initialHistoryInClientContent``), before the
#: first model turn (livekit-agents PRs 5238/5251, the 3.1 Flash Live migration guide).
REALTIME_TEXT_ONLY = re.compile(r"^models/gemini-3")
#: Audio tokens per second, the rate Gemini bills audio at.
AUDIO_TOKENS_PER_S = 25
_conversation_ids = itertools.count(1)


@dataclass
class ConnectionRecord:
    """Everything one connection did, for tests to inspect."""

    index: int
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: list[str | bytes] = field(default_factory=list[str | bytes])
    messages: list[tuple[str, dict[str, Any]]] = field(
        default_factory=list[tuple[str, dict[str, Any]]]
    )
    sent: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    setup: dict[str, Any] | None = None
    audio: bytearray = field(default_factory=bytearray)
    audio_rate: int = 16000
    #: camera frames (``realtimeInput.video``): (mime type, image bytes), in order.
    video: list[tuple[str, bytes]] = field(default_factory=list[tuple[str, bytes]])
    resumed_from: str | None = None
    conversation_id: str | None = None
    close_code: int | None = None
    close_reason: str = ""
    closed_by: Literal["server", "client", "drop", "deadline"] | None = None

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [body for k, body in self.messages if k == kind]


class FakeGeminiServer:
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
        self.connections: list[ConnectionRecord] = []
        self.conversations: dict[str, Conversation] = {}
        self.handles: dict[str, Conversation] = {}
        self.resumed: list[str] = []
        self.forced_closes = 0
        self._host = host
        self._port = port
        self._ssl = ssl
        self._server: Server | None = None
        self._live: list[_Session] = []
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> FakeGeminiServer:
        self._server = await serve(
            self._handle,
            self._host,
            self._port,
            process_request=self._check_path,
            max_size=None,
            ssl=self._ssl,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        for session in list(self._live):
            session.stop()
        self._server.close()
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None, "use the server inside `async with`"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:port`` (``wss://`` with TLS): what ``GeminiLiveOptions.host`` takes."""
        return f"{'wss' if self._ssl else 'ws'}://{self._host}:{self.port}"

    # ------------------------------------------------------------------ scripting
    def script(self, *replies: Reply) -> None:
        """Queue replies for the next model turns (then :attr:`reply_for` takes over)."""
        self.replies.extend(replies)

    def add_token(self, token: str, uses: int = 1) -> None:
        """Accept an ephemeral token (``uses=0``: unlimited) on the constrained endpoint."""
        self.tokens[token] = uses if uses > 0 else -1

    async def go_away(self, time_left: float | None = None) -> None:
        """Tell the newest connection it ends in ``time_left`` s, then close it when time is up."""
        await self._newest().go_away(self.go_away_time_left if time_left is None else time_left)

    async def drop(self) -> None:
        """Cut the newest connection without a close frame (a network failure)."""
        self._newest().drop()

    async def close(self, code: int, reason: str) -> None:
        """Close the newest connection with ``code`` and ``reason``, as Google does on errors."""
        await self._newest().close(code, reason)

    async def push(self, message: dict[str, Any]) -> None:
        """Send any server message on the newest connection (for behaviours no script covers)."""
        await self._newest().send(message)

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Wait until ``predicate()`` holds; it is re-checked whenever the fake changes state."""
        async with asyncio.timeout(within):
            while not predicate():
                self._changed.clear()
                try:
                    async with asyncio.timeout(0.05):
                        await self._changed.wait()
                except TimeoutError:
                    pass

    # ------------------------------------------------------------------ inspection
    @property
    def latest(self) -> ConnectionRecord:
        return self.connections[-1]

    @property
    def live_connections(self) -> int:
        return len(self._live)

    def conversation(self) -> Conversation:
        """The conversation of the newest connection."""
        cid = self.latest.conversation_id
        assert cid is not None, "the newest connection has no session yet"
        return self.conversations[cid]

    def received_audio(self) -> np.ndarray[Any, np.dtype[np.int16]]:
        """Every audio sample received, in order, across all connections."""
        data = b"".join(bytes(c.audio) for c in self.connections)
        return np.frombuffer(data, dtype=np.int16)

    # ------------------------------------------------------------------ internals
    def _newest(self) -> _Session:
        if not self._live:
            raise RuntimeError("no live connection")
        return self._live[-1]

    # ---- used by the connections
    def notify(self) -> None:
        self._changed.set()

    def next_reply(self, conversation: Conversation, heard: str) -> Reply:
        return self.replies.popleft() if self.replies else self.reply_for(conversation, heard)

    def issue_handle(self, conversation: Conversation) -> str:
        handle = secrets.token_urlsafe(24)
        self.handles[handle] = conversation.snapshot()
        return handle

    async def _check_path(self, conn: ServerConnection, request: Request) -> Response | None:
        if PATH.match(_clean_path(request.path)) is None:
            body = json.dumps(
                {"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}}
            )
            return conn.respond(http.HTTPStatus.NOT_FOUND, body + "\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        parts = urlsplit(request.path)
        record = ConnectionRecord(
            index=len(self.connections),
            path=_clean_path(request.path),
            query=dict(parse_qsl(parts.query)),
            headers={k.lower(): v for k, v in request.headers.raw_items()},
        )
        self.connections.append(record)
        session = _Session(self, ws, record)
        self._live.append(session)
        self.notify()
        try:
            await session.run()
        finally:
            session.stop()
            self._live.remove(session)
            if record.closed_by is None:
                record.closed_by = "client"
            self.notify()


class _Session:
    """One connection's protocol state machine."""

    def __init__(
        self, server: FakeGeminiServer, ws: ServerConnection, record: ConnectionRecord
    ) -> None:
        self.server = server
        self.ws = ws
        self.record = record
        self.conversation: Conversation | None = None
        self.setup: dict[str, Any] = {}
        self.vad: EnergyVAD | None = None
        self.manual = False
        self.interrupts = True
        self.audio_mode = True
        self.user_speaking = False
        self.user_samples = 0
        self.turn_open = False
        self.interrupt = asyncio.Event()
        self.pending_calls: dict[str, ToolCall] = {}
        self.tool_results: dict[str, dict[str, Any]] = {}
        self.tools_answered = asyncio.Event()
        self.reply_lock = asyncio.Lock()
        self.vad_config: dict[str, Any] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.deadline: asyncio.TimerHandle | None = None
        self.limit_timer: asyncio.TimerHandle | None = None
        self.wild = server.wild
        self.late_input: list[str] = []  # wild: user transcript still to come mid-reply
        self.model_turns = 0

    # ------------------------------------------------------------------ sending
    async def send(self, message: dict[str, Any]) -> None:
        self.record.sent.append(message)
        text = json.dumps(message, separators=(",", ":"))
        await self.ws.send(text if self.server.text_frames else text.encode("utf-8"))

    async def close(
        self, code: int, reason: str, by: Literal["server", "deadline"] = "server"
    ) -> None:
        reason_bytes = reason.encode("utf-8")[:123]  # a close frame's reason is at most 123 bytes
        self.record.close_code = code
        self.record.close_reason = reason_bytes.decode("utf-8", "ignore")
        self.record.closed_by = by
        await self.ws.close(code, self.record.close_reason)

    def drop(self) -> None:
        self.record.closed_by = "drop"
        self.ws.transport.abort()

    async def go_away(self, time_left: float) -> None:
        await self.send({"goAway": {"timeLeft": format_duration(time_left)}})
        loop = asyncio.get_running_loop()
        if self.deadline is not None:
            self.deadline.cancel()
        self.deadline = loop.call_later(time_left, self._spawn_deadline_close)

    def _spawn_deadline_close(self) -> None:
        if self.ws.state is State.OPEN:
            self.server.forced_closes += 1
            self.spawn(
                self.close(
                    1011, "Connection aborted: the session's time limit was reached.", "deadline"
                )
            )

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(self._guard(coro))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        # A task cancelled before it ran never awaited ``coro``: close it (no warning).
        task.add_done_callback(lambda _: coro.close())

    @staticmethod
    async def _guard(coro: Coroutine[Any, Any, None]) -> None:
        # The client may leave mid-reply; that ends the reply, it is not an error.
        with contextlib.suppress(ConnectionClosed):
            await coro

    def stop(self) -> None:
        for timer in (self.deadline, self.limit_timer):
            if timer is not None:
                timer.cancel()
        for task in list(self.tasks):
            task.cancel()

    # ------------------------------------------------------------------ the connection
    async def run(self) -> None:
        try:
            first = await self.receive()
            if first is None or not await self.start(*first):
                return
            while (message := await self.receive()) is not None:
                await self.dispatch(*message)
        except ConnectionClosed:
            return

    async def receive(self) -> tuple[str, dict[str, Any]] | None:
        try:
            frame = await self.ws.recv()
        except ConnectionClosed:
            return None
        self.record.raw.append(frame)
        try:
            decoded = json.loads(frame)
            kind, body = parse_client_message(decoded)
        except (ValueError, UnicodeDecodeError) as exc:
            await self.close(1007, f"Invalid JSON payload received. {exc}")
            return None
        except InvalidMessage as exc:
            await self.close(1007, str(exc))
            return None
        self.record.messages.append((kind, body))
        self.server.notify()
        return kind, body

    async def start(self, kind: str, body: dict[str, Any]) -> bool:
        """Credentials, then the setup message; False when the connection was refused."""
        refusal = self.credential_error()
        if refusal is not None:
            await self.close(1008, refusal)
            return False
        if kind != "setup":
            await self.close(1007, "Invalid request: the first message must be a setup message.")
            return False
        model = str(body.get("model") or "")
        known = self.server.known_models
        if not model.startswith("models/") or (known is not None and model not in known):
            version = re.sub(r".*generativelanguage\.(v1\w+)\..*", r"\1", self.record.path)
            await self.close(
                1008,
                f"{model or 'models/'} is not found for API version {version}, or is not supported "
                "for bidiGenerateContent.",
            )
            return False
        generation = body.get("generationConfig", {})
        modalities = generation.get("responseModalities") or ["AUDIO"]
        voice = generation.get("speechConfig", {}).get("voiceConfig", {})
        name = str(voice.get("prebuiltVoiceConfig", {}).get("voiceName", "Puck"))
        if len(modalities) != 1 or name.lower() not in VOICES:
            await self.close(1007, INVALID_ARGUMENT)
            return False
        conversation = await self.open_conversation(body)
        if conversation is None:
            return False
        self.setup = body
        self.record.setup = body
        self.audio_mode = modalities[0] == "AUDIO"
        realtime = body.get("realtimeInputConfig", {})
        auto = realtime.get("automaticActivityDetection", {})
        self.manual = bool(auto.get("disabled"))
        self.interrupts = realtime.get("activityHandling") != "NO_INTERRUPTION"
        self.vad_config = auto
        await self.send({"setupComplete": {}})
        if "sessionResumption" in body:
            await self.send_handle()
        limit = self.server.max_connection_s
        if limit is not None:
            loop = asyncio.get_running_loop()
            lead = min(self.server.go_away_time_left, limit)
            self.limit_timer = loop.call_later(
                max(0.0, limit - lead), lambda: self.spawn(self.go_away(lead))
            )
        return True

    def credential_error(self) -> str | None:
        match = PATH.match(self.record.path)
        assert match is not None
        if match["method"] == "BidiGenerateContentConstrained":
            auth = self.record.headers.get("authorization", "")
            token = self.record.query.get("access_token") or auth.removeprefix("Token ").strip()
            uses = self.server.tokens.get(token)
            if match["version"] != "v1alpha" or uses is None or uses == 0:
                return BAD_TOKEN
            return None
        key = self.record.headers.get("x-goog-api-key") or self.record.query.get("key")
        if not key:
            return NO_KEY
        if self.server.api_key is not None and key != self.server.api_key:
            return BAD_KEY
        return None

    async def open_conversation(self, setup: dict[str, Any]) -> Conversation | None:
        handle = setup.get("sessionResumption", {}).get("handle")
        server = self.server
        if handle:
            snapshot = server.handles.get(handle)
            if snapshot is None:
                await self.close(1007, "Invalid session resumption handle: not found or expired.")
                return None
            conversation = snapshot.snapshot()
            server.resumed.append(handle)
            self.record.resumed_from = handle
        else:
            conversation = Conversation(id=f"conversation-{next(_conversation_ids)}")
            self.use_token()
        server.conversations[conversation.id] = conversation
        self.conversation = conversation
        self.record.conversation_id = conversation.id
        return conversation

    def use_token(self) -> None:
        """A new session spends one use of an ephemeral token (resuming does not)."""
        token = (
            self.record.query.get("access_token")
            or self.record.headers.get("authorization", "").removeprefix("Token ").strip()
        )
        uses = self.server.tokens.get(token)
        if uses is not None and uses > 0:
            self.server.tokens[token] = uses - 1

    # ------------------------------------------------------------------ client messages
    async def dispatch(self, kind: str, body: dict[str, Any]) -> None:
        if kind == "setup":
            await self.close(
                1007, "Invalid request: setup may only be sent once, as the first message."
            )
        elif kind == "realtimeInput":
            await self.on_realtime_input(body)
        elif kind == "clientContent":
            await self.on_client_content(body)
        elif kind == "toolResponse":
            self.on_tool_response(body)

    async def on_realtime_input(self, body: dict[str, Any]) -> None:
        if ("activityStart" in body or "activityEnd" in body) and not self.manual:
            await self.close(
                1007,
                "Explicit activity control is not supported when automatic activity detection "
                "is enabled.",
            )
            return
        if "video" in body and not await self.on_video(body["video"]):
            return
        for blob in [body["audio"]] if "audio" in body else body.get("mediaChunks", []):
            mime = str(blob.get("mimeType") or "")
            if not mime.startswith("audio/pcm"):
                if mime.startswith(("image/", "video/")):
                    continue
                await self.close(
                    1007, f"Unsupported mime type for realtime input: {mime or '(none)'}"
                )
                return
            await self.on_audio(blob.get("data", b""), pcm_rate(mime, 16000))
        if "activityStart" in body:
            await self.user_started()
        if "activityEnd" in body:
            await self.user_ended()
        if body.get("audioStreamEnd") and self.vad is not None:
            await self.on_vad(self.vad.flush())
        if body.get("text"):
            await self.interrupt_reply()
            self.start_reply(str(body["text"]), from_audio=False)

    async def on_video(self, blob: dict[str, Any]) -> bool:
        """A camera frame: an image Blob (JPEG or PNG), recorded; anything else closes 1007."""
        mime = str(blob.get("mimeType") or "")
        data = blob.get("data", b"")
        image = data if isinstance(data, bytes) else b""
        magic = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG"}.get(mime)
        if magic is None or not image.startswith(magic):
            what = mime or "(none)"
            await self.close(1007, f"Invalid video frame for realtime input: {what}")
            return False
        self.record.video.append((mime, image))
        return True

    async def on_audio(self, pcm: bytes, rate: int) -> None:
        self.record.audio += pcm
        self.record.audio_rate = rate
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype=np.int16)
        if self.user_speaking:
            self.user_samples += len(samples)
        if self.manual:
            return
        if self.vad is None:
            self.vad = EnergyVAD.from_setup(rate, self.vad_config)
        await self.on_vad(self.vad.process(samples))

    async def on_vad(self, events: list[VadEvent]) -> None:
        for event in events:
            if event.kind == "start":
                await self.user_started()
            else:
                await self.user_ended()

    async def user_started(self) -> None:
        self.user_speaking = True
        self.user_samples = 0
        if self.server.voice_activity:
            await self.send({"voiceActivity": {"voiceActivityType": "ACTIVITY_START"}})
        await self.interrupt_reply()

    async def user_ended(self) -> None:
        if not self.user_speaking:
            return
        self.user_speaking = False
        if self.server.voice_activity:
            await self.send({"voiceActivity": {"voiceActivityType": "ACTIVITY_END"}})
        seconds = self.user_samples / max(1, self.record.audio_rate)
        self.start_reply(f"({seconds:.1f} seconds of speech)", from_audio=True)

    async def on_client_content(self, body: dict[str, Any]) -> None:
        assert self.conversation is not None
        if REALTIME_TEXT_ONLY.match(str(self.setup.get("model") or "")):
            seeding = self.setup.get("historyConfig", {}).get("initialHistoryInClientContent")
            if not seeding or self.model_turns or body.get("turnComplete"):
                await self.close(1007, INVALID_ARGUMENT)
                return
        await self.interrupt_reply()  # client content interrupts any generation
        last_user = ""
        for content in body.get("turns", []):
            role = str(content.get("role") or "user")
            text = "".join(str(p.get("text", "")) for p in content.get("parts", []))
            if body.get("turnComplete") and role == "user" and content is body["turns"][-1]:
                last_user = text
            else:
                self.conversation.turns.append({"role": role, "text": text})
        if body.get("turnComplete"):
            self.start_reply(last_user, from_audio=False)

    def on_tool_response(self, body: dict[str, Any]) -> None:
        for response in body.get("functionResponses", []):
            call_id = str(response.get("id") or "")
            if call_id in self.pending_calls:
                self.tool_results[call_id] = response
        if self.pending_calls and all(cid in self.tool_results for cid in self.pending_calls):
            self.tools_answered.set()

    # ------------------------------------------------------------------ model turns
    def start_reply(self, heard: str, *, from_audio: bool) -> None:
        self.spawn(self.reply(heard, from_audio))

    async def interrupt_reply(self) -> None:
        if self.turn_open and self.interrupts:
            self.interrupt.set()
            async with self.reply_lock:  # the reply task ends the turn, then releases
                pass

    async def reply(self, heard: str, from_audio: bool) -> None:
        async with self.reply_lock:
            conversation = self.conversation
            assert conversation is not None
            self.interrupt = asyncio.Event()
            reply = self.server.next_reply(conversation, heard)
            said = reply.heard if reply.heard is not None else heard
            conversation.turns.append({"role": "user", "text": said})
            self.turn_open = True
            if from_audio and "inputAudioTranscription" in self.setup:
                await self.send_input_transcription(said)
            if "sessionResumption" in self.setup:
                await self.send({"sessionResumptionUpdate": {}})  # not resumable mid-turn
            text = reply.text
            if reply.blocked is not None:
                await self.end_blocked(conversation, reply.blocked)
                return
            if reply.tool_calls and not await self.call_tools(reply.tool_calls):
                await self.end_interrupted(conversation, "")
                return
            if "{results}" in text:
                results = [r.get("response", {}) for r in self.tool_results.values()]
                text = text.replace("{results}", json.dumps(results, separators=(",", ":")))
            late_output: list[str] = []
            spoken = await self.speak(reply, text, late_output)
            if spoken is None:
                await self.end_interrupted(conversation, text)
                return
            await self.send(
                {"serverContent": self.turn_complete(), "usageMetadata": self.usage(spoken)}
            )
            for piece in late_output:  # wild: the transcript's tail after the turn ended
                await self.send({"serverContent": {"outputTranscription": {"text": piece}}})
            conversation.turns.append({"role": "model", "text": text})
            conversation.replies += 1
            self.turn_open = False
            await self.send_handle()

    async def call_tools(self, calls: list[ToolCall]) -> bool:
        self.pending_calls = {call.id: call for call in calls}
        self.tool_results = {}
        self.tools_answered = asyncio.Event()
        await self.send(
            {
                "toolCall": {
                    "functionCalls": [{"id": c.id, "name": c.name, "args": c.args} for c in calls]
                }
            }
        )
        answered = await self.until(self.tools_answered)
        assert self.conversation is not None
        if not answered:
            await self.send({"toolCallCancellation": {"ids": list(self.pending_calls)}})
            self.pending_calls = {}
            return False
        for call_id, response in self.tool_results.items():
            self.conversation.tool_results.append(
                {
                    "id": call_id,
                    "name": self.pending_calls[call_id].name,
                    "response": response.get("response"),
                }
            )
        self.pending_calls = {}
        return True

    async def speak(self, reply: Reply, text: str, late_output: list[str]) -> float | None:
        """Send the reply's parts; the seconds of audio sent, or None when interrupted.

        Wild: the transcript's tail goes to ``late_output`` (sent after ``turnComplete``).
        """
        audio = audio_for(reply) if self.audio_mode else np.zeros(0, np.int16)
        step = max(1, int(OUTPUT_RATE * reply.chunk_ms / 1000))
        chunks = [audio[i : i + step] for i in range(0, len(audio), step)]
        per = max(1, reply.parts_per_message)
        messages: list[list[np.ndarray[Any, np.dtype[np.int16]]]] = [
            chunks[i : i + per] for i in range(0, len(chunks), per)
        ] or [[]]
        pieces = spread_words(text, len(messages))
        wild = self.wild
        if wild is not None and wild.chance(wild.late_output) and self.audio_mode:
            keep, late = wild.split([p for p in pieces if p])
            late_output += late
            pieces = keep + [""] * (len(messages) - len(keep))
        loop = asyncio.get_running_loop()
        started = loop.time()
        for group, piece in zip(messages, pieces, strict=True):
            if self.interrupt.is_set():
                return None
            transcript = bool(piece) and "outputAudioTranscription" in self.setup
            first = wild is not None and transcript and wild.chance(wild.transcript_first)
            if first:
                await self.send({"serverContent": {"outputTranscription": {"text": piece}}})
            if self.audio_mode:
                mime = f"audio/pcm;rate={OUTPUT_RATE}"
                parts = [
                    {"inlineData": {"mimeType": mime, "data": b64encode(c.tobytes())}}
                    for c in group
                ]
                await self.send({"serverContent": {"modelTurn": {"parts": parts}}})
                self.model_turns += 1
                await self.send_late_input()
                if transcript and not first:
                    await self.send({"serverContent": {"outputTranscription": {"text": piece}}})
            elif piece:
                await self.send({"serverContent": {"modelTurn": {"parts": [{"text": piece}]}}})
                self.model_turns += 1
                await self.send_late_input()
            if wild is not None:
                await wild.pause()
            await asyncio.sleep(0)
        if self.interrupt.is_set():
            return None
        await self.send({"serverContent": {"generationComplete": True}})
        seconds = len(audio) / OUTPUT_RATE
        remaining = seconds * self.server.playback_wait - (loop.time() - started)
        if remaining > 0 and await self.until(self.interrupt, remaining):
            return None
        return seconds

    async def end_interrupted(self, conversation: Conversation, text: str) -> None:
        await self.send_late_input()
        await self.send({"serverContent": {"interrupted": True}})
        wild = self.wild
        if wild is None or not wild.chance(wild.bare_interrupt):
            await self.send({"serverContent": self.turn_complete()})
        conversation.turns.append({"role": "model", "text": f"{text} [interrupted]".strip()})
        conversation.replies += 1
        self.turn_open = False
        await self.send_handle()

    async def until(self, event: asyncio.Event, within: float | None = None) -> bool:
        """Wait for ``event`` (True) or an interruption / the timeout (False)."""
        waiters = [asyncio.ensure_future(event.wait())]
        if event is not self.interrupt:
            waiters.append(asyncio.ensure_future(self.interrupt.wait()))
        try:
            await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if event is self.interrupt:
            return event.is_set()
        return event.is_set() and not self.interrupt.is_set()

    async def send_input_transcription(self, text: str) -> None:
        """The user's words; wild: no ``finished``, and part of it after the reply starts."""
        wild = self.wild
        if wild is None:
            await self.send_transcription("inputTranscription", text)
            return
        now, later = wild.split(words_in_pieces(text, wild.rng.randint(1, 4)))
        if not wild.chance(wild.late_input):
            now, later = now + later, []
        for piece in now:
            await self.send({"serverContent": {"inputTranscription": {"text": piece}}})
            await wild.pause()
        self.late_input = later

    async def send_late_input(self) -> None:
        pieces, self.late_input = self.late_input, []
        for piece in pieces:
            await self.send({"serverContent": {"inputTranscription": {"text": piece}}})

    def turn_complete(self, reason: str | None = None) -> dict[str, Any]:
        """A ``turnComplete`` body; newer servers add ``interactionStatus`` (wild mode)."""
        body: dict[str, Any] = {"turnComplete": True}
        if reason is not None:
            body["turnCompleteReason"] = reason
        if self.wild is not None:
            body["interactionStatus"] = "IDLE"
        return body

    async def end_blocked(self, conversation: Conversation, reason: str) -> None:
        """A reply a safety filter stopped: no content, a ``turnCompleteReason`` says why."""
        await self.send_late_input()
        await self.send(
            {"serverContent": self.turn_complete(reason), "usageMetadata": self.usage(0)}
        )
        conversation.turns.append({"role": "model", "text": f"[blocked: {reason}]"})
        conversation.replies += 1
        self.turn_open = False
        await self.send_handle()

    async def send_transcription(self, key: str, text: str) -> None:
        words = text.split(" ")
        half = max(1, len(words) // 2)
        pieces = (
            [" ".join(words[:half]), " " + " ".join(words[half:])] if len(words) > 1 else [text]
        )
        for i, piece in enumerate(pieces):
            body: dict[str, Any] = {"text": piece}
            if i == len(pieces) - 1:
                body["finished"] = True
            await self.send({"serverContent": {key: body}})

    async def send_handle(self) -> None:
        if "sessionResumption" in self.setup and self.conversation is not None:
            handle = self.server.issue_handle(self.conversation)
            await self.send({"sessionResumptionUpdate": {"newHandle": handle, "resumable": True}})

    def usage(self, reply_seconds: float) -> dict[str, Any]:
        prompt = int(self.user_samples / max(1, self.record.audio_rate) * AUDIO_TOKENS_PER_S) + 1
        response = max(1, int(reply_seconds * AUDIO_TOKENS_PER_S))
        modality = "AUDIO" if self.audio_mode else "TEXT"
        thoughts = self.wild.thoughts_tokens() if self.wild is not None else 0
        usage: dict[str, Any] = {
            "promptTokenCount": prompt,
            "responseTokenCount": response,
            "totalTokenCount": prompt + response + thoughts,
            "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": prompt}],
            "responseTokensDetails": [{"modality": modality, "tokenCount": response}],
        }
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts  # counted in the total, not in the response
        return usage


def spread_words(text: str, count: int) -> list[str]:
    """Split ``text`` over ``count`` messages as streamed deltas (joined, they give ``text``)."""
    words = text.split(" ") if text else []
    pieces: list[str] = []
    said = 0
    for index in range(count):
        upto = len(words) * (index + 1) // count
        piece = " ".join(words[said:upto])
        pieces.append((" " if said and piece else "") + piece)
        said = upto
    return pieces


def _clean_path(target: str) -> str:
    """The request path, with doubled slashes folded the way Google's front end folds them."""
    return re.sub(r"/{2,}", "/", urlsplit(target).path)
