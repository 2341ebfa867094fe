"""``python -m rtws_deepgram.testing``: the fake Voice Agent server, speaking and listening.

Point any Voice Agent client at the printed URL (rtws: ``rtws talk deepgram
--url URL --option api_key=KEY``, or the ``deepgram-sdk`` with
``DeepgramClientEnvironment(agent="ws://127.0.0.1:PORT", ...)``); Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from .server import DEFAULT_API_KEY, FakeDeepgramAgent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m rtws_deepgram.testing",
        description="Local fake of the Deepgram Voice Agent API v1.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766, help="0 picks a free port")
    parser.add_argument("--pace", type=float, default=1.0, help="1.0 real time, 0 at once")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="key clients must present")
    parser.add_argument("--no-auth", action="store_true", help="accept any key, or none")
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
    async with server:
        print(f"fake Deepgram Voice Agent: {server.url}", flush=True)
        print(f"api key: {'any' if args.no_auth else args.api_key}", flush=True)
        voice = server.voice
        print(
            f"speech: {'espeak-ng' if voice.speaks else 'a tone'}; "
            f"recognition: {'pocketsphinx' if voice.hears else 'off'}. Ctrl-C to stop.",
            flush=True,
        )
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
