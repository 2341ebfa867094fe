"""One Gemini Live connection in the fake: what it hears, and when the model's turn starts.

``setup`` comes first and is checked as Google checks it (credentials,
model, voice, modalities), answered by ``setupComplete``; a refused key is
not an HTTP error but a 1008 close after the upgrade, an invalid message a
1007 close with the parser's reason (see :mod:`.schema`). Then
``realtimeInput`` audio goes through server VAD (:mod:`.vad`) unless the
client signals ``activityStart``/``activityEnd`` itself; ``clientContent``
and ``toolResponse`` carry text and tool results. A connection past its
time limit gets ``goAway``, then a forced close. What the model says is
:mod:`.speaking`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from typing import TYPE_CHECKING, Any

import numpy as np
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from rtws.testing.fakeserver import authorization

from ..wire import format_duration, pcm_rate
from .records import ConnectionRecord
from .schema import InvalidMessage, parse_client_message
from .speaking import Speaker
from .turns import Conversation
from .vad import EnergyVAD, VadEvent

if TYPE_CHECKING:
    from .server import FakeGeminiServer

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
_conversation_ids = itertools.count(1)


class Session(Speaker):
    """One connection's protocol state machine."""

    def __init__(
        self, server: FakeGeminiServer, ws: ServerConnection, record: ConnectionRecord
    ) -> None:
        super().__init__(server, ws, record)
        request = ws.request
        assert request is not None
        #: The request's own headers: the record's are masked, the credential check needs the key.
        self.request_headers: Headers = request.headers
        self.vad: EnergyVAD | None = None
        self.manual = False
        self.user_speaking = False
        self.vad_config: dict[str, Any] = {}
        self.deadline: asyncio.TimerHandle | None = None
        self.limit_timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ time limits
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

    def stop(self) -> None:
        for timer in (self.deadline, self.limit_timer):
            if timer is not None:
                timer.cancel()
        super().stop()

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
        finally:
            self.ended()

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
            uses = self.server.tokens.get(self.token())
            if match["version"] != "v1alpha" or uses is None or uses == 0:
                return BAD_TOKEN
            return None
        key = self.request_headers.get("x-goog-api-key") or self.record.query.get("key")
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

    def token(self) -> str:
        """The ephemeral token: ``?access_token=`` or ``Authorization: Token <token>``."""
        return (
            self.record.query.get("access_token")
            or authorization(self.request_headers, "token")
            or ""
        )

    def use_token(self) -> None:
        """A new session spends one use of an ephemeral token (resuming does not)."""
        token = self.token()
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
