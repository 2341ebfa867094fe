"""Fixtures of the OpenAI provider's tests.

``openai_fake`` is the fake GA server every end-to-end test runs against, in
wild mode unless the switch in the root ``conftest.py`` says otherwise.
When the test is over it checks every client event the provider sent during
the test against the ``openai`` SDK's client-event models, with no field the
SDK does not declare at any depth — so all scenarios together prove every
event the provider can send is well-formed. ``device_session`` puts sessions
on that fake onto the sandbox's virtual sound devices.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from rtws_openai import OpenAIRealtimeTransport
from rtws_openai.testing import FakeRealtimeServer, ScriptedBot

from providers.openai.tests.support import check_client_event, options
from rtws import sandbox


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


@pytest.fixture
async def device_session(
    openai_fake: FakeRealtimeServer,
) -> AsyncIterator[Callable[[], OpenAIRealtimeTransport]]:
    """Makes transports on the fake with the sandbox's virtual mic and speaker.

    A factory rather than one transport, so a test can adjust options first;
    every transport is disconnected at the end, and no PortAudio stream may outlive it.
    """
    # Imported here: only device tests need PortAudio loaded.
    from rtws.media.sounddevice import SoundDeviceMediaManager

    made: list[OpenAIRealtimeTransport] = []

    def make() -> OpenAIRealtimeTransport:
        media = SoundDeviceMediaManager(sandbox.SD_MIC, sandbox.SD_SPEAKER)
        transport = OpenAIRealtimeTransport(options(openai_fake), media)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        await transport.disconnect()
    assert SoundDeviceMediaManager.live_stream_count() == 0, "PortAudio streams leaked"
