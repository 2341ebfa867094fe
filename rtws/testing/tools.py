"""Conformance checks for function tools: a plain function, declared and answered by rtws.

Tools are a layer on the public contract (``llm-function-call-in-progress``
in, ``send_message(LLMFunctionCallResult)`` out), so a provider that keeps
that contract gets them for free; these checks prove it against the
provider's own fake. A provider opts in with two more harness actions::

    class MyHarness(ProviderHarness, ToolCallingHarness): ...

    class TestMyConformance(ToolConformance):
        def make_harness(self) -> ProviderHarness:
            return MyHarness()
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Any, cast

from .. import rtvi
from ..state import TransportState
from .harness import ProviderHarness
from .kit import ProviderConformance
from .probes import EventLog, wait_for


class ToolCallingHarness(ABC):
    """The two server-side actions the tool checks need, next to :class:`ProviderHarness`'s."""

    @abstractmethod
    async def server_call_tool(self, name: str, arguments: dict[str, Any]) -> None:
        """Make the server call function ``name`` with ``arguments``, once, as the model would.

        Prompt the server however the protocol allows (the OpenAI and Gemini
        harnesses script the fake and send a typed turn); return once the
        call was sent.
        """

    @abstractmethod
    def tool_results(self) -> list[Any]:
        """Every function result the server received, in order, as Python values: the
        value the function returned, or the ``{"error": ...}`` object rtws sent instead
        (undo the protocol's wrapping, such as a JSON string or ``{"output": value}``)."""


class UntilCancelled:
    """The body of a tool that runs until it is cancelled, for cancellation tests::

        hang = UntilCancelled()

        @transport.tool
        async def search(query: str) -> str:
            return await hang.run(query)

    ``started`` is set once the tool runs, ``cancelled`` once it was cancelled.
    """

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()

    async def run(self, result: str = "late") -> str:
        self.started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return result  # only if nothing cancelled it within the hour


def _add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first.
        b: the second.
    """
    return a + b


class ToolConformance(ProviderConformance):
    """:class:`ProviderConformance` plus the tool checks; the harness must be a
    :class:`ToolCallingHarness` too."""

    def tool_harness(self, harness: ProviderHarness) -> ToolCallingHarness:
        assert isinstance(harness, ToolCallingHarness), (
            f"{type(harness).__name__} must implement rtws.testing.tools.ToolCallingHarness"
        )
        return harness

    async def test_tools_a_plain_function_answers_the_model(self, harness: ProviderHarness) -> None:
        server = self.tool_harness(harness)
        transport = self.new_transport(harness, self.fast_media())
        transport.tool(name="add")(_add)
        log = EventLog(transport)
        await self.connect(transport)
        await server.server_call_tool("add", {"a": 2, "b": 3})
        await wait_for(server.tool_results, self.timeout, "the function's result")
        assert server.tool_results() == [5]
        await wait_for(
            lambda: log.of_type("llm-function-call-stopped"), self.timeout, "the call to stop"
        )
        [stopped] = log.of_type("llm-function-call-stopped")
        assert isinstance(stopped, rtvi.LLMFunctionCallStopped)
        assert (stopped.data.function_name, stopped.data.result) == ("add", 5)
        assert not stopped.data.cancelled
        order = ("llm-function-call-started", "llm-function-call-in-progress")
        assert log.types(*order, "llm-function-call-stopped") == [
            *order,
            "llm-function-call-stopped",
        ]

    async def test_tools_bad_arguments_reach_the_model_as_an_error(
        self, harness: ProviderHarness
    ) -> None:
        server = self.tool_harness(harness)
        transport = self.new_transport(harness, self.fast_media())
        transport.tool(name="add")(_add)
        log = EventLog(transport)
        await self.connect(transport)
        await server.server_call_tool("add", {"a": "two", "b": 3})
        await wait_for(server.tool_results, self.timeout, "the function's result")
        [result] = server.tool_results()
        error = cast(dict[str, Any], result).get("error") if isinstance(result, dict) else None
        assert "a: Input should be a valid integer" in str(error), result
        errors = [m for m in log.of_type("error") if isinstance(m, rtvi.Error)]
        assert len(errors) == 1
        assert not errors[0].data.fatal
        assert transport.state is TransportState.READY  # the session goes on
