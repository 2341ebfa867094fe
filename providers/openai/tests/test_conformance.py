"""The rtws conformance kit, run against the OpenAI provider and its fake server.

Turn detection is off (manual turns), so the fake's VAD never answers the
kit's mic audio on its own: the harness alone decides when the bot speaks
(a typed message, answered with the kit's audio) and when the user barges
in (``input_audio_buffer.speech_started``, as the service's VAD sends it).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
from pydantic import SecretStr
from rtws_openai import OpenAIRealtimeOptions, OpenAIRealtimeTransport
from rtws_openai.testing import DEFAULT_API_KEY, FakeRealtimeServer, Reply, ScriptedBot

from rtws import MediaManager
from rtws.testing import (
    AllCapabilities,
    ProviderHarness,
    TypedTurnHarness,
)
from rtws.testing.signals import Int16Array
from rtws.testing.tools import ToolCallingHarness, ToolConformance


class OpenAIHarness(
    TypedTurnHarness[FakeRealtimeServer],
    AllCapabilities,
    ToolCallingHarness,
):
    """Every optional action: the OpenAI wire has ids, typed turns, calls and soft errors."""

    def __init__(self) -> None:
        self.bot = ScriptedBot()
        super().__init__(FakeRealtimeServer(bot=self.bot))

    def _options(self, api_key: str) -> OpenAIRealtimeOptions:
        return OpenAIRealtimeOptions(
            base_url=self.server.base_url,
            api_key=SecretStr(api_key),
            turn_detection=None,
            connect_timeout=5.0,
        )

    def make_transport(self, media: MediaManager) -> OpenAIRealtimeTransport:
        return self.session(OpenAIRealtimeTransport(self._options(DEFAULT_API_KEY), media))

    async def server_say(self, pcm: Int16Array) -> None:
        done = len([e for e in self.server.sent if e["type"] == "response.done"])
        self.bot.add(Reply.say("Conformance.", audio=pcm))
        await self.type_turn("Please say it.")
        await self.server.wait_sent("response.done", count=done + 1)

    async def server_interrupt(self) -> None:
        await self.server.send_event(
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": len(self.server.audio_in) // 48,
                "item_id": "item_conformance_user",
            }
        )

    def received_audio(self) -> Int16Array:
        return np.frombuffer(self.server.audio_in, dtype=np.int16)

    def truncations(self) -> list[tuple[str, int]]:
        return [(t.item_id, t.audio_end_ms) for t in self.server.truncations]

    async def server_late_audio(self, pcm: Int16Array) -> None:
        last = [e for e in self.server.sent if e["type"] == "response.output_audio.delta"][-1]
        step = 24 * 40
        for i in range(0, len(pcm), step):
            delta = base64.b64encode(pcm[i : i + step].tobytes()).decode()
            await self.server.send_event({**last, "delta": delta, "event_id": f"late_{i}"})

    def received_texts(self) -> list[str]:
        return [
            part["text"]
            for event in self.server.received
            if event["type"] == "conversation.item.create"
            for part in event["item"].get("content") or []
            if part.get("type") == "input_text"
        ]

    async def server_call_function(self, name: str, arguments: dict[str, Any]) -> None:
        self.bot.add(Reply.call(name, arguments), Reply.say("Done."))
        await self.type_turn("Please call it.")

    def function_results(self) -> list[tuple[str, Any]]:
        return [
            (event["item"]["call_id"], event["item"]["output"])
            for event in self.server.received
            if event["type"] == "conversation.item.create"
            and event["item"]["type"] == "function_call_output"
        ]

    async def server_error(self, message: str) -> None:
        error = {"type": "invalid_request_error", "code": "conformance", "message": message}
        await self.server.send_event(
            {"type": "error", "event_id": "evt_conformance", "error": error}
        )

    def make_transport_with_bad_credentials(self, media: MediaManager) -> OpenAIRealtimeTransport:
        return OpenAIRealtimeTransport(self._options("sk-wrong-0123456789abcdef"), media)

    async def server_call_tool(self, name: str, arguments: dict[str, Any]) -> None:
        calls = len([e for e in self.server.sent if e["type"].endswith("arguments.done")])
        self.bot.add(Reply.call(name, arguments), Reply.say("Done."))
        await self.type_turn("Call.")
        await self.server.wait_sent("response.function_call_arguments.done", count=calls + 1)

    def tool_results(self) -> list[Any]:
        outputs = [
            e["item"]["output"]
            for e in self.server.received
            if e["type"] == "conversation.item.create"
            and e["item"]["type"] == "function_call_output"
        ]
        return [json.loads(o) for o in outputs]


class TestOpenAIConformance(ToolConformance):
    def make_harness(self) -> ProviderHarness:
        return OpenAIHarness()
