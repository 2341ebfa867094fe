"""One client connection: the session, the input audio buffer, VAD, items and responses.

Every client event is validated (see :mod:`.client_events`) before it is
acted on; a bad one gets an ``error`` event naming the client's ``event_id``
and the connection stays open, as with the service. Everything the client
sent and everything the server answered is kept on the connection's
:class:`ConnectionRecord` for tests to inspect.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

import numpy as np
from websockets.exceptions import ConnectionClosed

from rtws.websocket import StreamingServerConnection

from . import events
from .bots import Bot, FunctionOutput, Transcriber, Turn
from .client_events import CLIENT_EVENTS
from .conversation import BYTES_PER_MS, Conversation, Entry
from .images import decode_image_url
from .records import ConnectionRecord, Truncation
from .response import ResponseOptions, ResponseRun, Streaming
from .schema import InvalidRequest, invalid_value
from .session import (
    apply_update,
    new_session,
    output_format,
    transcription_enabled,
    turn_detection,
)
from .vad import EnergyVAD, SpeechStarted, SpeechStopped, VADEvent

Json = dict[str, Any]
log = logging.getLogger("rtws_openai.testing")
MIN_COMMIT_MS = 100
#: What the service says when a session reaches its 60-minute limit (then it closes 1001).
SESSION_EXPIRED = "Your session hit the maximum duration of 60 minutes."
#: Which content parts each role's messages may carry.
CONTENT_TYPES = {
    "user": ("input_text", "input_audio", "input_image"),
    "system": ("input_text",),
    "assistant": ("output_text", "output_audio"),
}


class FakeConnection:
    """The protocol for one websocket; the server creates one per accepted handshake."""

    def __init__(
        self,
        ws: StreamingServerConnection,
        record: ConnectionRecord,
        bot: Bot,
        streaming: Streaming,
        notify: Callable[[], None],
        silent: bool = False,
        lifetime_s: float = 3600.0,
    ) -> None:
        self.ws = ws
        self.record = record
        self.bot = bot
        self.streaming = streaming
        self.silent = silent
        self.conversation = Conversation()
        self.conversation_id = events.new_id("conv")
        self.session = new_session(events.new_id("sess"), record.model, round(lifetime_s))
        self.lifetime_s = lifetime_s
        record.session = self.session
        self._notify = notify
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._response: ResponseRun | None = None
        self._consumed = 0  # conversation seq the last response started from
        self._responses = 0
        # The uncommitted input buffer starts at this byte of all audio appended.
        self._buffer = bytearray()
        self._buffer_offset = 0
        self._vad: EnergyVAD | None = None
        self._speech: tuple[str, int] | None = None  # (item_id, start byte) of current speech
        self._response_started = asyncio.Event()  # set (then replaced) by each new response
        self._configure_vad()

    # ================================================================ lifecycle
    async def serve(self) -> None:
        expiry = asyncio.get_running_loop().call_later(
            self.lifetime_s, lambda: self._spawn(self.expire())
        )
        try:
            if not self.silent:
                await self.send(events.session_created(self.session))
            while True:
                for frame in await self.ws.next_messages():
                    await self._on_frame(frame)
        except ConnectionClosed:
            pass
        finally:
            expiry.cancel()
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self.record.closed = True
            self.record.close_code = self.ws.close_code if self.ws.close_code is not None else 1006
            self.record.close_reason = self.ws.close_reason
            self._notify()

    async def send(self, event: Json, text: str | None = None) -> None:
        """Send one server event (recorded once it is on the wire).

        ``text`` is the event already serialized (see :class:`events.AudioDeltas`).
        """
        if text is None:
            text = json.dumps(event)
        # Straight to the socket when it can take the frame now and no send is
        # waiting for room (the lock keeps events in order behind one that is).
        if self._send_lock.locked() or not self.ws.send_now(text):
            async with self._send_lock:
                await self.ws.send(text)
        self.record.sent.append(event)
        self._notify()

    async def expire(self) -> None:
        """The session's time is up: ``session_expired`` (no client event caused it), close 1001."""
        with contextlib.suppress(ConnectionClosed):
            await self.send(events.error(SESSION_EXPIRED, code="session_expired"))
            await self.close_socket(1001, "session expired")

    async def drop(self) -> None:
        """Abrupt end: the TCP connection goes away without a close frame."""
        self.ws.transport.abort()

    async def close_socket(self, code: int, reason: str) -> None:
        await asyncio.shield(self.ws.close(code, reason))

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ================================================================ dispatch
    async def _on_frame(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            return await self._refuse(
                InvalidRequest(
                    "Binary frames are not supported: send each event as a JSON text frame.",
                    code="invalid_json",
                ),
                None,
            )
        try:
            message: Any = json.loads(frame)
        except ValueError as exc:
            return await self._refuse(
                InvalidRequest(
                    f"We could not parse the JSON body of your request. ({exc})",
                    code="invalid_json",
                ),
                None,
            )
        if not isinstance(message, dict):
            return await self._refuse(
                InvalidRequest("Events must be JSON objects.", code="invalid_type"), None
            )
        event = cast(Json, message)
        self.record.received.append(event)
        self._notify()
        if self.silent:
            return
        client_id = event.get("event_id")
        client_id = client_id if isinstance(client_id, str) else None
        kind = event.get("type")
        try:
            if kind is None:
                raise InvalidRequest(
                    "Missing required parameter: 'type'.",
                    code="missing_required_parameter",
                    param="type",
                )
            if not isinstance(kind, str) or kind not in CLIENT_EVENTS:
                raise invalid_value("type", kind, list(CLIENT_EVENTS))
            checked: Json = CLIENT_EVENTS[kind](event, "")
            await self._handlers[kind](self, checked)
        except InvalidRequest as exc:
            await self._refuse(exc, client_id)

    async def _refuse(self, exc: InvalidRequest, client_event_id: str | None) -> None:
        await self.send(
            events.error(
                exc.message,
                type=exc.type,
                code=exc.code,
                param=exc.param,
                event_id=client_event_id,
            )
        )

    # ================================================================ session
    async def _session_update(self, event: Json) -> None:
        before = self.session["audio"]["input"]["turn_detection"]
        self.session = apply_update(self.session, event["session"])
        self.record.session = self.session
        if self.session["audio"]["input"]["turn_detection"] != before:
            self._configure_vad()
        await self.send(events.session_updated(self.session))

    def _configure_vad(self) -> None:
        settings = turn_detection(self.session)
        if settings is None:
            self._vad = None
            self._speech = None
            return
        self._vad = EnergyVAD(
            settings.threshold,
            settings.prefix_padding_ms,
            settings.silence_duration_ms,
            start_ms=self._total_bytes // BYTES_PER_MS,
        )
        self._speech = None

    # ================================================================ input audio
    @property
    def _total_bytes(self) -> int:
        return self._buffer_offset + len(self._buffer)

    async def _append(self, event: Json) -> None:
        try:
            pcm = binascii.a2b_base64(event["audio"], strict_mode=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(
                "Invalid 'audio': expected base64-encoded PCM16 audio.",
                code="invalid_value",
                param="audio",
            ) from None
        if len(pcm) % 2:
            raise InvalidRequest(
                "Invalid 'audio': PCM16 audio must contain a whole number of 2-byte samples.",
                code="invalid_value",
                param="audio",
            )
        self._buffer += pcm
        self.record.audio_in += pcm
        self._notify()
        if self._vad is not None:
            for vad_event in self._vad.feed(pcm):
                await self._on_vad(vad_event)

    async def _on_vad(self, vad_event: VADEvent) -> None:
        settings = turn_detection(self.session)
        assert settings is not None
        if isinstance(vad_event, SpeechStarted):
            start = max(self._buffer_offset, vad_event.audio_start_ms * BYTES_PER_MS)
            item_id = events.new_id("item")
            self._speech = (item_id, start)
            await self.send(events.speech_started(start // BYTES_PER_MS, item_id))
            run = self._response
            if settings.interrupt_response and run is not None and not run.finished.is_set():
                run.cancel("turn_detected")
            return
        assert isinstance(vad_event, SpeechStopped)
        if self._speech is None:
            return
        item_id, start = self._speech
        self._speech = None
        end = min(self._total_bytes, vad_event.audio_end_ms * BYTES_PER_MS)
        await self.send(events.speech_stopped(end // BYTES_PER_MS, item_id))
        await self._commit(item_id, start, end)
        if settings.create_response:
            self._spawn(self._respond_after_turn(settings.interrupt_response))

    async def _commit(self, item_id: str, start: int, end: int) -> None:
        """Move buffer bytes [start, end) (absolute offsets) into a user audio item."""
        pcm = bytes(self._buffer[start - self._buffer_offset : end - self._buffer_offset])
        del self._buffer[: end - self._buffer_offset]
        self._buffer_offset = end
        entry = Entry(events.user_audio_item(item_id), audio=bytearray(pcm))
        entry.transcript = asyncio.get_running_loop().create_future()
        previous = self.conversation.add(entry)
        await self.send(events.committed(item_id, previous))
        await self.send(events.item_added(entry.wire(), previous))
        await self.send(events.item_done(entry.wire(), previous))
        self._spawn(self._transcribe(entry, transcription_enabled(self.session)))

    async def _transcribe(self, entry: Entry, announce: bool) -> None:
        assert entry.transcript is not None
        text: str | None = None
        try:
            if isinstance(self.bot, Transcriber):
                audio = np.frombuffer(bytes(entry.audio), dtype="<i2").astype(np.int16)
                text = await self.bot.transcribe(audio)
        except Exception as exc:
            log.exception("fake realtime bot could not transcribe")
            entry.transcript.set_result(None)
            if announce:
                await self.send(events.transcription_failed(entry.id, f"{type(exc).__name__}"))
            return
        finally:
            if not entry.transcript.done():
                entry.transcript.set_result(text)
        if not announce:
            return
        wild = self.streaming.wild
        if wild is not None and wild.chance(wild.late_transcript):
            await self._after_next_response()  # a separate ASR model: it may finish last
        transcript = text or ""
        entry.item["content"][0]["transcript"] = transcript
        words: list[str] = re.findall(r"\S+\s*", transcript)
        for i in range(0, len(words), 3):
            await self.send(events.transcription_delta(entry.id, "".join(words[i : i + 3])))
        await self.send(events.transcription_completed(entry.id, transcript, entry.audio_ms))

    async def _after_next_response(self, within: float = 5.0) -> None:
        """Wait until the response that answers the newest turn has finished (or ``within`` s)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                run = self._response
                if run is None or run.finished.is_set():
                    await self._response_started.wait()
                    run = self._response
                assert run is not None
                await run.finished.wait()

    async def _commit_buffer(self, event: Json) -> None:
        ms = len(self._buffer) / BYTES_PER_MS
        if ms < MIN_COMMIT_MS:
            raise InvalidRequest(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {ms:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
            )
        item_id = self._speech[0] if self._speech else events.new_id("item")
        self._speech = None
        await self._commit(item_id, self._buffer_offset, self._total_bytes)
        if self._vad is not None:
            self._vad.reset(self._total_bytes // BYTES_PER_MS)

    async def _clear_buffer(self, event: Json) -> None:
        self._buffer_offset = self._total_bytes
        self._buffer.clear()
        self._speech = None
        if self._vad is not None:
            self._vad.reset(self._total_bytes // BYTES_PER_MS)
        await self.send(events.cleared())

    async def _clear_output(self, event: Json) -> None:
        raise InvalidRequest(
            "output_audio_buffer.clear is only supported on WebRTC and SIP connections.",
            code="invalid_value",
            param="type",
        )

    # ================================================================ items
    async def _item_create(self, event: Json) -> None:
        item: Json = event["item"]
        after: str | None = event.get("previous_item_id")
        if after not in (None, "root") and self.conversation.get(str(after)) is None:
            raise InvalidRequest(
                f"Previous item with id '{after}' not found.",
                code="invalid_value",
                param="previous_item_id",
            )
        item_id = str(item.get("id") or events.new_id("item"))
        if self.conversation.get(item_id) is not None:
            raise InvalidRequest(
                f"Item with id '{item_id}' already exists.", code="invalid_value", param="item.id"
            )
        audio = bytearray()
        wire: Json = {**item, "id": item_id, "object": "realtime.item", "status": "completed"}
        if item["type"] == "message":
            wire["content"] = [self._content(item["role"], c, audio) for c in item["content"]]
        entry = Entry(wire, audio=audio)
        parts: list[Json] = wire.get("content", []) if item["type"] == "message" else []
        for part in parts:
            if part["type"] == "input_image":
                self.record.images.append(decode_image_url(str(part["image_url"])))
        previous = self.conversation.add(entry, after=after)
        await self.send(events.item_added(entry.wire(), previous))
        await self.send(events.item_done(entry.wire(), previous))

    @staticmethod
    def _content(role: str, content: Json, audio: bytearray) -> Json:
        kind = content["type"]
        allowed = CONTENT_TYPES[role]
        if kind not in allowed:
            raise invalid_value("item.content.type", kind, allowed)
        if kind in ("input_audio", "output_audio"):
            if "audio" in content:
                try:
                    audio += binascii.a2b_base64(content["audio"], strict_mode=True)
                except (binascii.Error, ValueError):
                    raise InvalidRequest(
                        "Invalid 'item.content.audio': expected base64-encoded PCM16 audio.",
                        code="invalid_value",
                        param="item.content.audio",
                    ) from None
            return {"type": kind, "transcript": content.get("transcript")}
        if kind == "input_image":
            decode_image_url(content["image_url"])  # a bad picture is refused here
            return {
                "type": kind,
                "image_url": content["image_url"],
                "detail": content.get("detail"),
            }
        return {"type": kind, "text": content["text"]}

    def _existing(self, item_id: str) -> Entry:
        entry = self.conversation.get(item_id)
        if entry is None:
            raise InvalidRequest(
                f"Item with item_id not found: {item_id}", code="invalid_value", param="item_id"
            )
        return entry

    async def _item_truncate(self, event: Json) -> None:
        entry = self._existing(event["item_id"])
        item = entry.item
        # An item still streaming is truncatable as soon as its audio part exists.
        content: list[Json] = item.get("content") or [{}]
        if item.get("role") != "assistant" or content[0].get("type") != "output_audio":
            raise InvalidRequest(
                "Only model output audio messages can be truncated",
                code="invalid_value",
                param="item_id",
            )
        if event["content_index"] != 0:
            raise InvalidRequest(
                f"Invalid 'content_index': item has no content part {event['content_index']}.",
                code="invalid_value",
                param="content_index",
            )
        end_ms: int = event["audio_end_ms"]
        if end_ms > entry.audio_ms:
            raise InvalidRequest(
                f"Audio content of {int(entry.audio_ms)}ms is already shorter than {end_ms}ms",
                code="invalid_value",
                param="audio_end_ms",
            )
        self.record.truncations.append(
            Truncation(self.record.index, entry.id, 0, end_ms, entry.audio_ms)
        )
        del entry.audio[end_ms * BYTES_PER_MS :]
        entry.truncated_ms = end_ms  # audio still streaming is not added to it any more
        content[0]["transcript"] = ""  # the service drops text the user never heard
        await self.send(events.item_truncated(entry.id, 0, end_ms))

    async def _item_delete(self, event: Json) -> None:
        entry = self._existing(event["item_id"])
        self.conversation.delete(entry.id)
        await self.send(events.item_deleted(entry.id))

    async def _item_retrieve(self, event: Json) -> None:
        entry = self._existing(event["item_id"])
        await self.send(events.item_retrieved(entry.wire(with_audio=True)))

    # ================================================================ responses
    async def _response_create(self, event: Json) -> None:
        run = self._response
        if run is not None and not run.finished.is_set():
            raise InvalidRequest(
                f"Conversation already has an active response in progress: {run.id}. "
                "Wait until the response is finished before creating a new one.",
                code="conversation_already_has_active_response",
            )
        self._start_response(event.get("response") or {})

    async def _response_cancel(self, event: Json) -> None:
        run = self._response
        wanted = event.get("response_id")
        if (
            run is None
            or run.finished.is_set()
            or run.cancelled
            or (wanted is not None and wanted != run.id)
        ):
            raise InvalidRequest(
                "Cancellation failed: no active response found",
                code="response_cancel_not_active",
            )
        run.cancel("client_cancelled")

    async def _respond_after_turn(self, interrupts: bool) -> None:
        """VAD's automatic response: after a cancelled one has finished, never on top of one."""
        run = self._response
        if run is not None and not run.finished.is_set():
            if not interrupts:
                return  # the service may not answer while it is still talking
            await run.finished.wait()
        if self._response is run:
            self._start_response({})

    def _start_response(self, params: Json) -> None:
        session = self.session
        audio_output = output_format(session)
        voice = params.get("audio", {}).get("output", {}).get("voice")
        if voice is not None:
            audio_output["voice"] = voice
        in_conversation = params.get("conversation", "auto") != "none"
        options = ResponseOptions(
            output_modalities=tuple(
                params.get("output_modalities") or session["output_modalities"]
            ),
            instructions=params.get("instructions", session["instructions"]),
            tools=tuple(params.get("tools", session["tools"])),
            in_conversation=in_conversation,
            conversation_id=self.conversation_id,
            max_output_tokens=params.get("max_output_tokens", session["max_output_tokens"]),
            audio_output=audio_output,
            metadata=params.get("metadata"),
        )
        entries = self.conversation.since(self._consumed)
        if in_conversation:
            self._consumed = self.conversation.seq
        index = self._responses
        self._responses += 1
        run = ResponseRun(self, self.bot, options, lambda: self._turn(index, entries, options))
        self._response = run
        self._response_started.set()
        self._response_started = asyncio.Event()
        self._spawn(run.run())

    async def _turn(self, index: int, entries: list[Entry], options: ResponseOptions) -> Turn:
        audio: list[bytes] = []
        transcripts: list[str] = []
        texts: list[str] = []
        outputs: list[FunctionOutput] = []
        images: list[tuple[str, bytes]] = []
        for entry in entries:
            item = entry.item
            if item["type"] == "function_call_output":
                name = self.conversation.call_name(item["call_id"])
                outputs.append(FunctionOutput(item["call_id"], item["output"], name))
                continue
            if item["type"] != "message" or item["role"] != "user":
                continue
            if entry.audio:
                audio.append(bytes(entry.audio))
                said = await entry.transcript if entry.transcript is not None else None
                said = said or item["content"][0].get("transcript")
                if said:
                    transcripts.append(said)
            texts += [c["text"] for c in item["content"] if c["type"] == "input_text"]
            images += [
                decode_image_url(c["image_url"])
                for c in item["content"]
                if c["type"] == "input_image"
            ]
        pcm = np.frombuffer(b"".join(audio), dtype="<i2").astype(np.int16)
        return Turn(
            index=index,
            audio=pcm,
            transcript=" ".join(transcripts) if transcripts else None,
            text="\n".join(texts) if texts else None,
            function_outputs=tuple(outputs),
            instructions=options.instructions,
            output_modalities=options.output_modalities,
            tools=options.tools,
            images=tuple(images),
        )

    _handlers: dict[str, Callable[[FakeConnection, Json], Awaitable[None]]] = {
        "session.update": _session_update,
        "input_audio_buffer.append": _append,
        "input_audio_buffer.commit": _commit_buffer,
        "input_audio_buffer.clear": _clear_buffer,
        "output_audio_buffer.clear": _clear_output,
        "conversation.item.create": _item_create,
        "conversation.item.truncate": _item_truncate,
        "conversation.item.delete": _item_delete,
        "conversation.item.retrieve": _item_retrieve,
        "response.create": _response_create,
        "response.cancel": _response_cancel,
    }
