"""A running fake plus matching options: the building block of every end-to-end test.

Usable without pytest (notebooks, benchmarks, other test suites)::

    async with running_fake(playback_wait=0) as (server, options):
        transport = GeminiLiveTransport(options, FileMediaManager("hello.wav"))
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from pydantic import SecretStr

from rtws import ReconnectPolicy

from ..options import GeminiLiveOptions
from .server import FakeGeminiServer

#: Reconnect fast against a local fake (tests should not wait seconds for a backoff).
FAST_RECONNECT = ReconnectPolicy(max_attempts=3, initial_delay=0.05, max_delay=0.2, jitter=0.0)


def options_for(server: FakeGeminiServer, **overrides: Any) -> GeminiLiveOptions:
    """Options that connect to ``server`` with its key; ``overrides`` win."""
    base: dict[str, Any] = {
        "api_key": SecretStr(server.api_key or "any-key-works"),
        "host": server.url,
        "connect_timeout": 5.0,
        "reconnect": FAST_RECONNECT,
    }
    base.update(overrides)
    return GeminiLiveOptions.model_validate(base)


@asynccontextmanager
async def running_fake(
    options: dict[str, Any] | None = None, **server_kw: Any
) -> AsyncGenerator[tuple[FakeGeminiServer, GeminiLiveOptions]]:
    """Start a :class:`FakeGeminiServer` (``server_kw``) and yield it with options for it."""
    async with FakeGeminiServer(**server_kw) as server:
        yield server, options_for(server, **(options or {}))
