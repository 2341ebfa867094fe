"""A running fake plus matching options: the building block of every end-to-end test.

Usable without pytest (notebooks, benchmarks)::

    async with running_fake(pace=0) as (server, options):
        transport = DeepgramVoiceAgentTransport(options, FileMediaManager("hello.wav"))
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from rtws.testing.fake_options import FAST_RECONNECT, fake_options, running_with_options

from ..options import DeepgramVoiceAgentOptions
from .server import FakeDeepgramAgent

__all__ = ["FAST_RECONNECT", "options_for", "running_fake"]


def options_for(server: FakeDeepgramAgent, **overrides: Any) -> DeepgramVoiceAgentOptions:
    """Options that connect to ``server`` with its key; ``overrides`` win."""
    return fake_options(DeepgramVoiceAgentOptions, server.api_key, {"url": server.url}, overrides)


def running_fake(
    options: dict[str, Any] | None = None, **server_kw: Any
) -> AbstractAsyncContextManager[tuple[FakeDeepgramAgent, DeepgramVoiceAgentOptions]]:
    """Start a :class:`FakeDeepgramAgent` (``server_kw``) and yield it with options for it
    (``options`` win over the defaults)."""
    return running_with_options(
        FakeDeepgramAgent(**server_kw), lambda server: options_for(server, **(options or {}))
    )
