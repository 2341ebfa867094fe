"""A binary-PCM provider with no reply ids and a keepalive, and its server: provider API v2.

The "pcm" protocol has the shape of Deepgram's voice agent: JSON control
messages in text frames, raw PCM16 in binary frames both ways, no ids on
replies, and a keepalive the client must send.

client → server: ``setup`` (text), mic PCM16 16 kHz (binary), ``ping``, ``say {text}``,
``call_result {id, result}``.
server → client: ``ready``, ``user_speaking``, ``reply_started``, bot PCM16 24 kHz
(binary), ``reply_audio_done``, ``text {role, text}``, ``call {id, name, arguments}``,
``error {message, fatal}``.

:class:`PcmTransport` uses the base's websocket; :class:`OwnSocketPcmTransport`
speaks the same protocol over a socket it opens and reads itself, as a
provider built on an SDK client would.
"""

from __future__ import annotations

import asyncio
import http
import json
from typing import Any

import numpy as np
from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Request, Response, ServerConnection
from websockets.exceptions import ConnectionClosed

from rtws import AudioChunk, RealTimeWebsocketTransport, TransportOptions, rtvi
from rtws.connection import close_error, handshake_error
from rtws.conversation import events as ev
from rtws.errors import ConnectionLost
from tests.local_server import LocalServer

Int16Array = np.ndarray[Any, np.dtype[np.int16]]


class PcmOptions(TransportOptions):
    url: str
    api_key: SecretStr
    keepalive_s: float = 0.2


# --8<-- [start:pcm]
class PcmTransport(RealTimeWebsocketTransport):
    """Binary audio both ways, replies without ids, a keepalive: the whole provider."""

    provider_name = "pcm"
    options_class = PcmOptions
    input_sample_rate = 16000
    output_sample_rate = 24000
    announces_replies = True  # every reply starts with "reply_started"

    options: PcmOptions

    async def initialize_llm(self) -> None:
        self._ready = asyncio.Event()

    async def attach_llm_listeners(self) -> None:
        self.on_binary_message(self.play_bot_audio)  # no id: the base tracks the replies
        self.on_llm_message("ready", lambda m: self._ready.set())
        self.on_llm_message("user_speaking", lambda m: self.user_started_speaking())
        self.on_llm_message("reply_started", lambda m: self.bot_reply_started())
        self.on_llm_message("reply_audio_done", lambda m: self.bot_audio_done())
        self.on_llm_message("text", self._on_text)
        self.on_llm_message("call", self._on_call)
        self.on_llm_message("error", lambda m: self.feed(ev.ServerError(m["message"], m["fatal"])))

    async def connect_llm(self) -> None:
        self._ready = asyncio.Event()
        key = self.options.api_key.get_secret_value()
        await self.open_websocket(self.options.url, {"x-key": key})
        await self.send_json({"type": "setup"})
        await self._ready.wait()
        self.start_keepalive()

    def start_keepalive(self) -> None:
        """Ping while the session lasts: the base's keepalive task ends with every session."""
        self.keepalive(self.options.keepalive_s, lambda: self.send_json({"type": "ping"}))

    async def disconnect_llm(self) -> None:
        """Nothing to say: the base closes its socket and cancels the keepalive."""

    async def handle_user_audio_stream(self, chunk: AudioChunk) -> None:
        await self.send_bytes(chunk.pcm)

    async def send_ready_message(self) -> None:
        self.emit_bot_ready()

    async def send_message(self, message: rtvi.RTVIMessage) -> None:
        if isinstance(message, rtvi.SendText):
            await self.send_json({"type": "say", "text": message.data.content})
        elif isinstance(message, rtvi.LLMFunctionCallResult):
            call_id, result = message.data.tool_call_id, message.data.result
            if self.function_call_result(call_id, result, message.data.function_name):
                await self.send_json({"type": "call_result", "id": call_id, "result": result})
        else:
            await super().send_message(message)

    def _on_text(self, message: dict[str, Any]) -> None:
        if message["role"] == "user":
            self.user_transcript(message["text"], final=True)
        else:
            self.bot_transcript(message["text"])

    def _on_call(self, message: dict[str, Any]) -> None:
        self.function_call_arguments(message["id"], message["name"], message.get("arguments"))


# --8<-- [end:pcm]


# --8<-- [start:own]
class OwnSocketPcmTransport(PcmTransport):
    """The same protocol on a connection the provider owns (not ``open_websocket``)."""

    provider_name = "pcm-own"
    _sock: ClientConnection | None = None

    async def connect_llm(self) -> None:
        self._ready = asyncio.Event()
        key = self.options.api_key.get_secret_value()
        try:
            sock = await connect(self.options.url, additional_headers={"x-key": key})
        except Exception as exc:
            raise handshake_error(exc, self.provider_name, self.options.url) from None
        self._sock = sock
        self.spawn(self._read(sock), "reader")  # cancelled at every session end
        await self.send_json({"type": "setup"})
        await self._ready.wait()
        self.start_keepalive()

    async def _read(self, sock: ClientConnection) -> None:
        try:
            async for frame in sock:
                await self.dispatch_frame(frame)
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            code, reason = (rcvd.code, rcvd.reason) if rcvd is not None else (None, "")
            self.connection_lost(close_error(code, reason, self.provider_name))

    async def disconnect_llm(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            await sock.close()

    # --8<-- [end:own]

    async def send_json(self, message: Any) -> None:  # pyright: ignore[reportIncompatibleMethodOverride]
        await self._send(json.dumps(message))

    async def send_bytes(self, data: bytes | bytearray | memoryview) -> None:  # pyright: ignore[reportIncompatibleMethodOverride]
        await self._send(bytes(data))

    async def _send(self, data: str | bytes) -> None:
        sock = self._sock
        if sock is None:
            raise ConnectionLost("pcm-own is not connected")
        try:
            await sock.send(data)
        except ConnectionClosed:
            raise ConnectionLost("pcm-own connection closed") from None


class PcmServer(LocalServer):
    """The pcm protocol's server on 127.0.0.1, with the knobs the kit's checks need."""

    path = "/pcm"

    def __init__(self, api_key: str = "pcm-key-0123456789") -> None:
        super().__init__()
        self.api_key = api_key
        self.audio_in = bytearray()
        self.texts: list[str] = []
        self.call_results: list[tuple[str, Any]] = []
        self.pings = 0

    async def _check_request(self, conn: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("x-key") != self.api_key:
            return conn.respond(http.HTTPStatus.UNAUTHORIZED, "bad key\n")
        return None

    async def _handle(self, conn: ServerConnection) -> None:
        self.connections.append(conn)
        async for frame in conn:
            if isinstance(frame, bytes):
                self.audio_in += frame
                continue
            message = json.loads(frame)
            kind = message["type"]
            if kind == "setup":
                await conn.send(json.dumps({"type": "ready"}))
            elif kind == "ping":
                self.pings += 1
            elif kind == "say":
                self.texts.append(message["text"])
            elif kind == "call_result":
                self.call_results.append((message["id"], message["result"]))

    async def audio(self, pcm: Int16Array, piece_ms: int = 40) -> None:
        step = 24 * piece_ms
        for i in range(0, len(pcm), step):
            await self.connections[-1].send(pcm[i : i + step].tobytes())

    async def say(self, pcm: Int16Array, text: str = "") -> None:
        """One whole reply: its start, its audio in binary frames, its words, its end."""
        await self.send({"type": "reply_started"})
        await self.audio(pcm)
        if text:
            await self.send({"type": "text", "role": "bot", "text": text})
        await self.send({"type": "reply_audio_done"})
