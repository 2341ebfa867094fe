"""One response, from ``response.created`` to ``response.done``, in protocol order.

Audio goes out in ``piece_ms`` deltas with the transcript spread over them,
paced at ``pace`` x real time, so a client can barge in mid-reply. A cancel
(``response.cancel`` or speech detected) is honoured at the next delta: the
open item is closed as ``incomplete`` and ``response.done`` says
``cancelled`` with the reason, as the service does. The clock and the
cancel are :mod:`.pacing`'s.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import re
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from websockets.exceptions import ConnectionClosed

from . import events
from .bots import Bot, FunctionCall, Reply, Turn, stand_in_speech
from .conversation import BYTES_PER_MS, Conversation, Entry
from .pacing import Pacer, Streaming

Json = dict[str, Any]
CancelReason = Literal["turn_detected", "client_cancelled"]
log = logging.getLogger("rtws_openai.testing")


@dataclass(frozen=True)
class ResponseOptions:
    """The session's settings with ``response.create``'s overrides applied."""

    output_modalities: tuple[str, ...]
    instructions: str
    tools: tuple[Json, ...]
    in_conversation: bool
    conversation_id: str
    max_output_tokens: int | str
    audio_output: Json
    metadata: dict[str, str] | None = None


class Host(Protocol):
    """What a response needs from its connection."""

    conversation: Conversation
    streaming: Streaming

    async def send(self, event: Json, text: str | None = None) -> None: ...

    async def drop(self) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class _Stop(Exception):
    """The script ended the connection mid-response: send nothing more."""


def _words(text: str) -> list[str]:
    return re.findall(r"\S+\s*", text)


def _chunks(text: str, count: int) -> list[str]:
    size = max(1, math.ceil(len(text) / count))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class ResponseRun:
    def __init__(
        self,
        host: Host,
        bot: Bot,
        options: ResponseOptions,
        turn: Callable[[], Awaitable[Turn]],
    ) -> None:
        self.id = events.new_id("resp")
        self.host = host
        self.bot = bot
        self.options = options
        self.finished = asyncio.Event()
        self.status: str = "in_progress"
        self._turn = turn
        self.pacer = Pacer(host.streaming)
        self.cancel_reason: CancelReason | None = None
        self._output: list[Json] = []
        self._deltas = 0
        self._reply: Reply | None = None
        self._in_tokens = (0, 0)
        self._out_text_chars = 0
        self._out_audio_ms = 0.0

    # ------------------------------------------------------------- control
    def cancel(self, reason: CancelReason) -> None:
        if self.cancel_reason is None:
            self.cancel_reason = reason
            wild = self.host.streaming.wild
            speech = wild is not None and reason == "turn_detected"
            self.pacer.cancel(wild.deltas_in_flight() if wild is not None and speech else 0)

    @property
    def cancelled(self) -> bool:
        return self.pacer.cancelled

    async def run(self) -> None:
        try:
            await self._run()
        except (_Stop, ConnectionClosed):
            self.status = "interrupted"
        finally:
            self.finished.set()

    # ------------------------------------------------------------- the stream
    async def _run(self) -> None:
        await self._send(events.response_created(self._response("in_progress")))
        wild = self.host.streaming.wild
        if wild is None or wild.chance(0.5):  # optional: the service does not always send it
            await self._send(events.rate_limits_updated(remaining_tokens=398_000))
        turn = await self.pacer.until_cancelled(self._turn())
        if turn is None:
            return await self._finish()
        self._in_tokens = (
            (len(self.options.instructions) + len(turn.text or "")) // 4 + 1,
            round(turn.audio_seconds * 10),
        )
        try:
            reply = await self.pacer.until_cancelled(self.bot.respond(turn))
        except Exception as exc:  # a broken bot must not hang the client
            log.exception("fake realtime bot failed")
            reply = Reply.fail(f"The bot failed: {type(exc).__name__}: {exc}")
        if reply is None:
            return await self._finish()
        self._reply = reply
        if self.host.streaming.latency and not await self.pacer.sleep(self.host.streaming.latency):
            return await self._finish()
        if reply.error is not None:
            spec = reply.error
            await self._send(events.error(spec.message, type=spec.type, code=spec.code))
            return await self._finish(
                {
                    "type": "failed",
                    "error": {"type": spec.type, "code": spec.code, "message": spec.message},
                }
            )
        index = 0
        if (reply.text or reply.audio is not None) and not self.cancelled:
            await self._message(index, reply)
            index += 1
        for call in reply.calls:
            if self.cancelled:
                break
            await self._function_call(index, call)
            index += 1
        await self._finish()

    async def _finish(self, failure: Json | None = None) -> None:
        await self._checkpoint()
        if failure is not None:
            status, details = "failed", failure
        elif self.cancel_reason is not None:
            status, details = "cancelled", {"type": "cancelled", "reason": self.cancel_reason}
        else:
            status, details = "completed", None
        self.status = status
        done = events.response_done(self._response(status, details))
        # Inactive from here: a response.create racing this event must be accepted.
        self.finished.set()
        await self._send(done)

    def _response(self, status: Any, details: Json | None = None) -> Json:
        done = status != "in_progress"
        return events.response_object(
            self.id,
            status=status,
            status_details=details,
            output=list(self._output) if done else [],
            conversation_id=self.options.conversation_id if self.options.in_conversation else None,
            output_modalities=list(self.options.output_modalities),
            max_output_tokens=self.options.max_output_tokens,
            audio_output=self.options.audio_output,
            metadata=self.options.metadata,
            usage=self._usage() if done else None,
        )

    def _usage(self) -> Json:
        return events.usage(
            input_text=self._in_tokens[0],
            input_audio=self._in_tokens[1],
            output_text=math.ceil(self._out_text_chars / 4),
            output_audio=round(self._out_audio_ms / 50),
        )

    # ------------------------------------------------------------- items
    async def _open_item(self, index: int, item: Json) -> tuple[Entry, str | None]:
        entry = Entry(item)
        previous = None
        if self.options.in_conversation:
            previous = self.host.conversation.add(entry)
        await self._send(events.output_item_added(self.id, index, entry.wire()))
        if self.options.in_conversation:
            await self._send(events.item_added(entry.wire(), previous))
        return entry, previous

    async def _close_item(self, index: int, entry: Entry, previous: str | None) -> None:
        self._output.append(entry.wire())
        await self._send(events.output_item_done(self.id, index, entry.wire()))
        if self.options.in_conversation:
            await self._send(events.item_done(entry.wire(), previous))

    async def _message(self, index: int, reply: Reply) -> None:
        item_id = events.new_id("item")
        entry, previous = await self._open_item(
            index, events.assistant_item(item_id, "in_progress", [])
        )
        where = {"response_id": self.id, "item_id": item_id, "output_index": index}
        if "audio" in self.options.output_modalities:
            content = await self._stream_audio(where, entry, reply)
        else:
            content = await self._stream_text(where, reply.text)
        status = "incomplete" if self.cancelled else "completed"
        if entry.truncated_ms is not None and "transcript" in content:
            content = {**content, "transcript": ""}  # the service drops text never heard
        entry.item = events.assistant_item(item_id, status, [content])
        await self._close_item(index, entry, previous)

    async def _stream_audio(self, where: Json, entry: Entry, reply: Reply) -> Json:
        pieces, encoded = _audio_pieces(reply, self.host.streaming.piece_ms)
        deltas = events.AudioDeltas(where)
        words = _words(reply.text)
        await self._send(events.content_part_added(where, {"type": "audio", "transcript": ""}))
        # From here the item is an audio message being streamed: it can be truncated.
        entry.item = events.assistant_item(
            where["item_id"], "in_progress", [{"type": "output_audio", "transcript": ""}]
        )
        wild = self.host.streaming.wild
        spoken = 0
        for i, piece in enumerate(pieces):
            upto = math.ceil((i + 1) * len(words) / len(pieces))
            early = wild is not None and upto > spoken and wild.chance(wild.transcript_first)
            if early and not self.cancelled:
                await self._send(events.transcript_delta(where, "".join(words[spoken:upto])))
                spoken = upto
            if not await self._delta(*deltas.build(encoded[i])):
                break
            if entry.truncated_ms is None:
                entry.audio += piece
            self._out_audio_ms += len(piece) / BYTES_PER_MS
            if upto > spoken:
                await self._send(events.transcript_delta(where, "".join(words[spoken:upto])))
                spoken = upto
            if not await self.pacer.pace(len(piece) / BYTES_PER_MS / 1000):
                break
        if not pieces and words and await self._delta(events.transcript_delta(where, reply.text)):
            spoken = len(words)
        transcript = reply.text if spoken == len(words) else "".join(words[:spoken]).rstrip()
        self._out_text_chars += len(transcript)
        await self._send(events.audio_done(where))
        await self._send(events.transcript_done(where, transcript))
        part = {"type": "audio", "transcript": transcript}
        await self._send(events.content_part_done(where, part))
        return {"type": "output_audio", "transcript": transcript}

    async def _stream_text(self, where: Json, text: str) -> Json:
        await self._send(events.content_part_added(where, {"type": "text", "text": ""}))
        words = _words(text)
        sent = ""
        for i in range(0, len(words), 3):
            delta = "".join(words[i : i + 3])
            if not await self._delta(events.text_delta(where, delta)):
                break
            sent += delta
            if not await self.pacer.pace(self.host.streaming.piece_ms / 1000):
                break
        final = text if sent == text else sent.rstrip()
        self._out_text_chars += len(final)
        await self._send(events.text_done(where, final))
        await self._send(events.content_part_done(where, {"type": "text", "text": final}))
        return {"type": "output_text", "text": final}

    async def _function_call(self, index: int, call: FunctionCall) -> None:
        item_id = events.new_id("item")
        call_id = call.call_id or events.new_id("call")
        entry, previous = await self._open_item(
            index, events.function_call_item(item_id, "in_progress", call.name, call_id, "")
        )
        where = {"response_id": self.id, "item_id": item_id, "output_index": index}
        sent = ""
        for chunk in _chunks(call.arguments, 4):
            if not await self._delta(events.arguments_delta(where, call_id, chunk)):
                break
            sent += chunk
            if not await self.pacer.pace(0.0):
                break
        complete = sent == call.arguments
        if complete:
            await self._send(events.arguments_done(where, call_id, call.name, call.arguments))
        self._out_text_chars += len(sent)
        entry.item = events.function_call_item(
            item_id, "completed" if complete else "incomplete", call.name, call_id, sent
        )
        await self._close_item(index, entry, previous)

    # ------------------------------------------------------------- plumbing
    async def _send(self, event: Json) -> None:
        await self.host.send(event)

    async def _delta(self, event: Json, text: str | None = None) -> bool:
        """Send one delta unless cancelled; a scripted drop/close may end everything here.

        Wild: a few deltas already produced still go out after a cancel by speech.
        """
        if not self.pacer.may_send():
            return False
        reply = self._reply
        if reply is not None and (reply.drop_after is not None or reply.close_after is not None):
            await self._checkpoint()
        await self.host.send(event, text)
        self._deltas += 1
        return True

    async def _checkpoint(self) -> None:
        """Carry out the reply's ``drop_after``/``close_after`` once that many deltas went out."""
        reply = self._reply
        if reply is None:
            return
        if reply.drop_after is not None and self._deltas >= reply.drop_after:
            await self.host.drop()
            raise _Stop
        if reply.close_after is not None and self._deltas >= reply.close_after:
            await self.host.close(reply.close_code, reply.close_reason)
            raise _Stop


#: Each reply's audio cut into deltas, raw and base64, for as long as the reply lives.
_PIECES: weakref.WeakKeyDictionary[Reply, tuple[int, list[bytes], list[str]]] = (
    weakref.WeakKeyDictionary()
)


def _audio_pieces(reply: Reply, piece_ms: int) -> tuple[list[bytes], list[str]]:
    """The reply's audio in ``piece_ms`` deltas, cut and encoded once per reply: a bot
    that gives a fleet of sessions the same reply does not re-encode it every turn."""
    cached = _PIECES.get(reply)
    if cached is not None and cached[0] == piece_ms:
        return cached[1], cached[2]
    audio = reply.audio if reply.audio is not None else stand_in_speech(reply.text)
    pcm = audio.astype("<i2").tobytes()
    step = piece_ms * BYTES_PER_MS
    pieces = [pcm[i : i + step] for i in range(0, len(pcm), step)]
    encoded = [base64.b64encode(piece).decode() for piece in pieces]
    _PIECES[reply] = (piece_ms, pieces, encoded)
    return pieces, encoded
