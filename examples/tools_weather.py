"""Function calling: the model asks for the weather, your code answers, the model says it.

The tool handler is the same for every provider: the model's call arrives as an RTVI
``llm-function-call-in-progress`` event and the answer goes back as an
``llm-function-call-result`` message.

    OPENAI_API_KEY=sk-... python examples/tools_weather.py
    GEMINI_API_KEY=...    python examples/tools_weather.py --provider gemini
    python examples/tools_weather.py --url ws://127.0.0.1:8765/v1 --input question.wav

``--url`` (default $RTWS_EXAMPLE_URL) points at a local fake server instead of the API.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from rtws import FileMediaManager, RealTimeWebsocketTransport, rtvi
from rtws.audio import read_wav

# --8<-- [start:tool]
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "city name, e.g. Paris"}},
    "required": ["city"],
}


def get_weather(city: str) -> dict[str, Any]:
    """Stands in for a real weather service (deterministic, no network)."""
    temperature = 12 + sum(map(ord, city.lower())) % 15
    return {"city": city, "temperature_c": temperature, "sky": "sunny"}


def add_weather_tool(transport: RealTimeWebsocketTransport) -> None:
    """Answer the model's get_weather calls, whatever the provider."""

    @transport.event_handler("llm-function-call-in-progress")
    async def on_call(msg: rtvi.LLMFunctionCallInProgress) -> None:
        arguments = msg.data.arguments or {}
        result = get_weather(**arguments) if msg.data.function_name == "get_weather" else None
        print(f"tool: {msg.data.function_name}({json.dumps(arguments)}) -> {json.dumps(result)}")
        await transport.send_message(
            rtvi.LLMFunctionCallResult(
                data=rtvi.LLMFunctionCallResultData(
                    function_name=msg.data.function_name or "",
                    tool_call_id=msg.data.tool_call_id,
                    arguments=arguments,
                    result=result or {"error": "unknown function"},
                )
            )
        )


# --8<-- [end:tool]


# --8<-- [start:providers]
def make_transport(
    provider: str, url: str | None, media: FileMediaManager | None
) -> RealTimeWebsocketTransport:
    instructions = "You can look up the weather with get_weather. Be brief."
    if provider == "openai":
        from rtws_openai import FunctionTool, OpenAIRealtimeOptions, OpenAIRealtimeTransport

        openai = OpenAIRealtimeOptions(
            instructions=instructions,
            tools=[
                FunctionTool(
                    name="get_weather", description="Current weather", parameters=WEATHER_SCHEMA
                )
            ],
        )
        if url:
            openai.base_url = url
        return OpenAIRealtimeTransport(openai, media)
    from rtws_gemini import FunctionDeclaration, GeminiLiveOptions, GeminiLiveTransport

    gemini = GeminiLiveOptions(
        system_instruction=instructions,
        tools=[
            FunctionDeclaration(
                name="get_weather", description="Current weather", parameters=WEATHER_SCHEMA
            )
        ],
    )
    if url:
        gemini.host = url
    return GeminiLiveTransport(gemini, media)


# --8<-- [end:providers]


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--provider", choices=["openai", "gemini"], default="openai")
    parser.add_argument("--url", default=os.environ.get("RTWS_EXAMPLE_URL"))
    parser.add_argument("--input", type=Path, help="a WAV to say instead of using the microphone")
    parser.add_argument("--seconds", type=float, default=60, help="session length with a mic")
    args = parser.parse_args(argv)

    media = None  # None: the default microphone and speaker
    speech = np.zeros(0, np.int16)
    if args.input:
        pcm, rate = read_wav(args.input)
        speech = np.concatenate([pcm, np.zeros(rate, np.int16)])  # + 1 s of silence: turn ends
        media = FileMediaManager(None, input_rate=rate, realtime=False)
    transport = make_transport(args.provider, args.url, media)
    add_weather_tool(transport)
    answered = asyncio.Event()
    tool_answered = False

    @transport.event_handler("user-transcription")
    def you(msg: rtvi.UserTranscription) -> None:
        if msg.data.final:
            print(f"you: {msg.data.text}")

    @transport.event_handler("bot-output")
    def bot(msg: rtvi.BotOutput) -> None:
        print(f"bot: {msg.data.text}")

    @transport.event_handler("llm-function-call-stopped")
    def call_done(msg: rtvi.LLMFunctionCallStopped) -> None:
        nonlocal tool_answered
        tool_answered = not msg.data.cancelled

    @transport.event_handler("bot-stopped-speaking")
    def spoke(msg: rtvi.BotStoppedSpeaking) -> None:
        if tool_answered:  # the reply that used the tool's result ends the exchange
            answered.set()

    async with transport:
        if media is None:
            print("Ask about the weather somewhere (Ctrl-C to stop).")
            await asyncio.sleep(args.seconds)
        else:
            media.feed(speech)
            await asyncio.wait_for(answered.wait(), timeout=60)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(130)
