"""``python -m rtws_openai.testing``: the fake OpenAI Realtime server with the demo bot.

Point any OpenAI Realtime client at the printed URL (for rtws:
``OpenAIRealtimeOptions(url=..., api_key=...)``) and talk to it; Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from .demo import DemoBot
from .server import DEFAULT_API_KEY, FakeRealtimeServer, mask_secret


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m rtws_openai.testing",
        description="Local fake of the OpenAI Realtime GA API, answered by an offline demo bot.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument(
        "--pace", type=float, default=1.0, help="reply speed: 1.0 real time, 0 as fast as possible"
    )
    parser.add_argument("--piece-ms", type=int, default=40, help="audio per output delta (ms)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="key clients must present")
    parser.add_argument("--no-auth", action="store_true", help="accept any key, or none")
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
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
