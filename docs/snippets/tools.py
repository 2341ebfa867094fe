"""Doc snippet (tools.md): declare tools, let rtws run them, answer one by hand.

Runs offline against the OpenAI fake, whose ToolCallingBot calls the declared
tools with arguments drawn from their schemas.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr
from rtws_openai import FunctionTool, OpenAIRealtimeOptions, OpenAIRealtimeTransport
from rtws_openai.testing import DEFAULT_API_KEY, FakeRealtimeServer
from rtws_openai.testing.tool_bot import ToolCallingBot

from rtws import FileMediaManager, rtvi

# --8<-- [start:declare]
from rtws.tools import tool


@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, Any]:
    """Current weather in a city.

    Args:
        city: the city's name, e.g. Paris.
        unit: the temperature unit.
    """
    return {"city": city, "temperature": 21, "unit": unit}


# --8<-- [end:declare]


async def transfer(department: str) -> str:
    return f"transferred to {department}"


async def main() -> None:
    bot = ToolCallingBot(["get_weather", "book_table", "transfer_call"], answer="{outputs}")
    async with FakeRealtimeServer(bot=bot) as server:
        # --8<-- [start:options]
        options = OpenAIRealtimeOptions(
            tools=[
                get_weather,  # run by rtws
                FunctionTool(  # provider-specific: answered by hand (manual mode)
                    name="transfer_call",
                    parameters={
                        "type": "object",
                        "properties": {"department": {"type": "string"}},
                        "required": ["department"],
                    },
                ),
            ],
        )
        # --8<-- [end:options]
        fake = {"base_url": server.base_url, "api_key": SecretStr(DEFAULT_API_KEY)}
        options = options.model_copy(update=fake)
        transport = OpenAIRealtimeTransport(options, FileMediaManager(realtime=False))

        # --8<-- [start:decorator]
        @transport.tool(timeout=5)
        async def book_table(restaurant: str, people: Annotated[int, Field(ge=1, le=12)]) -> str:
            """Book a table for tonight."""
            return f"{people} at {restaurant}"

        # --8<-- [end:decorator]

        # --8<-- [start:manual]
        @transport.event_handler("llm-function-call-in-progress")
        async def on_call(msg: rtvi.LLMFunctionCallInProgress) -> None:
            if msg.data.function_name != "transfer_call":
                return  # the runner answers its own tools
            result = await transfer(**(msg.data.arguments or {}))
            await transport.send_message(
                rtvi.LLMFunctionCallResult(
                    data=rtvi.LLMFunctionCallResultData(
                        function_name=msg.data.function_name,
                        tool_call_id=msg.data.tool_call_id,
                        arguments=msg.data.arguments or {},
                        result=result,
                    )
                )
            )

        # --8<-- [end:manual]
        answered = asyncio.Event()
        transport.on("bot-output", lambda msg: answered.set())
        async with transport:
            await transport.send_message(rtvi.SendText(data=rtvi.SendTextData(content="Go.")))
            await asyncio.wait_for(answered.wait(), timeout=10)
        outputs = [
            e["item"]["output"]
            for e in server.received
            if e["type"] == "conversation.item.create"
            and e["item"]["type"] == "function_call_output"
        ]
        (weather, table, department) = (args for _, args in bot.calls)
        assert len(outputs) == 3, outputs  # the three ran concurrently: any order
        assert any(o.startswith("{") and json.loads(o)["city"] == weather["city"] for o in outputs)
        assert f"{table['people']} at {table['restaurant']}" in outputs, outputs
        assert f"transferred to {department['department']}" in outputs, outputs
        print("ok")


asyncio.run(main())
