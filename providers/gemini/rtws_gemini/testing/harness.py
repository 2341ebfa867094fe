"""A running fake plus matching options: the building block of every end-to-end test.

Usable without pytest (notebooks, benchmarks, other test suites)::

    async with running_fake(playback_wait=0) as (server, options):
        transport = GeminiLiveTransport(options, FileMediaManager("hello.wav"))
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from rtws.testing.fake_options import FAST_RECONNECT, fake_options, running_with_options

from ..options import GeminiLiveOptions
from .server import FakeGeminiServer

__all__ = ["FAST_RECONNECT", "options_for", "running_fake"]


def options_for(server: FakeGeminiServer, **overrides: Any) -> GeminiLiveOptions:
    """Options that connect to ``server`` with its key; ``overrides`` win."""
    return fake_options(GeminiLiveOptions, server.api_key, {"host": server.url}, overrides)


def running_fake(
    options: dict[str, Any] | None = None, **server_kw: Any
) -> AbstractAsyncContextManager[tuple[FakeGeminiServer, GeminiLiveOptions]]:
    """Start a :class:`FakeGeminiServer` (``server_kw``) and yield it with options for it
    (``options`` win over the defaults)."""
    return running_with_options(
        FakeGeminiServer(**server_kw), lambda server: options_for(server, **(options or {}))
    )
