"""Questions the core's fault and hostile-input tests ask of a live echo session.

Both suites break a session on purpose and then need the same two answers:
does it still talk (a real round trip, not just a ``ready`` state), and which
errors did it report, fatal or not. One definition keeps "still alive" meaning
the same thing in both.
"""

from __future__ import annotations

from rtws import rtvi
from rtws.testing import EventLog, wait_for
from tests.echo_provider import EchoTransport


def errors(log: EventLog) -> list[tuple[str, bool]]:
    """Each ``error`` event so far as (message, fatal)."""
    return [(m.data.error, m.data.fatal) for m in log.of_type("error") if isinstance(m, rtvi.Error)]


async def still_talks(t: EchoTransport) -> None:
    """The session answers a round trip on the server's newest connection."""
    seen: list[rtvi.RTVIMessage] = []
    off = t.on("bot-llm-text", seen.append)
    try:
        await t.send_message(rtvi.SendText(data=rtvi.SendTextData(content="ping")))
        await wait_for(lambda: seen, 3.0, "an answer over the socket")
    finally:
        off()
