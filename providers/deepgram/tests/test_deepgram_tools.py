"""Function tools on Deepgram's Voice Agent, end to end against the fake: declare, run, cancel.

A plain function in ``options.tools`` becomes a client-side entry of
``Settings.agent.think.functions`` (``rtws.tools.deepgram_function``); the
agent's ``FunctionCallRequest`` reaches rtws' tool runner as
``llm-function-call-in-progress`` and its answer goes out as a
``FunctionCallResponse``. Every message either side sends is checked
against the ``deepgram-sdk`` models.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from rtws_deepgram import AgentFunction, DeepgramVoiceAgentOptions, DeepgramVoiceAgentTransport
from rtws_deepgram.settings import settings_message
from rtws_deepgram.testing import FunctionCall, Reply

from rtws import FileMediaManager, rtvi
from rtws.testing.probes import EventLog, wait_for
from rtws.testing.tools import UntilCancelled
from rtws.tools import Tool
from tests.tool_signatures import TOOLS

from .conftest import FakeSession
from .sdk_check import check_client_message
from .test_deepgram_transport import validate_wire


@pytest.fixture
async def fake(fake: FakeSession) -> AsyncIterator[FakeSession]:
    yield fake
    validate_wire(fake.server)


def with_tools(fake: FakeSession, *tools: Any, **more: Any) -> DeepgramVoiceAgentOptions:
    return DeepgramVoiceAgentOptions.model_validate(
        {**dict(fake.options), "tools": list(tools), **more}
    )


@pytest.mark.parametrize("declared", TOOLS, ids=lambda t: t.name)
def test_a_tool_is_a_client_side_sdk_function_in_settings(
    declared: Tool, fake: FakeSession
) -> None:
    settings = check_client_message(settings_message(with_tools(fake, declared)))
    (function,) = settings.agent.think.functions
    assert function.name == declared.name and function.description == declared.description
    assert function.parameters == declared.parameters
    assert function.endpoint is None  # Deepgram asks the client to run it


def test_functions_and_tools_are_declared_together_with_unique_names(fake: FakeSession) -> None:
    server_side = AgentFunction(
        name="book", endpoint={"url": "https://example.com/book", "method": "post"}
    )
    options = with_tools(fake, TOOLS[1].fn, functions=[server_side])
    functions = settings_message(options)["agent"]["think"]["functions"]
    assert [f["name"] for f in functions] == ["book", "get_weather"]
    assert "endpoint" in functions[0] and "endpoint" not in functions[1]
    with pytest.raises(ValueError, match=r"duplicate function names \['get_weather'\]"):
        with_tools(fake, TOOLS[1].fn, functions=[AgentFunction(name="get_weather")])


async def test_a_plain_function_answers_the_agent(fake: FakeSession) -> None:
    fake.server.script(
        Reply(text="It is {results}.", calls=[FunctionCall("get_weather", {"city": "Oslo"})])
    )
    transport = DeepgramVoiceAgentTransport(
        with_tools(fake, TOOLS[1]), FileMediaManager(None, input_rate=16000, realtime=False)
    )
    log = EventLog(transport)
    async with transport:
        await transport.send_message(rtvi.SendText(data=rtvi.SendTextData(content="Weather?")))
        await wait_for(lambda: log.of_type("bot-output"), 5, "the answer")
    expected = {"city": "Oslo", "unit": "celsius"}
    (response,) = fake.server.latest.of_type("FunctionCallResponse", sent=False)
    assert (response["name"], json.loads(response["content"])) == ("get_weather", expected)
    (output,) = log.of_type("bot-output")
    assert isinstance(output, rtvi.BotOutput) and json.dumps(expected) in output.data.text
    (stopped,) = log.of_type("llm-function-call-stopped")
    assert isinstance(stopped, rtvi.LLMFunctionCallStopped)
    assert stopped.data.result == expected and not stopped.data.cancelled
    assert transport.tool_runner.answered == 1 and not log.of_type("error")


async def test_a_barge_in_cancels_the_running_tool_once(fake: FakeSession) -> None:
    """The runner cancels the call at the barge-in, and the agent withdraws it too
    (``FunctionCallCancelled``): the call still stops once, and nothing is answered."""
    fake.server.script(Reply(text="Found {results}.", calls=[FunctionCall("search", {})]))
    hang = UntilCancelled()

    async def search() -> str:
        """Search for a long time."""
        return await hang.run()

    transport = DeepgramVoiceAgentTransport(
        with_tools(fake, search), FileMediaManager(None, input_rate=16000, realtime=False)
    )
    log = EventLog(transport)
    async with transport:
        await transport.send_message(rtvi.SendText(data=rtvi.SendTextData(content="Search.")))
        await asyncio.wait_for(hang.started.wait(), 5)
        await fake.server.interrupt()
        await asyncio.wait_for(hang.cancelled.wait(), 5)
        await fake.server.wait_sent("FunctionCallCancelled")
        # The next reply comes after the cancellation on the socket: by then it was handled.
        fake.server.script(Reply(text="Okay."))
        await transport.send_message(rtvi.SendText(data=rtvi.SendTextData(content="Never mind.")))
        await wait_for(lambda: log.of_type("bot-output"), 5, "the next reply")
    (stopped,) = log.of_type("llm-function-call-stopped")
    assert isinstance(stopped, rtvi.LLMFunctionCallStopped)
    assert (stopped.data.function_name, stopped.data.cancelled) == ("search", True)
    assert fake.server.latest.of_type("FunctionCallResponse", sent=False) == []
    assert transport.tool_runner.dropped == 1
