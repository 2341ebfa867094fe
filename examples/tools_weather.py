"""Function calling: the model asks for the weather, your code answers, the model says it.

One plain function is the tool, for every provider: rtws declares it from its
signature and docstring, runs it when the model calls it and sends the result.

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
from rtws.tools import tool


# --8<-- [start:tool]
@tool
def get_weather(city: str) -> dict[str, Any]:
    """Current weather in a city.

    Args:
        city: the city's name, e.g. Paris.
    """
    temperature = 12 + sum(map(ord, city.lower())) % 15  # deterministic: no network
    return {"city": city, "temperature_c": temperature, "sky": "sunny"}


# --8<-- [end:tool]


# --8<-- [start:providers]
def make_transport(
    provider: str, url: str | None, media: FileMediaManager | None
) -> RealTimeWebsocketTransport:
    instructions = "You can look up the weather with get_weather. Be brief."
    if provider == "openai":
        from rtws_openai import OpenAIRealtimeOptions, OpenAIRealtimeTransport

        openai = OpenAIRealtimeOptions(instructions=instructions, tools=[get_weather])
        openai.base_url = url or openai.base_url
        return OpenAIRealtimeTransport(openai, media)
    from rtws_gemini import GeminiLiveOptions, GeminiLiveTransport

    gemini = GeminiLiveOptions(system_instruction=instructions, tools=[get_weather])
    gemini.host = url or gemini.host
    return GeminiLiveTransport(gemini, media)


# --8<-- [end:providers]


# --8<-- [start:raw]
def show_tool_calls(transport: RealTimeWebsocketTransport) -> None:
    """The raw events every call goes through (what manual mode answers by hand)."""
    arguments: dict[str, Any] = {}

    @transport.event_handler("llm-function-call-in-progress")
    def called(msg: rtvi.LLMFunctionCallInProgress) -> None:
        arguments[msg.data.tool_call_id] = msg.data.arguments

    @transport.event_handler("llm-function-call-stopped")
    def answered(msg: rtvi.LLMFunctionCallStopped) -> None:
        args = json.dumps(arguments.pop(msg.data.tool_call_id, None))
        print(f"tool: {msg.data.function_name}({args}) -> {json.dumps(msg.data.result)}")


# --8<-- [end:raw]


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
    show_tool_calls(transport)
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
