"""OpenAI Realtime (GA) ↔ rtws: a translation table between the two protocols.

Read top to bottom: the hooks (connect, send audio, ready), then one handler
per server event. Everything else (devices, resampling, playout, state,
reconnection, event delivery) is the base class's job.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rtws import AudioChunk, MediaManager, RealTimeWebsocketTransport, rtvi
from rtws.errors import AuthenticationError, ProviderError
from rtws.options import secret_value
from rtws.redact import get_logger, register_secret

from .auth import fetch_client_secret
from .options import OpenAIRealtimeOptions
from .session import session_config

log = get_logger("rtws.openai")

#: Server errors that only mean "a race we already handled".
BENIGN_ERROR_CODES = frozenset({"response_cancel_not_active"})
#: Server events that need no action here (listed so they are not reported as unknown).
IGNORED_EVENTS = (
    "conversation.created",
    "conversation.item.added",
    "conversation.item.created",
    "conversation.item.done",
    "conversation.item.truncated",
    "conversation.item.deleted",
    "conversation.item.retrieved",
    "input_audio_buffer.committed",
    "input_audio_buffer.cleared",
    "response.content_part.added",
    "response.content_part.done",
    "response.output_item.done",
    "response.function_call_arguments.delta",
    "rate_limits.updated",
)


class OpenAIRealtimeTransport(RealTimeWebsocketTransport):
    """Voice sessions with OpenAI Realtime models (and Azure OpenAI by options)."""

    provider_name = "openai"
    input_sample_rate = 24000
    output_sample_rate = 24000

    options: OpenAIRealtimeOptions

    def __init__(
        self, options: OpenAIRealtimeOptions | None = None, media: MediaManager | None = None
    ) -> None:
        super().__init__(options or OpenAIRealtimeOptions(), media)
        self._token: str | None = None
        self._session_updated = asyncio.Event()
        self._session: dict[str, Any] = {}
        self._setup_error: ProviderError | None = None
        self._response_id: str | None = None
        self._audio_item: str | None = None
        self._item_audio_ms: dict[str, float] = {}
        self._calls: dict[str, str] = {}
        self._tts_started = False

    # ================================================================ hooks
    async def initialize_llm(self) -> None:
        register_secret(secret_value(self.options.api_key))

    def wants_authentication(self) -> bool:
        return self.options.ephemeral is not None

    async def authenticate(self) -> None:
        self._token = await fetch_client_secret(self.options)

    async def attach_llm_listeners(self) -> None:
        for event in IGNORED_EVENTS:
            self.on_llm_message(event, _ignore)
        handlers = {
            "session.created": self._on_session_created,
            "session.updated": self._on_session_updated,
            "error": self._on_error,
            "input_audio_buffer.speech_started": self._on_speech_started,
            "input_audio_buffer.speech_stopped": self._on_speech_stopped,
            "conversation.item.input_audio_transcription.delta": self._on_user_transcript,
            "conversation.item.input_audio_transcription.completed": self._on_user_transcript,
            "conversation.item.input_audio_transcription.failed": self._on_transcription_failed,
            "response.created": self._on_response_created,
            "response.output_item.added": self._on_output_item_added,
            "response.output_audio.delta": self._on_audio_delta,
            "response.output_audio.done": self._on_audio_done,
            "response.output_audio_transcript.delta": self._on_bot_transcript_delta,
            "response.output_audio_transcript.done": self._on_bot_transcript_done,
            "response.output_text.delta": self._on_text_delta,
            "response.output_text.done": self._on_text_done,
            "response.function_call_arguments.done": self._on_function_call,
            "response.done": self._on_response_done,
        }
        for event, handler in handlers.items():
            self.on_llm_message(event, handler)

    async def connect_llm(self) -> None:
        self._reset_session_state()
        credential = self._token or secret_value(self.options.api_key)
        if not credential:
            raise AuthenticationError(
                "no OpenAI API key: set OPENAI_API_KEY, pass api_key=..., or configure ephemeral tokens"
            )
        header = (
            {"Authorization": f"Bearer {credential}"}
            if self.options.auth_header == "bearer"
            else {"api-key": credential}
        )
        await self.open_websocket(self._url(), {**header, **self.options.extra_headers})
        await self.send_json({"type": "session.update", "session": session_config(self.options)})
        await self._session_updated.wait()
        if self._setup_error is not None:
            raise self._setup_error

    async def disconnect_llm(self) -> None:
        # Stop a reply still being generated so it is neither billed nor left half-done.
        if self._response_id is not None:
            await self.send_json({"type": "response.cancel"})
        self._token = None  # ephemeral secrets are single-session

    async def handle_user_audio_stream(self, chunk: AudioChunk) -> None:
        await self.send_json(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk.pcm).decode()}
        )

    async def send_ready_message(self) -> None:
        self.emit_bot_ready(
            {"provider": "openai", "model": self.options.model, "session_id": self._session.get("id")}
        )

    async def send_message(self, message: rtvi.RTVIMessage) -> None:
        if isinstance(message, rtvi.SendText):
            await self._send_text(message.data)
        elif isinstance(message, rtvi.LLMFunctionCallResult):
            await self._send_function_result(message.data)
        elif isinstance(message, rtvi.ClientMessage) and message.data.t in CLIENT_COMMANDS:
            await self.send_json({"type": CLIENT_COMMANDS[message.data.t]})
            if message.data.t == "commit":
                await self.send_json({"type": "response.create"})
        else:
            await super().send_message(message)

    async def commit_turn(self) -> None:
        """Manual turn mode (``turn_detection=None``): end the user's turn and ask for a reply."""
        self.user_stopped_speaking()
        await self.send_json({"type": "input_audio_buffer.commit"})
        await self.send_json({"type": "response.create"})

    # ================================================================ client → server
    async def _send_text(self, data: rtvi.SendTextData) -> None:
        await self.send_json(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": data.content}],
                },
            }
        )
        opts = data.options
        if opts is None or opts.run_immediately is not False:
            response: dict[str, Any] = {"type": "response.create"}
            if opts is not None and opts.audio_response is False:
                response["response"] = {"output_modalities": ["text"]}
            await self.send_json(response)

    async def _send_function_result(self, data: rtvi.LLMFunctionCallResultData) -> None:
        output = data.result if isinstance(data.result, str) else json.dumps(data.result)
        await self.send_json(
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": data.tool_call_id, "output": output},
            }
        )
        await self.send_json({"type": "response.create"})
        self._calls.pop(data.tool_call_id, None)
        self.emit(
            rtvi.LLMFunctionCallStopped(
                data=rtvi.LLMFunctionCallStoppedData(
                    function_name=data.function_name,
                    tool_call_id=data.tool_call_id,
                    cancelled=False,
                    result=data.result,
                )
            )
        )

    # ================================================================ server → client
    def _on_session_created(self, event: dict[str, Any]) -> None:
        self._session = event.get("session") or {}

    def _on_session_updated(self, event: dict[str, Any]) -> None:
        self._session = event.get("session") or self._session
        self._session_updated.set()

    def _on_error(self, event: dict[str, Any]) -> None:
        error = event.get("error") or {}
        code = error.get("code")
        message = str(error.get("message") or code or "unknown error")
        if code in BENIGN_ERROR_CODES:
            log.debug("openai: %s", message)
            return
        if not self._session_updated.is_set():
            # session.update was refused: connect() must fail, not hang.
            self._setup_error = ProviderError(f"OpenAI refused the session: {message}", code=code, fatal=True)
            self._session_updated.set()
            return
        self.emit_error(f"OpenAI error ({code or error.get('type')}): {message}", fatal=False)

    async def _on_speech_started(self, event: dict[str, Any]) -> None:
        mark = self.user_started_speaking()
        if self._response_id is not None:
            await self.send_json({"type": "response.cancel"})
        item = mark.item_id or self._audio_item
        if item is None:
            return
        played = mark.played_ms if mark.item_id == item else 0
        if played < self._item_audio_ms.get(item, 0.0) - 1:
            await self.send_json(
                {"type": "conversation.item.truncate", "item_id": item, "content_index": 0, "audio_end_ms": played}
            )
        self._audio_item = None

    def _on_speech_stopped(self, event: dict[str, Any]) -> None:
        self.user_stopped_speaking()

    def _on_user_transcript(self, event: dict[str, Any]) -> None:
        final = event["type"].endswith(".completed")
        text = event.get("transcript") if final else event.get("delta")
        if text:
            self.emit(
                rtvi.UserTranscription(
                    data=rtvi.UserTranscriptionData(text=text, user_id="", timestamp=rtvi.now(), final=final)
                )
            )

    def _on_transcription_failed(self, event: dict[str, Any]) -> None:
        error = event.get("error") or {}
        self.emit_error(f"OpenAI could not transcribe the user's audio: {error.get('message', 'unknown')}")

    def _on_response_created(self, event: dict[str, Any]) -> None:
        self._response_id = (event.get("response") or {}).get("id")
        self._tts_started = False
        self.emit(rtvi.BotLLMStarted())

    def _on_output_item_added(self, event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") == "function_call":
            self._calls[item.get("call_id", "")] = item.get("name", "")
            self.emit(
                rtvi.LLMFunctionCallStarted(data=rtvi.LLMFunctionCallStartedData(function_name=item.get("name")))
            )

    def _on_audio_delta(self, event: dict[str, Any]) -> None:
        pcm = base64.b64decode(event["delta"], validate=True)
        item = event.get("item_id")
        if item is not None:
            self._audio_item = item
            self._item_audio_ms[item] = self._item_audio_ms.get(item, 0.0) + len(pcm) / 48.0
        if not self._tts_started:
            self._tts_started = True
            self.emit(rtvi.BotTTSStarted())
        self.play_bot_audio(pcm, item)

    def _on_audio_done(self, event: dict[str, Any]) -> None:
        self.bot_audio_done(event.get("item_id"))

    def _on_bot_transcript_delta(self, event: dict[str, Any]) -> None:
        self.emit(rtvi.BotTTSText(data=rtvi.TextData(text=event.get("delta", ""))))

    def _on_bot_transcript_done(self, event: dict[str, Any]) -> None:
        self.emit(rtvi.bot_output(event.get("transcript", ""), spoken=True, aggregated_by="sentence"))

    def _on_text_delta(self, event: dict[str, Any]) -> None:
        self.emit(rtvi.BotLLMText(data=rtvi.TextData(text=event.get("delta", ""))))

    def _on_text_done(self, event: dict[str, Any]) -> None:
        self.emit(rtvi.bot_output(event.get("text", ""), spoken=False, aggregated_by="sentence"))

    def _on_function_call(self, event: dict[str, Any]) -> None:
        raw = event.get("arguments") or "{}"
        try:
            arguments: Any = json.loads(raw)
        except ValueError:
            arguments = {"_raw": raw}
        call_id = event.get("call_id", "")
        name = event.get("name") or self._calls.get(call_id, "")
        self.emit(
            rtvi.LLMFunctionCallInProgress(
                data=rtvi.LLMFunctionCallInProgressData(tool_call_id=call_id, function_name=name, arguments=arguments)
            )
        )

    def _on_response_done(self, event: dict[str, Any]) -> None:
        response = event.get("response") or {}
        self._response_id = None
        if self._tts_started:
            self.emit(rtvi.BotTTSStopped())
            self.bot_audio_done(self._audio_item)
        self.emit(rtvi.BotLLMStopped())
        usage = response.get("usage")
        if usage:
            self.emit_metrics(
                tokens=[
                    {
                        "processor": "openai",
                        "model": self.options.model,
                        "prompt_tokens": usage.get("input_tokens", 0),
                        "completion_tokens": usage.get("output_tokens", 0),
                        "total_tokens": usage.get("total_tokens", 0),
                    }
                ]
            )
        if response.get("status") == "failed":
            details = (response.get("status_details") or {}).get("error") or {}
            self.emit_error(f"OpenAI response failed: {details.get('message', 'unknown reason')}")

    # ================================================================ helpers
    def _reset_session_state(self) -> None:
        self._session_updated = asyncio.Event()
        self._setup_error = None
        self._response_id = None
        self._audio_item = None
        self._item_audio_ms.clear()
        self._calls.clear()

    def _url(self) -> str:
        parts = urlsplit(self.options.url)
        query = dict(parse_qsl(parts.query))
        if "deployment" not in query:
            query.setdefault("model", self.options.model)
        query.update(self.options.extra_query)
        return urlunsplit(parts._replace(query=urlencode(query)))


#: ``client-message`` commands for manual control: {"t": "commit"} etc.
CLIENT_COMMANDS = {
    "commit": "input_audio_buffer.commit",
    "clear": "input_audio_buffer.clear",
    "cancel": "response.cancel",
    "respond": "response.create",
}


def _ignore(event: dict[str, Any]) -> None:
    """Known events with nothing to translate."""
