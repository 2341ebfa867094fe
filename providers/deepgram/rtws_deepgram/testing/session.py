"""One Voice Agent connection in the fake: the protocol state machine.

The order of messages is the documented one (Deepgram's "Voice Agent
Message Flow"): ``Welcome`` first; ``Settings`` before anything else,
answered by ``SettingsApplied``; then binary PCM both ways. A user turn is
``UserStartedSpeaking`` (energy VAD on the mic audio), then
``ConversationText`` (role ``user``) at the end of the turn; a reply is
``AgentThinking``, ``FunctionCallRequest`` (waiting for the client's
``FunctionCallResponse``; ``FunctionCallCancelled`` if the user cuts in first),
``AgentStartedSpeaking`` with its latencies,
``ConversationText`` (role ``assistant``), binary audio paced in real time,
``AgentAudioDone``. The user speaking over a reply cuts it: the client is
told with ``UserStartedSpeaking`` and must discard what it buffered; a few
frames already "in flight" may still follow (``late_audio_ms``), as on a
real network. Every ``Error`` is fatal: it is sent, then the socket closes.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from rtws.testing.served import ServedConnection

from .replies import ConnectionRecord, FunctionCall, Int16Array, Reply
from .schema import SessionConfig, SettingsError, parse_settings
from .vad import EnergyVAD

if TYPE_CHECKING:
    from .server import FakeDeepgramAgent


class Session(ServedConnection[ConnectionRecord]):
    """One connection's protocol: JSON messages and binary PCM, in the documented order."""

    def __init__(
        self, server: FakeDeepgramAgent, ws: ServerConnection, record: ConnectionRecord
    ) -> None:
        super().__init__(ws, record, server.notify)
        self.server = server
        self.config: SessionConfig | None = None
        self.vad: EnergyVAD | None = None
        self.turn_audio = bytearray()
        self.user_speaking = False
        self.replying = False
        self.cut = asyncio.Event()  # the current reply was interrupted
        self.reply_lock = asyncio.Lock()
        self.answers: dict[str, dict[str, Any]] = {}
        self.answered = asyncio.Event()
        self.last_heard = time.monotonic()
        self.turn_ended_at = time.monotonic()

    # ------------------------------------------------------------------ sending
    async def send(self, message: dict[str, Any]) -> None:
        self.record.sent.append(message)
        self.server.notify()
        await self.ws.send(json.dumps(message, separators=(",", ":")))

    async def send_audio(self, pcm: bytes) -> None:
        self.record.audio_out += pcm
        await self.ws.send(pcm)

    async def fatal(self, code: str, description: str) -> None:
        """An ``Error``, then the close: the service treats every Error as the session's end."""
        await self.send({"type": "Error", "description": description, "code": code})
        await self.close(1000, description)

    # ------------------------------------------------------------------ the connection
    async def run(self) -> None:
        self.spawn(self.watch_idle())
        try:
            if self.server.welcome:
                await self.send({"type": "Welcome", "request_id": str(uuid.uuid4())})
            async for frame in self.ws:
                self.last_heard = time.monotonic()
                if isinstance(frame, bytes):
                    await self.on_audio(frame)
                else:
                    await self.on_text(frame)
        except ConnectionClosed:
            pass
        finally:
            self.ended()

    async def watch_idle(self) -> None:
        """``CLIENT_MESSAGE_TIMEOUT`` when neither audio nor any message came for too long."""
        timeout = self.server.idle_timeout
        if timeout is None:
            return
        while True:
            left = self.last_heard + timeout - time.monotonic()
            if left <= 0:
                await self.fatal(
                    "CLIENT_MESSAGE_TIMEOUT",
                    f"We did not receive audio or a KeepAlive within {timeout:g} seconds.",
                )
                return
            await asyncio.sleep(left)

    async def on_text(self, frame: str) -> None:
        try:
            message: Any = json.loads(frame)
        except ValueError:
            await self.fatal("UNPARSABLE_CLIENT_MESSAGE", "The message is not valid JSON.")
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.fatal("UNPARSABLE_CLIENT_MESSAGE", "A message needs a string 'type'.")
            return
        body = cast("dict[str, Any]", message)
        self.record.received.append(body)
        self.server.notify()
        await self.dispatch(str(body["type"]), body)

    async def dispatch(self, kind: str, message: dict[str, Any]) -> None:
        if kind == "Settings":
            await self.on_settings(message)
        elif self.config is None:
            await self.fatal(
                "NON_SETTINGS_MESSAGE_BEFORE_SETTINGS",
                f"Received a {kind} message before the Settings message.",
            )
        elif kind == "KeepAlive":
            self.record.keepalives += 1
        elif kind == "InjectUserMessage" and isinstance(message.get("content"), str):
            await self.on_user_text(message["content"])
        elif kind == "InjectAgentMessage" and isinstance(message.get("message"), str):
            await self.on_agent_text(message["message"], message.get("behavior", "default"))
        elif kind == "FunctionCallResponse" and isinstance(message.get("content"), str):
            self.answers[str(message.get("id"))] = message
            self.answered.set()
        elif kind == "UpdatePrompt" and isinstance(message.get("prompt"), str):
            await self.send({"type": "PromptUpdated"})
        elif kind == "UpdateSpeak" and isinstance(message.get("speak"), dict | list):
            await self.send({"type": "SpeakUpdated"})
        else:
            await self.fatal(
                "UNPARSABLE_CLIENT_MESSAGE",
                f"Could not parse the {kind} message against the Voice Agent API schema.",
            )

    async def on_settings(self, message: dict[str, Any]) -> None:
        if self.config is not None:
            await self.fatal("SETTINGS_ALREADY_APPLIED", "Settings were already applied.")
            return
        try:
            config = parse_settings(message)
        except SettingsError as exc:
            await self.fatal(exc.code, exc.description)
            return
        self.config, self.record.settings = config, message
        self.record.input_rate, self.record.output_rate = config.input_rate, config.output_rate
        self.vad = EnergyVAD(config.input_rate)
        await self.send({"type": "SettingsApplied"})
        if config.greeting:
            self.start_reply(Reply(text=config.greeting))

    # ------------------------------------------------------------------ the user
    async def on_audio(self, pcm: bytes) -> None:
        if self.config is None or self.vad is None:
            await self.fatal(
                "NON_SETTINGS_MESSAGE_BEFORE_SETTINGS",
                "Received audio before the Settings message.",
            )
            return
        self.record.audio_in += pcm
        self.server.notify()
        if not self.server.hear_speech:
            return
        if self.user_speaking:
            self.turn_audio += pcm
        for edge in self.vad.process(np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype=np.int16)):
            if edge == "start":
                self.turn_audio = bytearray(pcm)
                await self.user_started()
            else:
                await self.user_ended()

    async def user_started(self) -> None:
        self.user_speaking = True
        await self.send({"type": "UserStartedSpeaking"})
        if self.replying:
            self.cut.set()  # the reply task sends the in-flight tail and stops

    async def user_ended(self) -> None:
        assert self.config is not None
        assert self.vad is not None
        self.user_speaking = False
        self.turn_ended_at = time.monotonic()
        audio: Int16Array = np.frombuffer(bytes(self.turn_audio), dtype=np.int16)
        seconds = self.vad.voiced_samples / self.config.input_rate
        scripted = self.server.take_scripted()
        heard = scripted.heard if scripted is not None else None
        if heard is None:
            heard = await self.server.voice.transcribe(audio, self.config.input_rate)
        if heard is None:
            heard = f"({seconds:.1f} seconds of speech)"
        self.start_reply(scripted or self.server.reply_for(heard), heard=heard)

    async def on_user_text(self, content: str) -> None:
        self.turn_ended_at = time.monotonic()
        self.start_reply(
            self.server.take_scripted() or self.server.reply_for(content), heard=content
        )

    async def on_agent_text(self, text: str, behavior: Any) -> None:
        if behavior == "interrupt":
            self.cut.set()
        elif behavior != "queue" and (self.user_speaking or self.replying):
            await self.send(
                {
                    "type": "InjectionRefused",
                    "message": "Agent message injection refused: the user or the agent is "
                    "mid-turn.",
                }
            )
            return
        self.start_reply(Reply(text=text))

    # ------------------------------------------------------------------ the agent
    def start_reply(self, reply: Reply, *, heard: str | None = None) -> None:
        self.spawn(self.reply(reply, heard))

    async def reply(self, reply: Reply, heard: str | None) -> None:
        async with self.reply_lock:
            assert self.config is not None
            self.cut = asyncio.Event()
            self.replying = True
            try:
                if heard is not None:
                    await self.send({"type": "ConversationText", "role": "user", "content": heard})
                if reply.think:
                    await self.send({"type": "AgentThinking", "content": reply.think})
                text = reply.text
                if reply.calls:
                    results = await self.call_functions(reply.calls)
                    if results is None:
                        return
                    text = text.replace("{results}", "; ".join(results))
                await self.speak(reply, text)
            finally:
                self.replying = False

    async def call_functions(self, calls: list[FunctionCall]) -> list[str] | None:
        """Ask the client; the answers' contents in order, or None when the turn was cut."""
        assert self.config is not None
        self.answered.clear()
        await self.send(
            {
                "type": "FunctionCallRequest",
                "functions": [
                    {
                        "id": call.id,
                        "name": call.name,
                        "arguments": json.dumps(call.arguments),
                        "client_side": self.config.functions.get(call.name, True),
                    }
                    for call in calls
                ],
            }
        )
        while not all(call.id in self.answers for call in calls):
            if not await self.until(self.answered):
                # The turn was cut: the calls are void ("send no FunctionCallResponse").
                void = [{"id": c.id, "name": c.name} for c in calls if c.id not in self.answers]
                await self.send({"type": "FunctionCallCancelled", "functions": void})
                return None
            self.answered.clear()
        return [str(self.answers[call.id]["content"]) for call in calls]

    async def speak(self, reply: Reply, text: str) -> None:
        assert self.config is not None
        rate = self.config.output_rate
        thought = time.monotonic()
        audio = reply.audio if reply.audio is not None else await self.server.voice.say(text, rate)
        spoken = time.monotonic()
        words = {"type": "ConversationText", "role": "assistant", "content": text}
        if self.server.text_first:
            await self.send(words)
        await self.send(
            {
                "type": "AgentStartedSpeaking",
                "total_latency": round(spoken - self.turn_ended_at, 4),
                "tts_latency": round(spoken - thought, 4),
                "ttt_latency": round(thought - self.turn_ended_at, 4),
            }
        )
        if not self.server.text_first:
            await self.send(words)
        step = max(1, rate * self.server.piece_ms // 1000)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for offset in range(0, len(audio), step):
            if self.cut.is_set():
                await self.send_late(audio[offset:], rate)
                return
            await self.send_audio(audio[offset : offset + step].tobytes())
            due = started + (offset + step) / rate * self.server.pace
            if await self.until(self.cut, due - loop.time()):
                await self.send_late(audio[offset + step :], rate)
                return
        await self.send({"type": "AgentAudioDone"})

    async def send_late(self, rest: Int16Array, rate: int) -> None:
        """The frames already on their way when the user cut in (the client must drop them)."""
        late = rest[: rate * self.server.late_audio_ms // 1000]
        step = max(1, rate * self.server.piece_ms // 1000)
        for offset in range(0, len(late), step):
            await self.send_audio(late[offset : offset + step].tobytes())

    async def until(self, event: asyncio.Event, within: float | None = None) -> bool:
        """Wait for ``event`` (True), or the reply being cut or the time running out (False)."""
        if within is not None and within <= 0:
            return event.is_set()
        waiters = {asyncio.ensure_future(event.wait()), asyncio.ensure_future(self.cut.wait())}
        try:
            await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        return event.is_set() and (event is self.cut or not self.cut.is_set())
