"""What every fake server's ``python -m ...testing`` entry point shares.

The fakes differ in what they say and how they answer, not in how they are
started from a shell: the same address, pacing and key options, and Ctrl-C as
the ordinary way to stop (no traceback for it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any


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
