"""``python -m rtws_deepgram.testing``: the fake Voice Agent server, speaking and listening.

Point any Voice Agent client at the printed URL (rtws: ``rtws talk deepgram
--url URL --option api_key=KEY``, or the ``deepgram-sdk`` with
``DeepgramClientEnvironment(agent="ws://127.0.0.1:PORT", ...)``); Ctrl-C stops it.
"""

from __future__ import annotations

import argparse

from rtws.testing.entry import run_until_interrupted, serve_until_stopped, server_parser

from .server import DEFAULT_API_KEY, FakeDeepgramAgent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = server_parser(
        "python -m rtws_deepgram.testing",
        "Local fake of the Deepgram Voice Agent API v1.",
        port=8766,
        api_key=DEFAULT_API_KEY,
    )
    parser.add_argument("--idle-timeout", type=float, default=10.0, help="CLIENT_MESSAGE_TIMEOUT")
    parser.add_argument("--tone", action="store_true", help="answer with a tone, not espeak-ng")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    server = FakeDeepgramAgent(
        None if args.no_auth else args.api_key,
        host=args.host,
        port=args.port,
        pace=args.pace,
        idle_timeout=args.idle_timeout,
        real_voice=not args.tone,
    )
    voice = server.voice
    await serve_until_stopped(
        server,
        lambda: [
            f"fake Deepgram Voice Agent: {server.url}",
            f"api key: {'any' if args.no_auth else args.api_key}",
            f"speech: {'espeak-ng' if voice.speaks else 'a tone'}; "
            f"recognition: {'pocketsphinx' if voice.hears else 'off'}. Ctrl-C to stop.",
        ],
    )


def main(argv: list[str] | None = None) -> None:
    run_until_interrupted(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
