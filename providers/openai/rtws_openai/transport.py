"""OpenAI Realtime (GA) ↔ rtws: a translation table between the two protocols.

Read top to bottom: the hooks (connect, send audio, ready, client messages),
the few public controls (interrupt, manual turns, text), then one handler per
server event. Devices, resampling, playout, state, reconnection and event
delivery are the base class's job; payload shapes live in :mod:`.wire`, the
session's bookkeeping in :mod:`.turns`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rtws import AudioChunk, MediaManager, PlaybackMark, RealTimeWebsocketTransport, rtvi
from rtws.conversation import events as ev
from rtws.errors import DeviceError, RTWSError
from rtws.redact import get_logger, register_secret
from rtws.video import VideoFrame

from . import messages, wire
from .auth import ClientSecret, fetch_client_secret
from .options import OpenAIRealtimeOptions
from .session import session_update
from .turns import SessionBook
from .video import TurnImages

log = get_logger("rtws.openai")


class OpenAIRealtimeTransport(RealTimeWebsocketTransport):
    """Voice sessions with OpenAI Realtime models (and Azure OpenAI by options)."""

    provider_name = "openai"
    options_class = OpenAIRealtimeOptions
    input_sample_rate = 24000
    output_sample_rate = 24000

    options: OpenAIRealtimeOptions

    def __init__(
        self, options: OpenAIRealtimeOptions | None = None, media: MediaManager | None = None
    ) -> None:
        super().__init__(options or OpenAIRealtimeOptions(), media)
        self.book = SessionBook()
        #: The server's effective session (from ``session.updated``).
        self.session: dict[str, Any] = {}
        self._secret: ClientSecret | None = None
        self._configured = asyncio.Event()
        self._setup_error: RTWSError | None = None
        self._end_error: RTWSError | None = None  # what the coming close means
        self._restored = False
        self._outbox = wire.Outbox()
        #: The camera's latest frame, added to the conversation per user turn (video.py).
        self.images = TurnImages(self.send_event)

    # ================================================================ hooks
    async def initialize_llm(self) -> None:
        for secret in self.options.secrets():
            register_secret(secret)

    def wants_authentication(self) -> bool:
        return self.options.ephemeral is not None

    async def authenticate(self) -> None:
        if self._secret is None or not self._secret.fresh():  # reconnects reuse a valid secret
            self._secret = await fetch_client_secret(self.options)

    async def attach_llm_listeners(self) -> None:
        self.ignore_llm_messages(wire.IGNORED_EVENTS)
        self.on_llm_messages(
            {
                "session.created": self._on_session,
                "session.updated": self._on_session,
                "error": self._on_error,
                "input_audio_buffer.speech_started": self._on_speech_started,
                "input_audio_buffer.speech_stopped": self._on_speech_stopped,
                "input_audio_buffer.committed": self._on_committed,
                "conversation.item.input_audio_transcription.delta": self._on_user_delta,
                "conversation.item.input_audio_transcription.completed": self._on_user_final,
                "conversation.item.input_audio_transcription.failed": self._on_user_failed,
                "response.created": self._on_response_created,
                "response.output_item.added": self._on_output_item_added,
                "response.output_audio.delta": self._on_audio_delta,
                "response.output_audio.done": self._on_audio_done,
                "response.output_audio_transcript.delta": self._on_bot_text_delta,
                "response.output_audio_transcript.done": self._on_bot_text_done,
                "response.output_text.delta": self._on_bot_text_delta,
                "response.output_text.done": self._on_bot_text_done,
                "response.function_call_arguments.done": self._on_function_call,
                "response.done": self._on_response_done,
            }
        )

    async def connect_llm(self) -> None:
        self._new_session()
        secret = self._secret.value if self._secret else None
        await self.open_websocket(self.options.realtime_url(), self.options.headers(secret))
        await self.send_event(session_update(self.options))
        await self._configured.wait()
        if self._setup_error is not None:
            raise self._setup_error
        await self._restore_context()

    async def disconnect_llm(self) -> None:
        # A reply still being generated would be billed for nothing.
        if self.book.response is not None:
            await self.send_event(wire.cancel(self.book.response.id))
        self._secret = None
        self.book.history.clear()  # a later connect() starts a new conversation

    async def handle_user_audio_stream(self, chunk: AudioChunk) -> None:
        await self.send_raw(wire.append_audio_json(chunk.pcm))
        self.turn_latency.sent(chunk)

    async def handle_user_video_frame(self, frame: VideoFrame) -> None:
        await self.images.frame(frame)

    async def snapshot(self) -> None:
        """Add a fresh camera picture to the conversation now (``{"t": "snapshot"}``)."""
        if not self.is_cam_enabled:
            raise DeviceError("snapshot: the camera is off (enable_cam(True) first)")
        self.images.want_snapshot()
        self.video.capture_now()

    async def send_ready_message(self) -> None:
        session_id = self.session.get("id")
        self.emit_bot_ready(
            {"provider": "openai", "model": self.options.model, "session_id": session_id}
        )

    async def send_message(self, message: rtvi.RTVIMessage) -> None:
        if isinstance(message, rtvi.SendText):
            opts = message.data.options or rtvi.SendTextOptions()
            await self.send_text(message.data.content, opts.run_immediately, opts.audio_response)
        elif isinstance(message, rtvi.LLMFunctionCallResult):
            await self._send_function_result(message.data)
        elif isinstance(message, rtvi.ClientMessage) and message.data.t in CLIENT_COMMANDS:
            await getattr(self, CLIENT_COMMANDS[message.data.t])()
        else:
            await super().send_message(message)

    def can_resume(self) -> bool:
        return self._restored

    def close_error(self, code: int | None, reason: str) -> RTWSError:
        # An error event just before a close says more than the close code does.
        return self._end_error or self._setup_error or super().close_error(code, reason)

    # ================================================================ public controls
    async def interrupt(self) -> None:
        """Stop the bot now (a UI stop button): silence, cancel, truncate to what was heard."""
        await self._barge_in(self.interrupt_bot(), cancel=True)

    async def start_turn(self) -> None:
        """Manual turns (push-to-talk pressed): interrupt the bot, drop audio heard so far."""
        await self._barge_in(self.user_started_speaking(), cancel=True)
        await self.send_event({"type": "input_audio_buffer.clear"})

    async def commit_turn(self) -> None:
        """Manual turns (``turn_detection=None``): end the user's turn and ask for a reply."""
        self.user_stopped_speaking()
        await self.send_event({"type": "input_audio_buffer.commit"})
        await self._respond()

    async def send_text(
        self, text: str, run_immediately: bool = True, audio_response: bool = True
    ) -> None:
        """A typed user message; answered at once (cutting the bot off) if ``run_immediately``."""
        if run_immediately and (self.book.busy or self.is_bot_speaking):
            await self.interrupt()
        await self.send_event(wire.user_text(text))
        self.book.remember("user", text)
        if run_immediately:
            self.user_stopped_speaking()  # starts the time-to-first-audio clock
            await self._respond(text_only=not audio_response and self.options.audio_out)

    async def update_session(self, **changes: Any) -> None:
        """Change options mid-session (instructions, tools, voice before the first reply, ...).

        The new options are validated first and kept, so a reconnect uses them too.
        """
        self.options = OpenAIRealtimeOptions.model_validate({**dict(self.options), **changes})
        await self.send_event(session_update(self.options))

    async def send_event(self, event: dict[str, Any]) -> None:
        """Send a client event with an ``event_id``, so an ``error`` can name what it refused."""
        await self.send_json(self._outbox.stamp(event))

    # ================================================================ client → server
    async def _barge_in(self, mark: PlaybackMark, *, cancel: bool) -> None:
        """Tell the server what the user heard of the reply they cut off (``cancel``: and stop
        it, unless the server's VAD already did)."""
        for event in self.book.barge_in(mark.item_id, mark.played_ms, cancel=cancel):
            await self.send_event(event)

    async def _respond(self, text_only: bool = False) -> None:
        create = self.book.request_response(text_only)  # None: it follows response.done
        if create is not None:
            await self.send_event(create)

    async def _send_function_result(self, data: rtvi.LLMFunctionCallResultData) -> None:
        await self.send_event(wire.function_output(data.tool_call_id, data.result))
        self.book.function_output(data.tool_call_id, wire.output_text(data.result))
        self.function_call_result(data.tool_call_id, data.result, data.function_name)
        if not self.conversation.calls.waiting:  # every call answered: time to respond
            await self._respond()

    async def _restore_context(self) -> None:
        self._restored = False
        if not self.options.restore_context_on_reconnect or not self.book.history:
            return
        for turn in self.book.replay():
            await self.send_event(wire.replayed(turn.role, turn.text, turn.name, turn.call_id))
        self._restored = True

    # ================================================================ server → client
    def _on_session(self, event: dict[str, Any]) -> None:
        self.session = event.get("session") or self.session
        if event["type"] == "session.created":
            self.turn_latency.reset()  # a new session: its audio timeline starts at 0
        if event["type"] == "session.updated":
            self._configured.set()

    def _on_error(self, event: dict[str, Any]) -> None:
        error: dict[str, Any] = wire.part(event, "error")
        refused = self._outbox.refused(error)
        kind = wire.error_kind(error)
        if refused == "response.create":
            self.book.create_refused(error.get("code"))
        if kind == "benign":
            log.debug("openai: %s", wire.describe(error))
        elif not self._configured.is_set():  # session.update refused: connect() fails
            self._setup_error = wire.error_exception(error, during="refused the session")
            self._configured.set()
        elif kind == "session_end":
            self._end_error = wire.error_exception(error)
            self.schedule_reconnect(str(self._end_error))
        elif kind in ("auth", "account"):
            self._end_error = wire.error_exception(error)
            self.connection_error(self._end_error)
        else:
            what = f" refused {refused}" if refused else ""
            self.emit_error(f"OpenAI{what}: {wire.describe(error)}", fatal=False)

    async def _on_speech_started(self, event: dict[str, Any]) -> None:
        if await self.images.turn_started(self.is_cam_enabled):
            self.video.capture_now()
        if self.options.interrupts:
            # The server's VAD cancels the response itself: truncate, do not cancel.
            await self._barge_in(self.user_started_speaking(), cancel=False)
        else:  # barge-in is off: the bot keeps talking
            self.user_started_speaking(interrupt=False)

    def _on_speech_stopped(self, event: dict[str, Any]) -> None:
        end_ms = event.get("audio_end_ms")
        if isinstance(end_ms, int | float):
            # audio_end_ms includes the silence the server's VAD waited for (API reference).
            self.turn_latency.speech_ended(end_ms - self.options.vad_silence_ms)
        self.user_stopped_speaking()

    def _on_committed(self, event: dict[str, Any]) -> None:
        item_id = event.get("item_id")
        if isinstance(item_id, str) and self.options.input_transcription is not None:
            self.book.user_item(item_id)

    def _on_user_delta(self, event: dict[str, Any]) -> None:
        self.user_transcript(event.get("delta") or "", final=False, item_id=event["item_id"])

    def _on_user_final(self, event: dict[str, Any]) -> None:
        text = event.get("transcript") or ""
        self.user_transcript(text, final=True, item_id=event["item_id"])
        self.book.user_said(event["item_id"], text)
        usage = wire.part(event, "usage")
        asr = self.options.input_transcription
        if usage.get("type") == "tokens" and asr is not None:
            self.emit_metrics(tokens=[messages.tokens("openai-transcription", asr.model, usage)])

    def _on_user_failed(self, event: dict[str, Any]) -> None:
        error = wire.part(event, "error")
        self.emit_error(f"OpenAI could not transcribe the user's audio: {wire.describe(error)}")

    def _on_response_created(self, event: dict[str, Any]) -> None:
        response_id = wire.part(event, "response").get("id")
        self.book.response_started(response_id)
        self.feed(ev.ReplyStarted(response_id))

    def _on_output_item_added(self, event: dict[str, Any]) -> None:
        item = wire.part(event, "item")
        if item.get("type") == "function_call":
            call = ev.FunctionCallStarted(
                item.get("call_id") or "", item.get("name") or "", event.get("response_id")
            )
            self.feed(call)

    def _on_audio_delta(self, event: dict[str, Any]) -> None:
        pcm = wire.audio_pcm(event["delta"])
        item_id: str = event["item_id"]
        response_id = event.get("response_id")
        self.book.audio_received(item_id, response_id, event.get("content_index") or 0, len(pcm))
        # feed(ev.BotAudio(pcm, response_id, item_id)) without the allocation: the hot path.
        self.conversation.audio(pcm, response_id, item_id)

    def _on_audio_done(self, event: dict[str, Any]) -> None:
        self.book.audio_done(event["item_id"])
        self.feed(ev.AudioDone(event.get("response_id"), event["item_id"]))

    def _on_bot_text_delta(self, event: dict[str, Any]) -> None:
        spoken = event["type"].startswith("response.output_audio")
        delta = event.get("delta") or ""
        self.book.bot_delta(event["item_id"], delta)
        self.feed(ev.BotText(delta, spoken, event.get("response_id")))

    def _on_bot_text_done(self, event: dict[str, Any]) -> None:
        spoken = event["type"].startswith("response.output_audio")
        text = event.get("transcript" if spoken else "text") or ""
        response_id = event.get("response_id")
        self.book.bot_done(event["item_id"], text, self.book.is_interrupted(response_id))
        self.feed(ev.BotTextDone(text, spoken, response_id))

    def _on_function_call(self, event: dict[str, Any]) -> None:
        call_id, name = event["call_id"], event.get("name") or ""
        arguments = wire.arguments(event.get("arguments") or "{}")
        name = name or self.conversation.calls.name_of(call_id) or ""
        if arguments is None:
            self.emit_error(f"OpenAI sent arguments for {name} that are not a JSON object")
        self.book.function_call(call_id, name, event.get("arguments") or "{}")
        self.feed(ev.FunctionCallArguments(call_id, name, arguments, event.get("response_id")))

    async def _on_response_done(self, event: dict[str, Any]) -> None:
        response: dict[str, Any] = wire.part(event, "response")
        state = self.book.response_finished(response.get("id"))
        self.feed(ev.ReplyDone(response.get("id")))
        usage, took = wire.part(response, "usage"), state.age if state is not None else None
        metrics = messages.response_metrics(self.options.model, usage, took)
        if any(metrics.values()):
            self.emit_metrics(**metrics)
        problem = messages.response_problem(response)
        if problem is not None:
            self.emit_error(problem)
        pending, self.book.pending_create = self.book.pending_create, None
        # A call of this response still waits for its result (its arguments completed after
        # a sibling was answered): the answer to the last one asks for the response instead.
        if pending is not None and not self.conversation.calls.waiting:
            await self._respond(text_only=pending)

    # ================================================================ helpers
    def _new_session(self) -> None:
        """Fresh state for a (re)connect (the base already closed what the last one left open)."""
        self._configured = asyncio.Event()
        self._setup_error = self._end_error = None
        self._outbox.clear()
        self.book.reset()


#: ``client-message`` commands (``{"t": "interrupt"}``...) for RTVI clients without Python access.
CLIENT_COMMANDS = {
    "interrupt": "interrupt",
    "start-turn": "start_turn",
    "commit-turn": "commit_turn",
    "snapshot": "snapshot",
}
