"""One client connection: the session, the input audio buffer, VAD, items and responses.

Every client event is validated (see :mod:`.client_events`) before it is
acted on; a bad one gets an ``error`` event naming the client's ``event_id``
and the connection stays open, as with the service. Everything the client
sent and everything the server answered is kept on the connection's
:class:`ConnectionRecord` for tests to inspect. The ``conversation.item.*``
events are :mod:`.items`; a response's stream is :mod:`.response`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any, cast

from websockets.exceptions import ConnectionClosed

from rtws.testing.served import ServedConnection
from rtws.websocket import StreamingServerConnection

from . import events, items
from .bots import Bot
from .client_events import CLIENT_EVENTS
from .conversation import Conversation
from .input_audio import InputAudio
from .pacing import Streaming
from .records import ConnectionRecord
from .response import ResponseOptions, ResponseRun
from .schema import InvalidRequest, invalid_value
from .session import apply_update, new_session, output_format

Json = dict[str, Any]
Handler = Callable[["FakeConnection", Json], Awaitable[None]]
#: What the service says when a session reaches its 60-minute limit (then it closes 1001).
SESSION_EXPIRED = "Your session hit the maximum duration of 60 minutes."


class FakeConnection(ServedConnection[ConnectionRecord]):
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
        super().__init__(ws, record, notify)
        self.stream = ws  # its batched reads and non-blocking writes serve fleets of sessions
        self.bot = bot
        self.streaming = streaming
        self.silent = silent
        self.conversation = Conversation()
        self.conversation_id = events.new_id("conv")
        self.session = new_session(events.new_id("sess"), record.model, round(lifetime_s))
        self.lifetime_s = lifetime_s
        record.session = self.session
        self._send_lock = asyncio.Lock()
        self.response: ResponseRun | None = None  # the newest response
        self.response_started = asyncio.Event()  # set (then replaced) by each new response
        self._consumed = 0  # conversation seq the last response started from
        self._responses = 0
        self.input = InputAudio(self)

    # ================================================================ lifecycle
    async def run(self) -> None:
        expiry = asyncio.get_running_loop().call_later(
            self.lifetime_s, lambda: self.spawn(self.expire())
        )
        try:
            if not self.silent:
                await self.send(events.session_created(self.session))
            while True:
                for frame in await self.stream.next_messages():
                    await self._on_frame(frame)
        except ConnectionClosed:
            pass
        finally:
            expiry.cancel()
            await self.tasks.finish()
            record = self.record
            record.closed_by = record.closed_by or "client"
            record.closed = True
            record.close_code = self.ws.close_code if self.ws.close_code is not None else 1006
            record.close_reason = self.ws.close_reason or ""
            self.notify()

    async def send(self, event: Json, text: str | None = None) -> None:
        """Send one server event (recorded once it is on the wire).

        ``text`` is the event already serialized (see :class:`events.AudioDeltas`).
        """
        if text is None:
            text = json.dumps(event)
        # Straight to the socket when it can take the frame now and no send is
        # waiting for room (the lock keeps events in order behind one that is).
        if self._send_lock.locked() or not self.stream.send_now(text):
            async with self._send_lock:
                await self.ws.send(text)
        self.record.sent.append(event)
        self.notify()

    async def expire(self) -> None:
        """The session's time is up: ``session_expired`` (no client event caused it), close 1001."""
        with contextlib.suppress(ConnectionClosed):
            await self.send(events.error(SESSION_EXPIRED, code="session_expired"))
            await self.close(1001, "session expired")

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
        self.notify()
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
            self.input.configure_vad()
        await self.send(events.session_updated(self.session))

    # ================================================================ responses
    async def _response_create(self, event: Json) -> None:
        run = self.response
        if run is not None and not run.finished.is_set():
            raise InvalidRequest(
                f"Conversation already has an active response in progress: {run.id}. "
                "Wait until the response is finished before creating a new one.",
                code="conversation_already_has_active_response",
            )
        self._start_response(event.get("response") or {})

    async def _response_cancel(self, event: Json) -> None:
        run = self.response
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

    async def respond_after_turn(self, interrupts: bool) -> None:
        """VAD's automatic response: after a cancelled one has finished, never on top of one."""
        run = self.response
        if run is not None and not run.finished.is_set():
            if not interrupts:
                return  # the service may not answer while it is still talking
            await run.finished.wait()
        if self.response is run:
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
        run = ResponseRun(
            self, self.bot, options, lambda: self.conversation.turn(index, entries, options)
        )
        self.response = run
        self.response_started.set()
        self.response_started = asyncio.Event()
        self.spawn(run.run())

    _handlers: dict[str, Handler] = {
        "session.update": _session_update,
        "input_audio_buffer.append": lambda conn, event: conn.input.append(event),
        "input_audio_buffer.commit": lambda conn, event: conn.input.commit(event),
        "input_audio_buffer.clear": lambda conn, event: conn.input.clear(event),
        "output_audio_buffer.clear": lambda conn, event: conn.input.clear_output(event),
        "conversation.item.create": items.create,
        "conversation.item.truncate": items.truncate,
        "conversation.item.delete": items.delete,
        "conversation.item.retrieve": items.retrieve,
        "response.create": _response_create,
        "response.cancel": _response_cancel,
    }
