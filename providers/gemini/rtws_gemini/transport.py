"""Gemini Live ↔ rtws: a translation table between the two protocols.

Read top to bottom: the hooks (connect, send audio, ready), the client → server
translations, then one handler per key of a server message (and, inside
``serverContent``, one per field). Devices, resampling, playout, state,
reconnection and event delivery are the base class's job; :mod:`.replies`
decides where a reply begins and ends (Gemini's wire has no reply ids).

Staying connected is the Gemini-specific part: the server says ``goAway``
before it ends a connection and hands out ``sessionResumptionUpdate`` handles;
the transport keeps the newest resumable handle and reconnects with it, at
the next resumable point and always before the deadline, so the
conversation carries on in a new connection (:mod:`.goaway`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from rtws import AudioChunk, MediaManager, PlaybackMark, RealTimeWebsocketTransport, rtvi
from rtws.conversation import events as ev
from rtws.errors import ConfigurationError, RTWSError
from rtws.options import secret_value
from rtws.redact import get_logger, register_secret
from rtws.video import VideoFrame

from . import endpoint, wire
from .auth import mint_token
from .goaway import GoAway
from .options import GeminiLiveOptions, ManualActivity
from .replies import Replies
from .setup import INPUT_MIME, OUTPUT_RATE, setup_message

log = get_logger("rtws.gemini")

#: ``client-message`` commands for manual turn control: {"t": "activity-start"} etc.
CLIENT_COMMANDS: dict[str, dict[str, Any]] = {
    "activity-start": {"activityStart": {}},
    "activity-end": {"activityEnd": {}},
    "audio-stream-end": {"audioStreamEnd": True},
}


class GeminiLiveTransport(RealTimeWebsocketTransport):
    """Voice sessions with Gemini Live models (Developer API, ``BidiGenerateContent``)."""

    provider_name = "gemini"
    input_sample_rate = 16000
    output_sample_rate = OUTPUT_RATE
    options_class = GeminiLiveOptions

    options: GeminiLiveOptions

    def __init__(
        self, options: GeminiLiveOptions | None = None, media: MediaManager | None = None
    ) -> None:
        super().__init__(options or GeminiLiveOptions(), media)
        self._token: str | None = None
        self._handle: str | None = self.options.resume_handle
        self._setup_complete = asyncio.Event()
        self._session_id: str | None = None
        self._replies = Replies(self)
        self._go_away = GoAway(lambda: self.schedule_reconnect("goAway"), self._settled)
        self._resuming = False
        self._resumed = False
        #: ``goAway`` notices received, connections resumed with a handle, audio sent.
        self.go_aways = 0
        self.resumptions = 0
        self.audio_sent_ms = 0.0
        self.video_frames_sent = 0
        #: What the listener really heard of the bot turn the last interruption cut.
        self.last_interruption: PlaybackMark | None = None

    @property
    def resumption_handle(self) -> str | None:
        """The newest resumable handle: pass it as ``resume_handle`` to continue later."""
        return self._handle

    @property
    def session_id(self) -> str | None:
        return self._session_id

    # ================================================================ hooks
    async def initialize_llm(self) -> None:
        register_secret(secret_value(self.options.api_key))

    def wants_authentication(self) -> bool:
        return self.options.ephemeral is not None

    async def authenticate(self) -> None:
        self._token = await mint_token(self.options)

    async def attach_llm_listeners(self) -> None:
        self.on_llm_messages(
            {
                "setupComplete": self._on_setup_complete,
                "serverContent": self._on_server_content,
                "toolCall": self._on_tool_call,
                "toolCallCancellation": self._on_tool_call_cancellation,
                "goAway": self._on_go_away,
                "sessionResumptionUpdate": self._on_resumption_update,
                "usageMetadata": self._on_usage_metadata,
                "voiceActivity": self._on_voice_activity,
            }
        )
        self.ignore_llm_messages(["voiceActivityDetectionSignal"])

    def message_types(self, message: dict[str, Any]) -> Iterable[str]:
        # A server message is a oneof plus optional usageMetadata: its keys are its types.
        return tuple(message)

    async def connect_llm(self) -> None:
        self._reset_connection_state()
        self._resuming = self._handle is not None and self.options.session_resumption
        url, headers = endpoint.url_and_headers(self.options, self._token)
        await self.open_websocket(url, headers)
        await self.send_json(setup_message(self.options, self._handle))
        # setupComplete, or a close (bad key, refused setup) that the base turns into close_error().
        await self._setup_complete.wait()
        self._resumed, self._resuming = self._resuming, False
        self.resumptions += self._resumed

    async def disconnect_llm(self) -> None:
        self._go_away.reset()
        self._replies.cancel()
        self._token = None  # single-use; the next connect mints a new one

    async def handle_user_audio_stream(self, chunk: AudioChunk) -> None:
        await self.send_raw(wire.audio_input_json(chunk.pcm, INPUT_MIME))
        self.audio_sent_ms += chunk.duration_ms
        self._go_away.heard(chunk.samples)

    async def handle_user_video_frame(self, frame: VideoFrame) -> None:
        """Camera frames stream beside the audio (``realtimeInput.video``, ~1/s)."""
        await self.send_json(wire.video_input(frame.jpeg, frame.mime_type))
        self.video_frames_sent += 1

    async def send_ready_message(self) -> None:
        self.emit_bot_ready(
            {
                "provider": "gemini",
                "model": self.options.model,
                "session_id": self._session_id,
                "resumed": self._resumed,
            }
        )

    async def send_message(self, message: rtvi.RTVIMessage) -> None:
        if isinstance(message, rtvi.SendText):
            await self._send_text(message.data)
        elif isinstance(message, rtvi.LLMFunctionCallResult):
            await self._send_function_result(message.data)
        elif isinstance(message, rtvi.ClientMessage) and message.data.t in CLIENT_COMMANDS:
            await self._send_activity(message.data.t)
        else:
            await super().send_message(message)

    def can_resume(self) -> bool:
        """True when the current connection continued an earlier session through its handle."""
        return self._resumed

    def close_error(self, code: int | None, reason: str) -> RTWSError:
        """Gemini's close codes: 1008 refused key or request, 1007 invalid setup; never retried."""
        error = endpoint.close_error(code, reason, resuming=self._resuming)
        if error.handle_expired:
            self._handle = None  # the conversation is gone; a new one can still start
        return error.error

    # ---- manual activity (push to talk)
    async def start_activity(self) -> None:
        """Manual mode: the user starts speaking (flushes the bot, like a barge-in)."""
        await self._send_activity("activity-start")

    async def end_activity(self) -> None:
        """Manual mode: the user's turn is over; the model answers."""
        await self._send_activity("activity-end")

    # ================================================================ client → server
    async def _send_text(self, data: rtvi.SendTextData) -> None:
        # Modalities are fixed per session in Gemini: options.audio_response cannot change them.
        run = data.options is None or data.options.run_immediately
        message = wire.text_input(self.options.model, data.content, run=run)
        self._replies.user_turn_begins()
        await self.send_json(message)

    async def _send_function_result(self, data: rtvi.LLMFunctionCallResultData) -> None:
        call_id, calls = data.tool_call_id, self.conversation.calls
        if calls.cancelled(call_id):
            log.info("gemini: dropping the result of cancelled tool call %s", call_id)
            return
        name = calls.name_of(call_id) or data.function_name
        result = data.result
        await self.send_json(wire.tool_response(call_id, name, result))
        self.function_call_result(call_id, result, name)
        self._go_away.maybe_move()

    async def _send_activity(self, command: str) -> None:
        if command != "audio-stream-end" and not isinstance(
            self.options.activity_detection, ManualActivity
        ):
            raise ConfigurationError(
                "activityStart/activityEnd need activity_detection=ManualActivity(); with "
                "automatic activity detection the server finds the turns itself"
            )
        await self.send_json({"realtimeInput": CLIENT_COMMANDS[command]})
        if command == "activity-start":
            self._replies.user_turn_begins()
            self.last_interruption = self.user_started_speaking()
        elif command == "activity-end":
            self.user_stopped_speaking()

    # ================================================================ server → client
    def _on_setup_complete(self, message: dict[str, Any]) -> None:
        self._session_id = wire.get(wire.obj(message["setupComplete"]), "sessionId")
        self._setup_complete.set()

    def _on_server_content(self, message: dict[str, Any]) -> None:
        content = wire.obj(message["serverContent"])
        # Fields in the order they must take effect when one message carries several.
        for key, handler in (
            ("inputTranscription", self._on_input_transcription),
            ("interrupted", self._on_interrupted),
            ("modelTurn", self._on_model_turn),
            ("outputTranscription", self._on_output_transcription),
            ("generationComplete", self._on_generation_complete),
            ("turnComplete", self._on_turn_complete),
            ("turnCompleteReason", self._on_turn_complete_reason),
            # interactionStatus and waitingForInput say nothing a reply's end does not.
        ):
            value = content.get(key)
            if value is not None and value is not False:
                handler(value)

    # ---- serverContent fields
    def _on_input_transcription(self, transcription: dict[str, Any]) -> None:
        # Deltas with no utterance id: the core joins them into one final per utterance,
        # at ``finished`` or at the turn's end (the server may never say ``finished``).
        self._replies.user_words()
        self.user_transcript(transcription.get("text") or "", final=False)
        if transcription.get("finished"):
            self.user_transcript("", final=True)

    def _on_interrupted(self, _: Any) -> None:
        self.last_interruption = self.user_started_speaking()
        self._replies.interrupted()

    def _on_model_turn(self, model_turn: dict[str, Any]) -> None:
        self._replies.model_turn()
        for part in wire.objects(model_turn.get("parts")):
            inline = wire.get(part, "inlineData")
            if inline is not None:
                pcm = wire.inline_audio(wire.obj(inline), OUTPUT_RATE)
                if pcm is not None:  # feed(ev.BotAudio(pcm)) without the allocation: hot path
                    self.conversation.audio(pcm)
            elif isinstance(part.get("text"), str) and not part.get("thought"):
                self.bot_transcript(part["text"], spoken=False)

    def _on_output_transcription(self, transcription: dict[str, Any]) -> None:
        text = transcription.get("text") or ""
        if not text:
            return
        self._replies.bot_words()
        self.bot_transcript(text, spoken=True)

    def _on_generation_complete(self, _: Any) -> None:
        self.bot_audio_done()  # everything was sent: play the tail out
        self._replies.end_soon()

    def _on_turn_complete(self, _: Any) -> None:
        self._replies.turn_complete()
        self.user_transcript("", final=True)

    def _on_turn_complete_reason(self, reason: Any) -> None:
        """Why a turn ended; anything but "more input, please" means no (whole) reply came."""
        if str(reason) not in ("TURN_COMPLETE_REASON_UNSPECIFIED", "NEED_MORE_INPUT"):
            self.emit_error(f"Gemini ended the turn without a full reply: {reason}")

    # ---- the other message keys
    def _on_tool_call(self, message: dict[str, Any]) -> None:
        for call in wire.objects(wire.get(wire.obj(message["toolCall"]), "functionCalls")):
            arguments = wire.obj(call.get("args"))
            self.function_call_arguments(
                str(call.get("id") or ""), str(call.get("name") or ""), arguments
            )

    def _on_tool_call_cancellation(self, message: dict[str, Any]) -> None:
        for call_id in wire.strings(wire.obj(message["toolCallCancellation"]).get("ids")):
            self.function_call_cancelled(call_id)
        self._go_away.maybe_move()

    def _on_go_away(self, message: dict[str, Any]) -> None:
        time_left = wire.parse_duration(wire.get(message["goAway"], "timeLeft"), default=0.0)
        self.go_aways += 1
        log.info("gemini: goAway, %.1f s left on this connection", time_left)
        if self._handle is None or not self.options.session_resumption:
            self.emit_error(
                "Gemini is ending this connection (goAway) and session resumption is off: "
                "the next connection starts a new conversation"
            )
        # Reconnect at the next resumable point, and at the latest shortly before the deadline.
        self._go_away.announced(time_left)
        self._go_away.maybe_move()

    def _on_resumption_update(self, message: dict[str, Any]) -> None:
        update = message["sessionResumptionUpdate"]
        handle = wire.get(update, "newHandle")
        if update.get("resumable") and handle:
            self._handle = str(handle)
            self._go_away.maybe_move()

    def _on_usage_metadata(self, message: dict[str, Any]) -> None:
        prompt, completion, total = wire.token_counts(message["usageMetadata"])
        self.feed(ev.Usage(prompt, completion, total))

    def _on_voice_activity(self, message: dict[str, Any]) -> None:
        kind = wire.get(message["voiceActivity"], "voiceActivityType")
        if kind == "ACTIVITY_START":
            self._replies.user_turn_begins()
            interrupts = self.options.activity_handling != "NO_INTERRUPTION"
            mark = self.user_started_speaking(interrupt=interrupts)
            if interrupts:
                self.last_interruption = mark
        elif kind == "ACTIVITY_END":
            self.user_stopped_speaking()

    # ================================================================ helpers
    def _settled(self) -> bool:
        """Whether a goAway move may happen now: no reply, tool call or user words open."""
        conversation = self.conversation
        return not (
            self._replies.turn_open
            or conversation.calls.open
            or conversation.user_transcript_pending
        )

    def _reset_connection_state(self) -> None:
        """A new connection: the previous one's turn and tool calls cannot continue."""
        self._setup_complete = asyncio.Event()
        self._go_away.reset()
        self._replies.reset()
        self._session_id = None
