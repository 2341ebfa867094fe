"""A tiny provider and its server, so the core is tested through a real websocket.

The "echo" protocol is JSON text frames with a ``type`` field:

client → server: ``session.start``, ``audio {audio}`` (PCM16 16 kHz, base64),
``text {text}``, ``truncate {item_id, audio_end_ms}``, ``function_result``.
server → client: ``session.ready``, ``audio {item_id, audio}`` (PCM16 24 kHz),
``audio.done {item_id}``, ``speech.started``, ``speech.stopped``,
``transcript {role, text, final}``, ``error {message, fatal}``.

In echo mode the server says back every chunk it hears, resampled to 24 kHz:
a loopback bot. Tests drive the rest with :meth:`EchoServer.send`.
"""

from __future__ import annotations

import asyncio
import base64
import http
import json
from typing import Any

import numpy as np
import soxr
from pydantic import SecretStr
from websockets.asyncio.server import Request, Response, ServerConnection
from websockets.datastructures import Headers

from rtws import AudioChunk, RealTimeWebsocketTransport, TransportOptions, rtvi
from rtws.errors import ProviderError
from tests.local_server import LocalServer


class EchoOptions(TransportOptions):
    url: str
    api_key: SecretStr | None = None


class EchoTransport(RealTimeWebsocketTransport):
    """The whole provider: a translation table between the echo protocol and rtws."""

    provider_name = "echo"
    options_class = EchoOptions
    input_sample_rate = 16000
    output_sample_rate = 24000

    options: EchoOptions

    def __init__(self, options: EchoOptions, media: Any = None) -> None:
        super().__init__(options, media)
        self.truncations: list[dict[str, Any]] = []
        self.hook_calls: list[str] = []

    async def initialize_llm(self) -> None:
        self.hook_calls.append("initialize_llm")
        self._session_ready = asyncio.Event()

    async def attach_llm_listeners(self) -> None:
        self.hook_calls.append("attach_llm_listeners")
        self.on_llm_message("session.ready", lambda m: self._session_ready.set())
        self.on_llm_message("audio", self._on_audio)
        self.on_llm_message("audio.done", lambda m: self.bot_audio_done(m.get("item_id")))
        self.on_llm_message("speech.started", self._on_speech_started)
        self.on_llm_message("speech.stopped", lambda m: self.user_stopped_speaking())
        self.on_llm_message("transcript", self._on_transcript)
        self.on_llm_message("error", self._on_error)

    async def connect_llm(self) -> None:
        self.hook_calls.append("connect_llm")
        self._session_ready.clear()
        key = self.options.api_key  # read per connect: a fixed key applies on the next try
        headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}
        await self.open_websocket(self.options.url, headers)
        await self.send_json({"type": "session.start"})
        await self._session_ready.wait()

    async def disconnect_llm(self) -> None:
        self.hook_calls.append("disconnect_llm")
        await self.send_json({"type": "session.end"})

    async def handle_user_audio_stream(self, chunk: AudioChunk) -> None:
        await self.send_json(
            {"type": "audio", "seq": chunk.seq, "audio": base64.b64encode(chunk.pcm).decode()}
        )

    async def send_ready_message(self) -> None:
        self.hook_calls.append("send_ready_message")
        self.emit_bot_ready()

    async def send_message(self, message: rtvi.RTVIMessage) -> None:
        if isinstance(message, rtvi.SendText):
            await self.send_json({"type": "text", "text": message.data.content})
            return
        await super().send_message(message)

    # ---- incoming
    def _on_audio(self, msg: dict[str, Any]) -> None:
        self.play_bot_audio(base64.b64decode(msg["audio"]), msg.get("item_id"))

    async def _on_speech_started(self, msg: dict[str, Any]) -> None:
        mark = self.user_started_speaking()
        if mark.item_id is not None:
            truncate = {"type": "truncate", "item_id": mark.item_id, "audio_end_ms": mark.played_ms}
            self.truncations.append(truncate)
            await self.send_json(truncate)

    def _on_transcript(self, msg: dict[str, Any]) -> None:
        if msg.get("role") == "user":
            self.emit(
                rtvi.UserTranscription(
                    data=rtvi.UserTranscriptionData(
                        text=msg["text"], user_id="", timestamp="", final=bool(msg.get("final"))
                    )
                )
            )
        else:
            self.emit(rtvi.BotLLMText(data=rtvi.TextData(text=msg["text"])))

    def _on_error(self, msg: dict[str, Any]) -> None:
        if msg.get("fatal"):
            self.connection_error(ProviderError(msg["message"], fatal=True))
        else:
            self.emit_error(msg["message"])


class EchoServer(LocalServer):
    """The echo protocol's server on 127.0.0.1, with knobs for failure tests."""

    path = "/echo"

    def __init__(self, api_key: str | None = None, echo: bool = False) -> None:
        super().__init__()
        self.api_key = api_key
        self.echo = echo
        self.received: list[dict[str, Any]] = []
        self.audio_in = bytearray()
        self.reject_status: int | None = None
        self.retry_after: str | None = None
        self.hold_ready = False  # never answer session.start
        self.handshake_delay = 0.0
        self.seqs: list[int] = []  # mic chunk numbers in arrival order, across connections

    async def _check_request(self, conn: ServerConnection, request: Request) -> Response | None:
        if self.handshake_delay:
            await asyncio.sleep(self.handshake_delay)
        if self.reject_status is not None:
            headers = Headers({"Content-Type": "application/json"})
            if self.retry_after is not None:
                headers["Retry-After"] = self.retry_after
            body = json.dumps({"error": {"message": "rejected by test", "code": "test"}}).encode()
            return Response(
                self.reject_status, http.HTTPStatus(self.reject_status).phrase, headers, body
            )
        if (
            self.api_key is not None
            and request.headers.get("Authorization") != f"Bearer {self.api_key}"
        ):
            body = json.dumps(
                {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
            )
            return conn.respond(http.HTTPStatus.UNAUTHORIZED, body + "\n")
        return None

    async def _handle(self, conn: ServerConnection) -> None:
        self.connections.append(conn)
        async for frame in conn:
            msg = json.loads(frame)
            self.received.append(msg)
            kind = msg.get("type")
            if kind == "session.start" and not self.hold_ready:
                await conn.send(json.dumps({"type": "session.ready"}))
            elif kind == "audio":
                pcm = base64.b64decode(msg["audio"])
                self.audio_in += pcm
                self.seqs.append(msg.get("seq", -1))
                if self.echo:
                    await self._echo(conn, pcm)
            elif kind == "text":
                await conn.send(
                    json.dumps(
                        {"type": "transcript", "role": "bot", "text": f"you said {msg['text']}"}
                    )
                )

    async def _echo(self, conn: ServerConnection, pcm: bytes) -> None:
        samples = np.frombuffer(pcm, dtype=np.int16)
        out = soxr.resample(samples, 16000, 24000)
        await conn.send(
            json.dumps(
                {
                    "type": "audio",
                    "item_id": "echo",
                    "audio": base64.b64encode(out.tobytes()).decode(),
                }
            )
        )

    async def send_audio(
        self, pcm: np.ndarray[Any, np.dtype[np.int16]], item_id: str, piece_ms: int = 40
    ) -> None:
        step = 24 * piece_ms
        for i in range(0, len(pcm), step):
            await self.send(
                {
                    "type": "audio",
                    "item_id": item_id,
                    "audio": base64.b64encode(pcm[i : i + step].tobytes()).decode(),
                }
            )
        await self.send({"type": "audio.done", "item_id": item_id})

    async def close_all(self, code: int = 1011, reason: str = "") -> None:
        for conn in list(self.connections):
            await conn.close(code, reason)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m.get("type") == kind]
