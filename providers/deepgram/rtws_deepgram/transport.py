"""``DeepgramVoiceAgentTransport``: the Voice Agent API v1 as a translation table.

Deepgram's wire has no reply or item ids and carries audio as raw binary
PCM both ways, so the translation is mostly one line per message type;
what little state there is (the reply being played, open function calls,
the last fatal ``Error``) is kept here.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, cast

from rtws import AudioChunk, MediaManager, RealTimeWebsocketTransport, rtvi
from rtws.dispatch import LLMHandler
from rtws.errors import (
    AuthenticationError,
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

log = logging.getLogger("rtws.deepgram")

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
#: Dispatch key of a binary frame (agent PCM); no JSON message has this type.
AUDIO = "<binary PCM>"


class DeepgramVoiceAgentTransport(RealTimeWebsocketTransport):
    """Deepgram Voice Agent API v1: ``Settings``, then linear16 PCM both ways."""

    provider_name = "deepgram"
    options_class = DeepgramVoiceAgentOptions
    input_sample_rate = 16000  # the options' defaults; each transport uses its options' rates
    output_sample_rate = 24000
    options: DeepgramVoiceAgentOptions

    def __init__(
        self, options: DeepgramVoiceAgentOptions, media: MediaManager | None = None
    ) -> None:
        super().__init__(options, media)
        self.input_sample_rate = options.input_sample_rate  # type: ignore[misc]  # v1 ClassVar
        self.output_sample_rate = options.output_sample_rate  # type: ignore[misc]
        self.request_id: str | None = None
        self._welcome = asyncio.Event()
        self._applied = asyncio.Event()
        self._fatal: tuple[str, str] | None = None
        self._calls: dict[str, str] = {}  # open client-side call id → function name
        self._reply: str | None = None  # id of the reply being played
        self._cut = False  # the user cut the reply in: its late audio is dropped
        self._replies = 0
        self._keepalive: asyncio.Task[None] | None = None

    # ================================================================ hooks
    async def initialize_llm(self) -> None:
        if self.options.api_key is None:
            raise ConfigurationError(
                "Deepgram needs an API key: set DEEPGRAM_API_KEY or options.api_key"
            )

    async def attach_llm_listeners(self) -> None:
        table: dict[str, LLMHandler] = {
            "Welcome": self._on_welcome,
            "SettingsApplied": self._on_settings_applied,
            AUDIO: self._on_audio,
            "UserStartedSpeaking": self._on_user_started,
            "ConversationText": self._on_conversation_text,
            "AgentThinking": self._on_thinking,
            "AgentStartedSpeaking": self._on_agent_started,
            "AgentAudioDone": self._on_audio_done,
            "FunctionCallRequest": self._on_function_call_request,
            "FunctionCallResponse": self._on_server_function_response,
            "Error": self._on_error,
            "Warning": self._on_warning,
            "InjectionRefused": self._on_injection_refused,
            "PromptUpdated": self._server_message,
            "SpeakUpdated": self._server_message,
        }
        for kind, handler in table.items():
            self.on_llm_message(kind, handler)

    async def connect_llm(self) -> None:
        self._welcome.clear()
        self._applied.clear()
        self._fatal, self._reply, self._cut = None, None, False
        self._calls.clear()
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
        await self._stop_keepalive()
        if self.options.keepalive_s is not None:
            self._keepalive = asyncio.create_task(
                self._keep_alive(self.options.keepalive_s), name="rtws-deepgram-keepalive"
            )

    async def disconnect_llm(self) -> None:
        await self._stop_keepalive()

    async def handle_user_audio_stream(self, chunk: AudioChunk) -> None:
        await self.ws.send(chunk.pcm)  # binary linear16 at input_sample_rate

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

    def decode_message(self, frame: str | bytes) -> dict[str, Any]:
        if isinstance(frame, bytes):  # agent speech: raw PCM, never JSON
            return {"type": AUDIO, "pcm": frame}
        return super().decode_message(frame)

    def close_error(self, code: int | None, reason: str) -> RTWSError:
        """Deepgram says why in an ``Error`` before closing; its code decides about retrying."""
        if self._fatal is None:
            return super().close_error(code, reason)
        kind, description = self._fatal
        text = f"Deepgram ended the session: {kind}: {redact(description)}"
        if kind in CLIENT_ERRORS:
            return ConnectionFailed(text, retryable=False)
        if kind in ("INVALID_AUTH", "UNAUTHORIZED"):
            return AuthenticationError(text)
        return ConnectionLost(text, code=code, reason=redact(reason))

    # ================================================================ server → client
    def _on_welcome(self, message: dict[str, Any]) -> None:
        self.request_id = str(message.get("request_id") or "") or None
        self._welcome.set()

    def _on_settings_applied(self, _: dict[str, Any]) -> None:
        self._applied.set()

    def _on_audio(self, message: dict[str, Any]) -> None:
        pcm: bytes = message["pcm"]
        if self._cut:  # in flight when the user barged in: never played
            self.stats.late_audio_dropped += 1
            return
        if self._reply is None:
            self._reply = self._new_reply()
        self.play_bot_audio(pcm, self._reply)

    def _on_user_started(self, _: dict[str, Any]) -> None:
        self.user_started_speaking()  # the docs: stop playback, discard buffered agent audio
        if self._reply is not None:
            self._cut, self._reply = True, None

    def _on_conversation_text(self, message: dict[str, Any]) -> None:
        text = str(message["content"])
        if message.get("role") == "user":
            self._cut = False  # the user's turn is over: what comes next is a new reply
            self.emit(rtvi.user_transcription(text, final=True))
            self.user_stopped_speaking()
        else:
            self.emit(rtvi.BotTTSText(data=rtvi.TextData(text=text)))
            self.emit(rtvi.bot_output(text, spoken=True))

    def _on_thinking(self, message: dict[str, Any]) -> None:
        self.emit(rtvi.BotLLMText(data=rtvi.TextData(text=str(message.get("content", "")))))

    def _on_agent_started(self, message: dict[str, Any]) -> None:
        self._cut, self._reply = False, self._new_reply()
        self.emit(rtvi.BotLLMStarted())
        self.emit(rtvi.BotTTSStarted())
        processing = [
            {"processor": f"deepgram-{part}", "value": float(message[f"{part}_latency"])}
            for part in ("ttt", "tts", "total")
            if isinstance(message.get(f"{part}_latency"), int | float)
        ]
        if processing:
            self.emit_metrics(processing=processing)

    def _on_audio_done(self, _: dict[str, Any]) -> None:
        self._cut = False
        if self._reply is not None:
            self.bot_audio_done(self._reply)
            self._reply = None
            self.emit(rtvi.BotTTSStopped())
            self.emit(rtvi.BotLLMStopped())

    def _on_function_call_request(self, message: dict[str, Any]) -> None:
        for call in message["functions"]:
            if not call.get("client_side", True):
                continue  # Deepgram runs it and reports a FunctionCallResponse itself
            call_id, name = str(call["id"]), str(call["name"])
            try:
                arguments: Any = json.loads(call.get("arguments") or "{}")
            except ValueError as exc:
                raise ProtocolError(
                    f"Deepgram sent function arguments that are not JSON: {exc}"
                ) from None
            self._calls[call_id] = name
            self.emit(
                rtvi.LLMFunctionCallStarted(
                    data=rtvi.LLMFunctionCallStartedData(function_name=name)
                )
            )
            self.emit(
                rtvi.LLMFunctionCallInProgress(
                    data=rtvi.LLMFunctionCallInProgressData(
                        tool_call_id=call_id,
                        function_name=name,
                        arguments=_arguments(arguments),
                    )
                )
            )

    def _on_server_function_response(self, message: dict[str, Any]) -> None:
        self._server_message(message)  # a server-side function's result: for the record

    def _on_error(self, message: dict[str, Any]) -> None:
        code, text = str(message.get("code", "")), str(message.get("description", ""))
        self._fatal = (code, text)  # the close that follows is judged by it (close_error)
        self.emit_error(f"Deepgram error {code}: {text}", fatal=False)

    def _on_warning(self, message: dict[str, Any]) -> None:
        code, text = message.get("code", ""), message.get("description", "")
        self.emit_error(f"Deepgram warning {code}: {text}", fatal=False)

    def _on_injection_refused(self, message: dict[str, Any]) -> None:
        self.emit_error(f"Deepgram refused the injected message: {message.get('message', '')}")

    def _server_message(self, message: dict[str, Any]) -> None:
        self.emit(rtvi.ServerMessage(data=message))

    # ================================================================ client → server
    async def _send_function_result(self, data: rtvi.LLMFunctionCallResultData) -> None:
        name = self._calls.pop(data.tool_call_id, None) or data.function_name
        result = data.result
        content = result if isinstance(result, str) else json.dumps(result)
        await self.send_json(
            {
                "type": "FunctionCallResponse",
                "id": data.tool_call_id,
                "name": name,
                "content": content,
            }
        )
        self.emit(
            rtvi.LLMFunctionCallStopped(
                data=rtvi.LLMFunctionCallStoppedData(
                    tool_call_id=data.tool_call_id,
                    cancelled=False,
                    function_name=name,
                    result=result,
                )
            )
        )

    # ================================================================ helpers
    def _new_reply(self) -> str:
        self._replies += 1
        return f"reply-{self._replies}"

    async def _keep_alive(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.send_json({"type": "KeepAlive"})
            except ConnectionFailed:
                return  # the receive loop reports the lost connection

    async def _stop_keepalive(self) -> None:
        task, self._keepalive = self._keepalive, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _arguments(value: Any) -> dict[str, Any]:
    """Deepgram's arguments are a JSON string of an object; anything else is wrapped."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {"value": value}
