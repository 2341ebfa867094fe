"""A running fake plus matching options: the building block of every end-to-end test.

Usable without pytest (notebooks, benchmarks)::

    async with running_fake(pace=0) as (server, options):
        transport = DeepgramVoiceAgentTransport(options, FileMediaManager("hello.wav"))
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from pydantic import SecretStr

from rtws import ReconnectPolicy

from ..options import DeepgramVoiceAgentOptions
from .server import FakeDeepgramAgent

#: Reconnect fast against a local fake (tests should not wait seconds for a backoff).
FAST_RECONNECT = ReconnectPolicy(max_attempts=3, initial_delay=0.05, max_delay=0.2, jitter=0.0)


def options_for(server: FakeDeepgramAgent, **overrides: Any) -> DeepgramVoiceAgentOptions:
    """Options that connect to ``server`` with its key; ``overrides`` win."""
    base: dict[str, Any] = {
        "api_key": SecretStr(server.api_key or "any-key-works"),
        "url": server.url,
        "connect_timeout": 5.0,
        "reconnect": FAST_RECONNECT,
    }
    base.update(overrides)
    return DeepgramVoiceAgentOptions.model_validate(base)


@asynccontextmanager
async def running_fake(
    options: dict[str, Any] | None = None, **server_kw: Any
) -> AsyncGenerator[tuple[FakeDeepgramAgent, DeepgramVoiceAgentOptions]]:
    """Start a :class:`FakeDeepgramAgent` (``server_kw``) and yield it with options for it."""
    async with FakeDeepgramAgent(**server_kw) as server:
        yield server, options_for(server, **(options or {}))
