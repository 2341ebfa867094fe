"""``python -m rtws_openai.testing``: the fake OpenAI Realtime server with the demo bot.

Point any OpenAI Realtime client at the printed URL (for rtws:
``OpenAIRealtimeOptions(url=..., api_key=...)``) and talk to it; Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import asyncio

from rtws.testing.entry import add_server_arguments, run_until_interrupted

from .demo import DemoBot
from .server import DEFAULT_API_KEY, FakeRealtimeServer, mask_secret


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m rtws_openai.testing",
        description="Local fake of the OpenAI Realtime GA API, answered by an offline demo bot.",
    )
    add_server_arguments(parser, port=8765, api_key=DEFAULT_API_KEY)
    parser.add_argument("--piece-ms", type=int, default=40, help="audio per output delta (ms)")
    parser.add_argument("--no-asr", action="store_true", help="do not transcribe (pocketsphinx)")
    parser.add_argument("--no-tts", action="store_true", help="do not speak with espeak-ng")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    bot = DemoBot(asr=not args.no_asr, tts=not args.no_tts)
    server = FakeRealtimeServer(
        None if args.no_auth else args.api_key,
        host=args.host,
        port=args.port,
        bot=bot,
        pace=args.pace,
        piece_ms=args.piece_ms,
    )
    async with server:
        print(f"fake OpenAI Realtime server: {server.url}", flush=True)
        if args.no_auth:
            print("api key: any", flush=True)
        elif args.api_key == DEFAULT_API_KEY:
            print(f"api key: {DEFAULT_API_KEY}", flush=True)
        else:
            print(
                f"api key: the one given with --api-key ({mask_secret(args.api_key)})", flush=True
            )
        print(
            f"speech recognition: {bot.recognizer or 'off'}; "
            f"speech: {'espeak-ng' if bot.tts else 'echo of your voice'}. Ctrl-C to stop.",
            flush=True,
        )
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    run_until_interrupted(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
