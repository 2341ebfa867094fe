"""Fixtures of the OpenAI provider's tests.

``openai_fake`` is the fake GA server every end-to-end test runs against, in
wild mode unless the switch in the root ``conftest.py`` says otherwise.
When the test is over it checks every client event the provider sent during
the test against the ``openai`` SDK's client-event models, with no field the
SDK does not declare at any depth — so all scenarios together prove every
event the provider can send is well-formed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from rtws_openai.testing import FakeRealtimeServer, ScriptedBot

from providers.openai.tests.support import check_client_event


@pytest.fixture
def allowed_server_errors() -> set[str]:
    """Refusals a test provokes on purpose; the fake refusing anything else fails the test."""
    return {"response_cancel_not_active"}


@pytest.fixture
async def openai_fake(
    allowed_server_errors: set[str], wild: int | None
) -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(bot=ScriptedBot(), wild=wild) as server:
        yield server
    problems: list[str] = []
    for event in server.received:
        try:
            check_client_event(event)
        except (AssertionError, ValueError) as exc:
            problems.append(f"{event.get('type')}: {exc}")
    assert not problems, "client events the SDK refuses:\n" + "\n".join(problems)
    ours = {e.get("event_id") for e in server.received} - {None}
    refusals = [
        e["error"]
        for e in server.sent
        if e.get("type") == "error" and e["error"].get("event_id") in ours
    ]
    unexpected = [e for e in refusals if e.get("code") not in allowed_server_errors]
    assert not unexpected, f"the fake refused client events: {unexpected}"
