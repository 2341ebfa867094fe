"""What every fake server's ``python -m ...testing`` entry point shares.

The fakes differ in what they say and how they answer, not in how they are
started from a shell: the same address, pacing and key options, a few lines
saying where the fake listens, and Ctrl-C as the ordinary way to stop (no
traceback for it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from .fakeserver import FakeServer


def server_parser(
    prog: str, description: str, *, port: int, api_key: str
) -> argparse.ArgumentParser:
    """A fake's command line with the options every fake has (:func:`add_server_arguments`)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_server_arguments(parser, port=port, api_key=api_key)
    return parser


def add_server_arguments(parser: argparse.ArgumentParser, *, port: int, api_key: str) -> None:
    """``--host``, ``--port``, ``--pace``, ``--api-key`` and ``--no-auth``."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port, help="0 picks a free port")
    parser.add_argument(
        "--pace", type=float, default=1.0, help="reply speed: 1.0 real time, 0 as fast as possible"
    )
    parser.add_argument("--api-key", default=api_key, help="key clients must present")
    parser.add_argument("--no-auth", action="store_true", help="accept any key, or none")


def run_until_interrupted(serve: Coroutine[Any, Any, None]) -> None:
    """Run ``serve`` with warnings logged until Ctrl-C, which ends it quietly."""
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve)


async def serve_until_stopped(
    server: FakeServer[Any, Any], describe: Callable[[], Iterable[str]]
) -> None:
    """Run ``server`` until cancelled (Ctrl-C), first printing ``describe()``'s lines.

    ``describe`` is called once the server listens, so it can name the port.
    """
    async with server:
        for line in describe():
            print(line, flush=True)
        await asyncio.Event().wait()
