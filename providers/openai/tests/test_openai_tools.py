"""Function tools on OpenAI Realtime, end to end against the fake: declare, run, answer, cancel.

The fake's :class:`ToolCallingBot` calls the tools the provider declared in
``session.update`` with arguments drawn from their schemas, so these tests
also prove the declarations themselves work (and the conftest checks every
client event, ``tools`` included, against the ``openai`` SDK).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from typing import Any, ClassVar

import pytest
from openai.types.realtime import RealtimeFunctionTool
from rtws_openai import FunctionTool, OpenAIRealtimeTransport
from rtws_openai.session import function_tool, session_config
from rtws_openai.testing import FakeRealtimeServer, FunctionCall, Reply, ScriptedBot
from rtws_openai.testing.tool_bot import ToolCallingBot

from providers.openai.tests.support import EventLog, extras, options, transport
from providers.openai.tests.test_conformance import OpenAIHarness
from rtws import MediaManager, rtvi
from rtws.conversation import events as ev
from rtws.testing import ProviderHarness
from rtws.testing.tools import ToolConformance, UntilCancelled
from rtws.tools import Tool
from tests.held_call import HeldCall
from tests.tool_signatures import TOOLS


@pytest.mark.parametrize("declared", TOOLS, ids=lambda t: t.name)
def test_declaration_is_an_sdk_function_tool(declared: Tool) -> None:
    model = RealtimeFunctionTool.model_validate(function_tool(declared))
    assert not extras(model)
    assert model.name == declared.name and model.parameters == declared.parameters


def test_functions_and_function_tools_mix_in_options(openai_fake: FakeRealtimeServer) -> None:
    legacy = FunctionTool(name="legacy", parameters={"type": "object", "properties": {}})
    opts = options(openai_fake, tools=[TOOLS[1].fn, legacy])
    assert [type(t) for t in opts.tools] == [Tool, FunctionTool]
    assert [t["name"] for t in session_config(opts)["tools"]] == ["get_weather", "legacy"]
    with pytest.raises(ValueError, match="duplicate function names"):
        options(openai_fake, tools=[TOOLS[1].fn, FunctionTool(name="get_weather")])


def outputs(server: FakeRealtimeServer) -> list[dict[str, Any]]:
    return [
        e["item"]
        for e in server.received
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    ]


async def ask(t: OpenAIRealtimeTransport, text: str = "Go.") -> None:
    await t.send_message(rtvi.SendText(data=rtvi.SendTextData(content=text)))


async def test_sync_and_async_tools_answer_the_model(openai_fake: FakeRealtimeServer) -> None:
    bot = openai_fake.bot = ToolCallingBot(["get_weather", "lookup"], answer="Said: {outputs}")
    t = transport(openai_fake, tools=[TOOLS[1].fn])
    threads: list[str] = []

    @t.tool
    async def lookup(query: str, limit: int = 2) -> list[str]:
        """Search the catalogue."""
        threads.append(threading.current_thread().name)
        return [query] * limit

    log = EventLog(t)
    async with t:
        await ask(t)
        said = await log.wait("bot-output", where=lambda d: d["text"].startswith("Said:"))
    (weather_args, lookup_args) = (args for _, args in bot.calls)
    expected = [
        {"city": weather_args["city"], "unit": weather_args.get("unit", "celsius")},
        [lookup_args["query"]] * lookup_args.get("limit", 2),
    ]
    sent = outputs(openai_fake)
    assert [json.loads(o["output"]) for o in sent] == expected
    assert json.dumps(expected[0]) in said.to_dict()["data"]["text"]
    stopped = log.data("llm-function-call-stopped")
    assert [s["result"] for s in stopped] == expected and not any(s["cancelled"] for s in stopped)
    assert threads == [threading.main_thread().name]  # async tools run on the loop
    assert t.tool_runner.answered == 2 and not log.of("error")


async def test_bad_arguments_exceptions_and_timeouts_become_errors_the_model_reads(
    openai_fake: FakeRealtimeServer,
) -> None:
    openai_fake.bot = ScriptedBot(
        [
            Reply.call("get_weather", {"city": 12}, call_id="bad"),
            Reply.say("Sorry."),
            Reply.call("explode", {}, call_id="boom"),
            Reply.say("Oops."),
            Reply.call("dawdle", {}, call_id="slow"),
            Reply.say("Too slow."),
        ]
    )
    t = transport(openai_fake, tools=[TOOLS[1].fn])

    @t.tool
    def explode() -> str:
        raise RuntimeError("the weather service is down")

    @t.tool(timeout=0.2)
    async def dawdle() -> str:
        await asyncio.sleep(30)
        return "never"

    log = EventLog(t)
    async with t:
        for text in ("Sorry.", "Oops.", "Too slow."):
            await ask(t)
            await log.wait("bot-output", where=lambda d, text=text: d["text"] == text)
        assert t.state == "ready"
    errors = [json.loads(o["output"])["error"] for o in outputs(openai_fake)]
    assert "invalid arguments for get_weather: city: Input should be a valid string" in errors[0]
    assert errors[1] == "explode failed: RuntimeError: the weather service is down"
    assert errors[2] == "dawdle took longer than 0.2 s and was stopped"
    reported = [e["error"] for e in log.data("error")]
    assert len(reported) == 3 and all(not e["fatal"] for e in log.data("error"))
    assert "city" in reported[0] and "weather service is down" in reported[1]
    assert t.tool_runner.failed == 3 and t.tool_runner.answered == 0


async def test_barge_in_cancels_a_running_tool_and_drops_its_result(
    openai_fake: FakeRealtimeServer,
) -> None:
    openai_fake.bot = ScriptedBot([Reply.call("slow_search", {}, call_id="c1")])
    t = transport(openai_fake)
    hang = UntilCancelled()

    @t.tool
    async def slow_search() -> str:
        return await hang.run()

    @t.tool(cancel_on_interruption=False)
    def unrelated() -> str:
        return "never called"

    log = EventLog(t)
    async with t:
        await ask(t)
        await asyncio.wait_for(hang.started.wait(), 5)
        await openai_fake.send_event(
            {"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": "u2"}
        )
        await asyncio.wait_for(hang.cancelled.wait(), 5)
        stopped = await log.wait("llm-function-call-stopped")  # at the barge-in, not later
        await openai_fake.send_event(
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 900, "item_id": "u2"}
        )
        await log.wait("user-stopped-speaking")
    assert len(log.of("llm-function-call-stopped")) == 1
    assert stopped.to_dict()["data"] == {
        "tool_call_id": "c1", "cancelled": True, "function_name": "slow_search",
    }  # fmt: skip
    assert outputs(openai_fake) == [] and t.tool_runner.dropped == 1


async def test_parallel_calls_run_concurrently_then_one_response(
    openai_fake: FakeRealtimeServer,
) -> None:
    openai_fake.bot = ToolCallingBot(["first", "second"], answer="Both: {outputs}")
    t = transport(openai_fake)

    @t.tool
    async def first() -> str:
        await asyncio.sleep(0.4)
        return "first"

    @t.tool
    def second() -> str:
        time.sleep(0.1)  # a sync tool, in its thread, alongside the async one
        return "second"

    log = EventLog(t)
    async with t:
        await ask(t)
        await log.wait("bot-output", where=lambda d: d["text"].startswith("Both:"))
    # Called first, answered last: the two ran at the same time, not one after the other.
    assert [o["output"] for o in outputs(openai_fake)] == ["second", "first"]
    kinds = [
        e["item"]["type"] if e["type"] == "conversation.item.create" else e["type"]
        for e in openai_fake.received
        if e["type"] in ("conversation.item.create", "response.create")
    ]
    # the user's text, its response; both outputs, then a single response.create
    assert kinds == [
        "message", "response.create", "function_call_output", "function_call_output",
        "response.create",
    ]  # fmt: skip


async def test_a_blocking_sync_tool_does_not_stall_the_microphone(
    openai_fake: FakeRealtimeServer,
) -> None:
    openai_fake.bot = ScriptedBot([Reply.call("slow_sync", {}, call_id="s1"), Reply.say("Done.")])
    t = transport(openai_fake)
    window: list[int] = []

    @t.tool
    def slow_sync() -> str:
        window.append(t.stats.chunks_sent)
        time.sleep(1.0)  # blocks its thread, never the event loop
        window.append(t.stats.chunks_sent)
        return "ok"

    log = EventLog(t)
    async with t:
        await ask(t)
        await log.wait("bot-output", where=lambda d: d["text"] == "Done.")
    sent_while_sleeping = window[1] - window[0]
    # 1 s is 50 chunks of 20 ms; a stalled loop would send none until the tool returned.
    assert sent_while_sleeping >= 25, window


async def test_a_result_from_before_a_reconnect_is_not_sent(
    openai_fake: FakeRealtimeServer,
) -> None:
    """A new connection is a new session that does not know the call: the late result is dropped."""
    openai_fake.bot = ScriptedBot([Reply.call("stuck", {}, call_id="old")])
    t = transport(openai_fake)
    call = HeldCall()

    @t.tool
    def stuck() -> str:
        return call.hold("from the old session")

    log = EventLog(t)
    async with t:
        await ask(t)
        await call.entered()
        await openai_fake.drop()
        await log.wait("reconnected")
        await call.release()
        await ask(t, "Still there?")  # a wrongly sent result would reach the fake before this
        await log.wait("bot-output")
    assert outputs(openai_fake) == [] and t.tool_runner.dropped == 1
    assert [s["cancelled"] for s in log.data("llm-function-call-stopped")] == [True]


def test_transport_tool_forms_declare_into_the_options(openai_fake: FakeRealtimeServer) -> None:
    t = transport(openai_fake, tools=[TOOLS[1].fn])
    declared = t.tool(TOOLS[0])  # an existing Tool is kept as is
    slow = t.tool(timeout=None)(TOOLS[4])  # ...or re-declared with other settings
    assert declared is TOOLS[0] and slow is not TOOLS[4] and slow.timeout is None
    assert [tool.name for tool in t.tool_runner.tools] == ["get_weather", "no_arguments", "lookup"]
    assert [tool["name"] for tool in session_config(t.options)["tools"]] == [
        "get_weather", "no_arguments", "lookup",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="'get_weather' is already declared"):
        t.tool(TOOLS[1].fn)


async def test_an_instant_tool_does_not_get_a_response_before_its_slow_sibling(
    openai_fake: FakeRealtimeServer,
) -> None:
    long_arguments = json.dumps({"text": "x" * 4000})  # streamed in many deltas after "fast"
    bot = openai_fake.bot = ScriptedBot(
        [
            Reply(calls=(FunctionCall("fast", "{}"), FunctionCall("slow", long_arguments))),
            Reply.say("Both."),
        ]
    )
    t = transport(openai_fake)

    @t.tool
    async def fast() -> str:
        return "fast"

    @t.tool
    async def slow(text: str) -> str:
        await asyncio.sleep(0.3)
        return "slow"

    log = EventLog(t)
    async with t:
        await ask(t)
        await log.wait("bot-output", where=lambda d: d["text"] == "Both.")
    # The response after the calls is made with both results, not with the fast one only.
    assert [o.output for o in bot.turns[1].function_outputs] == ["fast", "slow"]


# ------------------------------------------------------------- the kit's tool checks can fail
class DropsResults(OpenAIRealtimeTransport):
    """Never sends a function result."""

    async def send_message(self, message: rtvi.RTVIMessage) -> None:
        if not isinstance(message, rtvi.LLMFunctionCallResult):
            await super().send_message(message)


class LosesArguments(OpenAIRealtimeTransport):
    """Hands every call to the core without its arguments."""

    def feed(self, event: ev.ProviderEvent) -> Any:
        if isinstance(event, ev.FunctionCallArguments):
            event = dataclasses.replace(event, arguments=None)
        return super().feed(event)


class _BrokenHarness(OpenAIHarness):
    def __init__(self, transport_class: type[OpenAIRealtimeTransport]) -> None:
        super().__init__()
        self.transport_class = transport_class

    def make_transport(self, media: MediaManager) -> OpenAIRealtimeTransport:
        options = super().make_transport(media).options
        self.transport = self.transport_class(options, media)
        return self.transport


class _BrokenSuite(ToolConformance):
    timeout: ClassVar[float] = 2.0

    def __init__(self, transport_class: type[OpenAIRealtimeTransport]) -> None:
        self.transport_class = transport_class

    def make_harness(self) -> ProviderHarness:
        return _BrokenHarness(self.transport_class)


@pytest.mark.parametrize("broken", [DropsResults, LosesArguments], ids=lambda c: c.__name__)
async def test_the_kits_tool_checks_fail_a_broken_provider(
    broken: type[OpenAIRealtimeTransport],
) -> None:
    results = await _BrokenSuite(broken).run(
        "test_tools_a_plain_function_answers_the_model",
        "test_tools_bad_arguments_reach_the_model_as_an_error",
    )
    assert all(outcome != "ok" for outcome in results.values()), results
