"""``python -m rtws_openai.testing``: the fake OpenAI Realtime server with the demo bot.

Point any OpenAI Realtime client at the printed URL (for rtws:
``OpenAIRealtimeOptions(url=..., api_key=...)``) and talk to it; Ctrl-C stops it.
"""

from __future__ import annotations

import argparse

from rtws.testing.entry import run_until_interrupted, serve_until_stopped, server_parser

from .demo import DemoBot
from .server import DEFAULT_API_KEY, FakeRealtimeServer, mask_secret


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = server_parser(
        "python -m rtws_openai.testing",
        "Local fake of the OpenAI Realtime GA API, answered by an offline demo bot.",
        port=8765,
        api_key=DEFAULT_API_KEY,
    )
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
    await serve_until_stopped(
        server,
        lambda: [
            f"fake OpenAI Realtime server: {server.url}",
            _key_line(args),
            f"speech recognition: {bot.recognizer or 'off'}; "
            f"speech: {'espeak-ng' if bot.tts else 'echo of your voice'}. Ctrl-C to stop.",
        ],
    )


def _key_line(args: argparse.Namespace) -> str:
    if args.no_auth:
        return "api key: any"
    if args.api_key == DEFAULT_API_KEY:
        return f"api key: {DEFAULT_API_KEY}"
    return f"api key: the one given with --api-key ({mask_secret(args.api_key)})"


def main(argv: list[str] | None = None) -> None:
    run_until_interrupted(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
