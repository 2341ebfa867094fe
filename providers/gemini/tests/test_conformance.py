"""The rtws conformance kit, run against the Gemini provider and its fake server.

Activity detection is manual, so the fake's VAD never answers the kit's mic
audio on its own: the harness alone decides when the bot speaks (a typed
turn, answered with the kit's audio) and when the user barges in (the
server's ``interrupted`` flag). Gemini has no truncation message: the server
trims its own history, so the kit skips that part.

Late audio: Gemini's barge-in is the server's ``interrupted``, after which the
protocol sends nothing more of that reply, so the harness has no late audio to
send (``test_audio_after_a_barge_in_is_never_played`` covers a client-side cut).
Gemini reports errors by closing the connection, so there is no non-fatal
server error to send either: the harness is neither a ``LateAudioHarness`` nor
a ``ServerErrorHarness``, and the kit skips both checks, saying so.
"""

from __future__ import annotations

from typing import Any

from rtws_gemini import GeminiLiveTransport, ManualActivity
from rtws_gemini.testing import FakeGeminiServer, Reply, ToolCall, options_for

from rtws import MediaManager
from rtws.testing import (
    BadCredentialsHarness,
    FunctionCallHarness,
    ProviderHarness,
    TypedTextHarness,
    TypedTurnHarness,
)
from rtws.testing.signals import Int16Array
from rtws.testing.tools import ToolCallingHarness, ToolConformance


class GeminiHarness(
    TypedTurnHarness[FakeGeminiServer],
    TypedTextHarness,
    FunctionCallHarness,
    BadCredentialsHarness,
    ToolCallingHarness,
):
    def __init__(self) -> None:
        super().__init__(FakeGeminiServer(playback_wait=0.0))

    def make_transport(self, media: MediaManager) -> GeminiLiveTransport:
        options = options_for(self.server, activity_detection=ManualActivity())
        return self.session(GeminiLiveTransport(options, media))

    def _turns_completed(self) -> int:
        return sum(
            1
            for record in self.server.connections
            for message in record.sent
            if message.get("serverContent", {}).get("turnComplete")
        )

    async def server_say(self, pcm: Int16Array) -> None:
        done = self._turns_completed()
        self.server.script(Reply(text="Conformance.", audio=pcm))
        await self.type_turn("Please say it.")
        await self.server.wait_for(lambda: self._turns_completed() > done)

    async def server_interrupt(self) -> None:
        await self.server.push({"serverContent": {"interrupted": True}})

    def received_audio(self) -> Int16Array:
        return self.server.received_audio()

    def received_texts(self) -> list[str]:
        return [
            part["text"]
            for record in self.server.connections
            for content in record.of_kind("clientContent")
            for turn in content.get("turns", [])
            for part in turn.get("parts", [])
            if "text" in part
        ]

    async def server_call_function(self, name: str, arguments: dict[str, Any]) -> None:
        self.server.script(Reply(text="Done: {results}", tool_calls=[ToolCall(name, arguments)]))
        await self.type_turn("Please call it.")

    def function_results(self) -> list[tuple[str, Any]]:
        return [
            (response["id"], response["response"])
            for record in self.server.connections
            for message in record.of_kind("toolResponse")
            for response in message.get("functionResponses", [])
        ]

    def make_transport_with_bad_credentials(self, media: MediaManager) -> GeminiLiveTransport:
        options = options_for(self.server, api_key="wrong-gemini-key")
        return GeminiLiveTransport(options, media)

    async def server_call_tool(self, name: str, arguments: dict[str, Any]) -> None:
        self.server.script(Reply(text="Done.", tool_calls=[ToolCall(name, arguments)]))
        await self.type_turn("Call.")
        await self.server.wait_for(lambda: any("toolCall" in m for m in self.server.latest.sent))

    def tool_results(self) -> list[Any]:
        responses = [
            r.get("response")
            for m in self.server.latest.of_kind("toolResponse")
            for r in m.get("functionResponses", [])
        ]
        return [
            r["output"] if isinstance(r, dict) and set(r) == {"output"} else r for r in responses
        ]


class TestGeminiConformance(ToolConformance):
    def make_harness(self) -> ProviderHarness:
        return GeminiHarness()
