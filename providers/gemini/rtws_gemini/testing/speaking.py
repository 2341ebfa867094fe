"""The model's side of a Gemini Live connection: its turns, as the service sends them.

A reply is ``inputTranscription`` (what the user said), optional
``toolCall`` (waiting for every ``toolResponse``; ``toolCallCancellation`` if
the user cuts in first), ``modelTurn`` audio parts at 24 kHz with
``outputTranscription``, ``generationComplete``, a wait for real-time
playback, then ``turnComplete`` with ``usageMetadata``. Barge-in sends
``interrupted`` (then ``turnComplete``); a safety block ends a turn with no
content and a ``turnCompleteReason``. Wild mode (:mod:`.wild`) reorders what
the protocol leaves unordered.

Kept apart from :mod:`.session`, which listens (setup, client messages,
VAD) and decides when a turn starts; this module only speaks.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import numpy as np
from websockets.asyncio.server import ServerConnection

from rtws.testing.served import ServedConnection

from ..wire import b64encode
from .records import ConnectionRecord
from .turns import OUTPUT_RATE, Conversation, Reply, ToolCall, audio_for
from .wild import words_in_pieces

if TYPE_CHECKING:
    from .server import FakeGeminiServer

#: Audio tokens per second, the rate Gemini bills audio at.
AUDIO_TOKENS_PER_S = 25


class Speaker(ServedConnection[ConnectionRecord]):
    """A connection's model turns; :class:`.session.Session` adds the listening side."""

    def __init__(
        self, server: FakeGeminiServer, ws: ServerConnection, record: ConnectionRecord
    ) -> None:
        super().__init__(ws, record, server.notify)
        self.server = server
        self.conversation: Conversation | None = None
        self.setup: dict[str, Any] = {}
        self.audio_mode = True
        self.interrupts = True
        self.user_samples = 0
        self.turn_open = False
        self.interrupt = asyncio.Event()
        self.pending_calls: dict[str, ToolCall] = {}
        self.tool_results: dict[str, dict[str, Any]] = {}
        self.tools_answered = asyncio.Event()
        self.reply_lock = asyncio.Lock()
        self.wild = server.wild
        self.late_input: list[str] = []  # wild: user transcript still to come mid-reply
        self.model_turns = 0

    async def send(self, message: dict[str, Any]) -> None:
        self.record.sent.append(message)
        text = json.dumps(message, separators=(",", ":"))
        await self.ws.send(text if self.server.text_frames else text.encode("utf-8"))

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
