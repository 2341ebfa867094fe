"""``DeepgramVoiceAgentTransport``: the Voice Agent API v1 as a translation table.

Deepgram's wire has no reply or item ids and carries audio as raw binary
PCM both ways. The base (provider API v2) tracks replies without ids, drops
the late audio of a reply the user cut off, aggregates transcripts and owns
the function-call ledger, so each Deepgram message is one or two helper
calls here. Deepgram announces every reply (``AgentStartedSpeaking``), so the
transport sets ``announces_replies``: after a barge-in, audio is the cut
reply's (in flight, even after its ``AgentAudioDone``) until the next reply
starts. The little state left: the request id, the two handshake events and
the last fatal ``Error`` (which decides whether to reconnect).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from rtws import AudioChunk, MediaManager, RealTimeWebsocketTransport, rtvi
from rtws.errors import (
    ConfigurationError,
    ConnectionFailed,
    ConnectionLost,
    ConnectTimeout,
    ProtocolError,
    RTWSError,
)
from rtws.options import secret_value
from rtws.redact import redact

from .options import DeepgramVoiceAgentOptions
from .settings import settings_message

#: ``Error`` codes caused by what the client sent: the same session would fail again.
CLIENT_ERRORS = frozenset(
    {
        "UNPARSABLE_CLIENT_MESSAGE",
        "NON_SETTINGS_MESSAGE_BEFORE_SETTINGS",
        "SETTINGS_ALREADY_APPLIED",
        "INVALID_SETTINGS",
        "USER_AUDIO_FORMAT",
    }
)


class DeepgramVoiceAgentTransport(RealTimeWebsocketTransport):
    """Deepgram Voice Agent API v1: ``Settings``, then linear16 PCM both ways."""

    provider_name = "deepgram"
    options_class = DeepgramVoiceAgentOptions
    announces_replies = True
    options: DeepgramVoiceAgentOptions

    def __init__(
        self, options: DeepgramVoiceAgentOptions, media: MediaManager | None = None
    ) -> None:
        super().__init__(options, media)
        self.input_sample_rate = options.input_sample_rate
        self.output_sample_rate = options.output_sample_rate
        self.request_id: str | None = None
        self._welcome = asyncio.Event()
        self._applied = asyncio.Event()
        self._fatal: tuple[str, str] | None = None

    # ================================================================ hooks
    async def initialize_llm(self) -> None:
        if self.options.api_key is None:
            raise ConfigurationError(
                "Deepgram needs an API key: set DEEPGRAM_API_KEY or options.api_key"
            )

    async def attach_llm_listeners(self) -> None:
        self.on_binary_message(self.play_bot_audio)  # agent speech: raw PCM, no id
        self.on_llm_messages(
            {
                "Welcome": self._on_welcome,
                "SettingsApplied": lambda _: self._applied.set(),
                "UserStartedSpeaking": self._on_user_started,
                "ConversationText": self._on_conversation_text,
                "AgentThinking": self._on_thinking,
                "AgentStartedSpeaking": self._on_agent_started,
                "AgentAudioDone": self._on_audio_done,
                "FunctionCallRequest": self._on_function_call_request,
                "FunctionCallCancelled": self._on_function_call_cancelled,
                "Error": self._on_error,
                "Warning": lambda m: self.emit_error(
                    f"Deepgram warning {m['code']}: {m['description']}"
                ),
                "InjectionRefused": lambda m: self.emit_error(f"Deepgram refused: {m['message']}"),
                # A server-side function's result, and acknowledgements: for the record.
                "FunctionCallResponse": self._server_message,
                "PromptUpdated": self._server_message,
                "SpeakUpdated": self._server_message,
            }
        )

    async def connect_llm(self) -> None:
        self._welcome.clear()
        self._applied.clear()
        self._fatal = None
        scheme = "Bearer" if self.options.auth_scheme == "bearer" else "Token"
        key = secret_value(self.options.api_key)
        await self.open_websocket(self.options.url, {"Authorization": f"{scheme} {key}"})
        try:
            async with asyncio.timeout(self.options.settings_timeout):
                await self._welcome.wait()  # "do not send any messages until you receive Welcome"
                await self.send_json(settings_message(self.options))
                await self._applied.wait()  # an Error instead closes the socket: close_error()
        except TimeoutError:
            waited = "SettingsApplied" if self._welcome.is_set() else "Welcome"
            raise ConnectTimeout(
                f"Deepgram sent no {waited} within {self.options.settings_timeout:g} s "
                "(options.settings_timeout)"
            ) from None
        if self.options.keepalive_s is not None:
            self.keepalive(self.options.keepalive_s, lambda: self.send_json({"type": "KeepAlive"}))

    async def disconnect_llm(self) -> None:
        """Nothing to say: Deepgram has no goodbye message; the base closes the socket."""

    async def handle_user_audio_stream(self, chunk: AudioChunk) -> None:
        await self.send_bytes(chunk.pcm)  # binary linear16 at input_sample_rate

    async def send_ready_message(self) -> None:
        self.emit_bot_ready(
            {"provider": "deepgram", "model": self.options.model, "request_id": self.request_id}
        )

    async def send_message(self, message: rtvi.RTVIMessage) -> None:
        if isinstance(message, rtvi.SendText):
            await self.send_json({"type": "InjectUserMessage", "content": message.data.content})
        elif isinstance(message, rtvi.LLMFunctionCallResult):
            await self._send_function_result(message.data)
        elif isinstance(message, rtvi.ClientMessage) and message.data.t == "inject-agent-message":
            await self.send_json({"type": "InjectAgentMessage", "message": str(message.data.d)})
        elif isinstance(message, rtvi.ClientMessage) and message.data.t == "update-prompt":
            await self.send_json({"type": "UpdatePrompt", "prompt": str(message.data.d)})
        else:
            await super().send_message(message)

    def close_error(self, code: int | None, reason: str) -> RTWSError:
        """Deepgram says why in an ``Error`` before closing; its code decides about retrying."""
        if self._fatal is None:
            return super().close_error(code, reason)
        kind, description = self._fatal
        text = f"Deepgram ended the session: {kind}: {redact(description)}"
        if kind in CLIENT_ERRORS:
            return ConnectionFailed(text, retryable=False)
        return ConnectionLost(text, code=code, reason=redact(reason))

    # ================================================================ server → client
    def _on_welcome(self, message: dict[str, Any]) -> None:
        self.request_id = str(message.get("request_id") or "") or None
        self._welcome.set()

    def _on_user_started(self, _: dict[str, Any]) -> None:
        self.user_started_speaking()  # the docs: stop playback, discard buffered agent audio

    def _on_conversation_text(self, message: dict[str, Any]) -> None:
        text = str(message["content"])
        if message.get("role") == "user":
            self.user_transcript(text, final=True)
            self.user_stopped_speaking()
            return
        reply = self.conversation.reply
        if reply is None or reply.cut:  # the words may come before AgentStartedSpeaking
            self.bot_reply_started()
        self.bot_transcript(text + " ")

    def _on_thinking(self, message: dict[str, Any]) -> None:
        # A thought is not said, nor part of any reply's output: a bare bot-llm-text.
        self.emit(rtvi.BotLLMText(data=rtvi.TextData(text=str(message["content"]))))

    def _on_agent_started(self, message: dict[str, Any]) -> None:
        reply = self.conversation.reply
        if reply is None or reply.cut or reply.audio_bytes or reply.audio_done:
            self.bot_reply_started()  # else the reply its words opened goes on
        self.emit_metrics(
            processing=[
                {"processor": f"deepgram-{part}", "value": float(message[f"{part}_latency"])}
                for part in ("ttt", "tts", "total")
                if isinstance(message.get(f"{part}_latency"), int | float)
            ]
        )

    def _on_audio_done(self, _: dict[str, Any]) -> None:
        self.bot_audio_done()
        self.bot_reply_done()

    def _on_function_call_request(self, message: dict[str, Any]) -> None:
        for call in message["functions"]:
            if not call.get("client_side", True):
                continue  # Deepgram runs it and reports a FunctionCallResponse itself
            try:
                arguments: Any = json.loads(call.get("arguments") or "{}")
            except ValueError as exc:
                raise ProtocolError(f"Deepgram sent arguments that are not JSON: {exc}") from None
            if not isinstance(arguments, dict):
                arguments = {"value": arguments}
            self.function_call_arguments(
                str(call["id"]), str(call["name"]), cast("dict[str, Any]", arguments)
            )

    def _on_function_call_cancelled(self, message: dict[str, Any]) -> None:
        for call in message["functions"]:
            self.function_call_cancelled(str(call["id"]))  # "send no FunctionCallResponse"

    def _on_error(self, message: dict[str, Any]) -> None:
        code, text = str(message.get("code", "")), str(message.get("description", ""))
        self._fatal = (code, text)  # the close that follows is judged by it (close_error)
        self.emit_error(f"Deepgram error {code}: {text}")

    def _server_message(self, message: dict[str, Any]) -> None:
        self.emit(rtvi.ServerMessage(data=message))

    # ================================================================ client → server
    async def _send_function_result(self, data: rtvi.LLMFunctionCallResultData) -> None:
        if self.conversation.calls.cancelled(data.tool_call_id):
            return  # Deepgram withdrew the call (FunctionCallCancelled): it wants no answer
        result = data.result
        await self.send_json(
            {
                "type": "FunctionCallResponse",
                "id": data.tool_call_id,
                "name": data.function_name,
                "content": result if isinstance(result, str) else json.dumps(result),
            }
        )
        self.function_call_result(data.tool_call_id, result, data.function_name)
