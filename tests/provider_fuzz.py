"""Fuzzing a provider's live session with mutated copies of its own server's messages.

Each provider's fault tests record a real conversation with its fake, then push
mutated versions of those messages at a live session. How to mutate a message
and how to prove the session handled it are the provider's own (wire formats
differ); what is here is shared, so that "the session survived" means the same
for every provider: the hypothesis settings, the check after each example, and
the tally a module prints when it is done (``pytest -s``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hypothesis import HealthCheck, settings

from rtws import RealTimeWebsocketTransport, TransportState, rtvi

Message = dict[str, Any]

#: An example is a few messages over a real websocket to one session the fixture
#: made: slow, and function-scoped on purpose (the session outlives the example).
FUZZ_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class FuzzTally:
    """How much a module's fuzzing did: examples, messages, and the session's own counters."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.counts: dict[str, int] = {}

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def report(self) -> None:
        if self.counts:
            line = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
            print(f"\n[{self.provider} fuzz] {line}")


async def survives(
    t: RealTimeWebsocketTransport,
    messages: list[Message],
    push: Callable[[Message], Awaitable[object]],
    round_trip: Callable[[], Awaitable[None]],
    tally: FuzzTally,
) -> None:
    """Push ``messages`` to ``t`` and assert it survived them: the provider's ``round_trip``
    came back (so every message was handled), ``t`` is still ready, and no error it
    reported meanwhile was fatal."""
    tally.add("examples")
    tally.add("messages", len(messages))
    fatal: list[rtvi.Error] = []
    off = t.on("error", lambda m: fatal.append(m) if m.data.fatal else None)
    try:
        for message in messages:
            await push(message)
        await round_trip()
    finally:
        off()
    assert t.state is TransportState.READY
    assert not fatal, [e.data.error for e in fatal]
