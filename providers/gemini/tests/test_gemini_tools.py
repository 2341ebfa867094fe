"""Function tools on Gemini Live, end to end against the fake: declare, run, answer, cancel.

:func:`call_declared_tools` makes the fake call the functions the provider
declared in its ``setup``, with arguments drawn from those declarations, so
the declarations are exercised as sent; every client frame is also checked
against google-genai's types.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Literal

import pytest
from google.genai import types
from rtws_gemini import FunctionDeclaration, GeminiLiveOptions, GeminiLiveTransport
from rtws_gemini.setup import function_declaration, setup_message
from rtws_gemini.testing import FakeGeminiServer, Reply, ToolCall, running_fake
from rtws_gemini.testing.tool_calls import call_declared_tools

from providers.gemini.tests.conftest import Events, FakeSession
from providers.gemini.tests.genai_check import check_client_frame
from providers.gemini.tests.test_gemini_transport import say, silent_media, speech
from rtws.testing.tools import UntilCancelled
from rtws.tools import Tool
from tests.held_call import HeldCall
from tests.tool_signatures import TOOLS


@pytest.mark.parametrize("declared", TOOLS, ids=lambda t: t.name)
def test_declaration_is_a_genai_function_declaration(declared: Tool, fake: FakeSession) -> None:
    decl = types.FunctionDeclaration.model_validate(function_declaration(declared))
    assert decl.name == declared.name and decl.parameters is not None
    options = fake.options.model_copy(update={"tools": [declared, FunctionDeclaration(name="x")]})
    check_client_frame(json.dumps(setup_message(options)))  # the whole setup, as sent


def test_optionals_become_nullable_and_int_enums_strings() -> None:
    place = function_declaration(next(t for t in TOOLS if t.name == "place_order"))
    props = place["parameters"]["properties"]
    assert props["tags"] == {
        "type": "array", "items": {"type": "string"}, "default": None, "nullable": True,
    }  # fmt: skip
    assert props["priority"]["enum"] == ["1", "2"] and props["priority"]["type"] == "string"
    assert next(t for t in TOOLS if t.name == "place_order").validate({**_order(), "priority": "2"})


def test_a_single_value_literal_becomes_a_one_value_enum() -> None:
    def switch(state: Literal["on"], room: str | None = None) -> str:
        return state

    props = function_declaration(Tool(switch))["parameters"]["properties"]
    assert props["state"] == {"type": "string", "enum": ["on"]}
    types.FunctionDeclaration.model_validate(function_declaration(Tool(switch)))


def _order() -> dict[str, object]:
    return {"order": {"items": ["tea"], "ship_to": {"street": "1 Rue", "city": "Paris"}}}


def responses(fake: FakeSession) -> list[dict[str, object]]:
    return [r for m in fake.server.latest.of_kind("toolResponse") for r in m["functionResponses"]]


async def test_parallel_sync_and_async_tools_answer_the_model(fake: FakeSession) -> None:
    made = call_declared_tools(fake.server, ["slow_sync", "get_weather"], text="Got {results}")
    transport = GeminiLiveTransport(
        fake.options.model_copy(update={"tools": [TOOLS[1]]}), silent_media()
    )

    @transport.tool
    def slow_sync(word: str) -> str:
        """Echo a word, slowly."""
        time.sleep(0.3)
        return word

    events = Events(transport)
    async with transport:
        await transport.send_message(say("go"))
        [output] = await events.wait_for("bot-output")
    slow, weather = made
    expected_weather = {"city": weather.args["city"], "unit": weather.args.get("unit", "celsius")}
    # Called first, answered last: the two ran at the same time.
    assert [r["name"] for r in responses(fake)] == ["get_weather", "slow_sync"]
    assert responses(fake)[1]["response"] == {"output": slow.args["word"]}
    assert responses(fake)[0]["response"] == expected_weather
    assert json.dumps(expected_weather, separators=(",", ":")) in output.data.text
    assert transport.tool_runner.answered == 2 and not events.of("error")
    for frame in fake.server.latest.raw:
        check_client_frame(frame)


async def test_invalid_arguments_are_an_error_response(fake: FakeSession) -> None:
    fake.server.script(
        Reply(text="ok {results}", tool_calls=[ToolCall("get_weather", {"town": "X"})])
    )
    transport = GeminiLiveTransport(
        fake.options.model_copy(update={"tools": [TOOLS[1]]}), silent_media()
    )
    events = Events(transport)
    async with transport:
        await transport.send_message(say("go"))
        await events.wait_for("bot-output")
    [response] = responses(fake)
    error = response["response"]["error"]  # type: ignore[index]
    assert "city: Field required" in error and "town: Extra inputs are not permitted" in error
    assert len(events.of("error")) == 1 and transport.state == "disconnected"


@pytest.mark.parametrize("on_interruption", [False, True], ids=["server-only", "barge-in-too"])
async def test_tool_call_cancellation_cancels_the_running_tool(on_interruption: bool) -> None:
    """The fake cancels the call when the user talks over it; with the runner's own
    barge-in cancellation on as well, the call still ends once, with one event."""
    async with running_fake(playback_wait=0.0, voice_activity=True) as (server, options):
        await _cancelled_by_the_server(server, options, on_interruption)


async def _cancelled_by_the_server(
    server: FakeGeminiServer, options: GeminiLiveOptions, on_interruption: bool
) -> None:
    call_declared_tools(server, ["search"], turns=1)
    media = silent_media(realtime=True)
    transport = GeminiLiveTransport(options, media)
    hang = UntilCancelled()

    @transport.tool(cancel_on_interruption=on_interruption)
    async def search(query: str) -> str:
        return await hang.run(query)

    events = Events(transport)
    async with transport:
        await transport.send_message(say("find it"))
        await asyncio.wait_for(hang.started.wait(), 5)
        media.feed(speech())  # the user talks over the pending call: the fake cancels it
        await asyncio.wait_for(hang.cancelled.wait(), 10)
        [stopped] = await events.wait_for("llm-function-call-stopped")
        await events.wait_for("user-stopped-speaking", timeout=10)
        await events.wait_for("bot-output", timeout=10)  # the fake answers the new turn
    assert len(events.of("llm-function-call-stopped")) == 1
    assert any("toolCallCancellation" in m for m in server.latest.sent)
    assert stopped.data.cancelled is True and not server.latest.of_kind("toolResponse")
    assert transport.tool_runner.dropped == 1


async def test_a_blocking_sync_tool_does_not_stall_the_microphone(fake: FakeSession) -> None:
    fake.server.script(Reply(text="done", tool_calls=[ToolCall("slow_sync")]))
    transport = GeminiLiveTransport(fake.options, silent_media(realtime=True))
    window: list[int] = []
    done = threading.Event()

    @transport.tool
    def slow_sync() -> str:
        window.append(transport.stats.chunks_sent)
        time.sleep(1.0)
        window.append(transport.stats.chunks_sent)
        done.set()
        return "ok"

    events = Events(transport)
    async with transport:
        await transport.send_message(say("go"))
        await events.wait_for("llm-function-call-stopped", timeout=10)
    assert done.is_set()
    # 1 s is 50 chunks of 20 ms; a stalled loop would send none until the tool returned.
    assert window[1] - window[0] >= 25, window


async def test_a_result_from_before_a_reconnect_is_not_sent(fake: FakeSession) -> None:
    """Even a resumed session does not take a result for a call of the closed connection."""
    call_declared_tools(fake.server, ["stuck"], turns=1)
    transport = GeminiLiveTransport(fake.options, silent_media())
    call = HeldCall()

    @transport.tool
    def stuck() -> str:
        return call.hold("from the old connection")

    events = Events(transport)
    async with transport:
        await transport.send_message(say("go"))
        await call.entered()
        await fake.server.drop()
        [reconnected] = await events.wait_for("reconnected")
        await call.release()
        await transport.send_message(say("still there?"))  # a stray result would come first
        await events.wait_for("bot-output")
    assert reconnected.data.resumed is True
    assert [c.of_kind("toolResponse") for c in fake.server.connections] == [[], []]
    assert [s.data.cancelled for s in events.of("llm-function-call-stopped")] == [True]
    assert transport.tool_runner.dropped == 1
