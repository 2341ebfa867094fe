"""The rtws conformance kit, run against the Deepgram provider and its fake server.

The fake sends a reply's audio at once (``pace=0``): the kit's speaker plays
it in real time, as a client buffering Deepgram's stream does. The fake finds
no turns in the kit's mic signals (``hear_speech=False``), so a check's own
audio never starts a reply or a barge-in; a barge-in is the harness's
``UserStartedSpeaking``; Deepgram has no truncation message (the
server knows what it stopped), so the kit skips that part. Plain-function
tools are declared in ``Settings.agent.think.functions`` and run by rtws'
tool runner, so the kit's tool checks run here too.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from rtws_deepgram import DeepgramVoiceAgentTransport
from rtws_deepgram.testing import FakeDeepgramAgent, FunctionCall, Reply, options_for

from rtws import MediaManager
from rtws.testing import (
    AllCapabilities,
    ProviderHarness,
    TypedTurnHarness,
)
from rtws.testing.signals import Int16Array
from rtws.testing.tools import ToolCallingHarness, ToolConformance


class DeepgramHarness(
    TypedTurnHarness[FakeDeepgramAgent],
    AllCapabilities,
    ToolCallingHarness,
):
    def __init__(self) -> None:
        super().__init__(FakeDeepgramAgent(pace=0.0))
        self.server.hear_speech = False  # only the harness decides when the user speaks

    def make_transport(self, media: MediaManager) -> DeepgramVoiceAgentTransport:
        return self.session(DeepgramVoiceAgentTransport(options_for(self.server), media))

    async def server_say(self, pcm: Int16Array) -> None:
        await self.server.say("Conformance.", audio=pcm)

    async def server_interrupt(self) -> None:
        await self.server.interrupt()

    def received_audio(self) -> Int16Array:
        return np.frombuffer(self.server.received_audio(), dtype=np.int16)

    async def server_late_audio(self, pcm: Int16Array) -> None:
        await self.server.push_audio(pcm.tobytes())  # no ids on Deepgram's wire

    def received_texts(self) -> list[str]:
        return [
            str(m["content"])
            for record in self.server.connections
            for m in record.of_type("InjectUserMessage", sent=False)
        ]

    async def server_call_function(self, name: str, arguments: dict[str, Any]) -> None:
        self.server.script(Reply(text="Done: {results}", calls=[FunctionCall(name, arguments)]))
        await self.type_turn("Please call it.")

    def function_results(self) -> list[tuple[str, Any]]:
        return [
            (str(m["id"]), _json_or_text(str(m["content"])))
            for record in self.server.connections
            for m in record.of_type("FunctionCallResponse", sent=False)
        ]

    async def server_call_tool(self, name: str, arguments: dict[str, Any]) -> None:
        requests = len(
            [m for c in self.server.connections for m in c.of_type("FunctionCallRequest")]
        )
        await self.server_call_function(name, arguments)
        await self.server.wait_sent("FunctionCallRequest", count=requests + 1)

    def tool_results(self) -> list[Any]:
        return [result for _, result in self.function_results()]

    async def server_error(self, message: str) -> None:
        await self.server.warn("CONFORMANCE", message)  # Deepgram's non-fatal report

    def make_transport_with_bad_credentials(
        self, media: MediaManager
    ) -> DeepgramVoiceAgentTransport:
        return DeepgramVoiceAgentTransport(options_for(self.server, api_key="dg-wrong"), media)


def _json_or_text(content: str) -> Any:
    """A result goes out as its JSON text (or as is, when it is a string)."""
    try:
        return json.loads(content)
    except ValueError:
        return content


class TestDeepgramConformance(ToolConformance):
    def make_harness(self) -> ProviderHarness:
        return DeepgramHarness()
