"""A client for a local fake server: options that reach it, and the fake started with them.

Every provider's ``testing`` package offers ``options_for(server)`` and
``running_fake()`` so a test, a notebook or a benchmark gets a session against
its fake in one line. What differs between providers is only the options class
and the field that holds the address; what a client of a fake needs is the
same everywhere: the fake's key, a short connect timeout (a hang fails fast)
and a reconnect that does not wait seconds for a backoff.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from pydantic import SecretStr

from ..options import ReconnectPolicy, TransportOptions

#: Reconnect fast against a local fake (tests should not wait seconds for a backoff).
FAST_RECONNECT = ReconnectPolicy(max_attempts=3, initial_delay=0.05, max_delay=0.2, jitter=0.0)

Options = TypeVar("Options", bound=TransportOptions)
Server = TypeVar("Server", bound=AbstractAsyncContextManager[Any])


def fake_options(
    options_class: type[Options],
    api_key: str | None,
    address: Mapping[str, str],
    overrides: Mapping[str, Any],
) -> Options:
    """``options_class`` for a fake at ``address`` (its field → the fake's URL) that wants
    ``api_key`` (None: it takes any); ``overrides`` win."""
    base: dict[str, Any] = {
        "api_key": SecretStr(api_key or "any-key-works"),
        **address,
        "connect_timeout": 5.0,
        "reconnect": FAST_RECONNECT,
    }
    return options_class.model_validate({**base, **overrides})


@asynccontextmanager
async def running_with_options(
    server: Server, options_for: Callable[[Server], Options]
) -> AsyncGenerator[tuple[Server, Options]]:
    """Start ``server`` and yield it with ``options_for(server)``: built once it runs,
    since its address (a free port) is known only then."""
    async with server:
        yield server, options_for(server)
