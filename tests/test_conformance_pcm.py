"""The conformance kit on binary-frame providers with no reply ids: provider API v2.

:class:`~tests.pcm_provider.PcmTransport` (the base's socket) and
:class:`~tests.pcm_provider.OwnSocketPcmTransport` (its own socket, read by a
session task) pass every check; each broken variant after them fails the
check written for its mistake (the table in ``docs/reference/testing.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

import numpy as np
import pytest

from rtws import MediaManager, rtvi
from rtws.errors import AuthenticationError, ConnectionFailed
from rtws.testing import (
    AllCapabilities,
    ProviderConformance,
    ProviderHarness,
)
from rtws.testing.signals import Int16Array
from tests.kit_mutants import MutantSuite, SwappableHarness, assert_check_fails
from tests.pcm_provider import OwnSocketPcmTransport, PcmOptions, PcmServer, PcmTransport


class PcmHarness(
    SwappableHarness[PcmServer, PcmTransport],
    AllCapabilities,
):
    """Every optional action: the pcm protocol has all of them (but no reply ids)."""

    def __init__(self, transport_class: type[PcmTransport] = PcmTransport) -> None:
        super().__init__(PcmServer(), transport_class)
        self._calls = 0

    def options(self, **kw: Any) -> PcmOptions:
        base: dict[str, Any] = {
            "url": self.server.url,
            "api_key": self.server.api_key,
            "connect_timeout": 3.0,
        }
        return PcmOptions.model_validate({**base, **kw})

    def make_transport(self, media: MediaManager) -> PcmTransport:
        return self.transport_class(self.options(), media)

    async def server_say(self, pcm: Int16Array) -> None:
        await self.server.say(pcm, text="Conformance.")

    async def server_interrupt(self) -> None:
        await self.server.send({"type": "user_speaking"})

    def received_audio(self) -> Int16Array:
        return np.frombuffer(bytes(self.server.audio_in), dtype=np.int16)

    async def server_late_audio(self, pcm: Int16Array) -> None:
        await self.server.audio(pcm)  # no ids on this wire: just more binary frames

    def received_texts(self) -> list[str]:
        return list(self.server.texts)

    async def server_call_function(self, name: str, arguments: dict[str, Any]) -> None:
        self._calls += 1
        await self.server.send(
            {"type": "call", "id": f"call-{self._calls}", "name": name, "arguments": arguments}
        )

    def function_results(self) -> list[tuple[str, Any]]:
        return list(self.server.call_results)

    async def server_error(self, message: str) -> None:
        await self.server.send({"type": "error", "message": message, "fatal": False})

    def make_transport_with_bad_credentials(self, media: MediaManager) -> PcmTransport:
        return self.transport_class(self.options(api_key="wrong-key-0123456789"), media)


class TestPcmConformance(ProviderConformance):
    def make_harness(self) -> ProviderHarness:
        return PcmHarness()


class TestOwnSocketConformance(ProviderConformance):
    """A provider that owns its connection passes the same kit (mic path, hold, goodbye)."""

    def make_harness(self) -> ProviderHarness:
        return PcmHarness(OwnSocketPcmTransport)


# ---------------------------------------------------------------- broken providers
class BargeInEndsTheReply(PcmTransport):
    """Treats the barge-in as the reply's end, and does not say that its protocol announces
    every reply: audio still in flight then starts a 'new' reply."""

    announces_replies = False

    async def attach_llm_listeners(self) -> None:
        await super().attach_llm_listeners()
        self.on_llm_message("user_speaking", self._barge_in)

    def _barge_in(self, message: dict[str, Any]) -> None:
        self.user_started_speaking()
        self.bot_reply_done()


class IgnoresAudioDone(PcmTransport):
    """Never tells the base the audio is complete: a reply shorter than the prebuffer waits."""

    async def attach_llm_listeners(self) -> None:
        await super().attach_llm_listeners()
        self.on_llm_message("reply_audio_done", lambda m: None)


class DropsTypedText(PcmTransport):
    async def send_message(self, message: rtvi.RTVIMessage) -> None:
        if not isinstance(message, rtvi.SendText):
            await super().send_message(message)


class ResultNeverSent(PcmTransport):
    """Reports the result to the user, never to the server."""

    async def send_message(self, message: rtvi.RTVIMessage) -> None:
        if isinstance(message, rtvi.LLMFunctionCallResult):
            self.function_call_result(message.data.tool_call_id, message.data.result)
            return
        await super().send_message(message)


class SwallowsErrors(PcmTransport):
    async def attach_llm_listeners(self) -> None:
        await super().attach_llm_listeners()
        self.on_llm_message("error", lambda m: None)


class RetriesARefusedKey(PcmTransport):
    async def connect_llm(self) -> None:
        try:
            await super().connect_llm()
        except AuthenticationError as exc:
            raise ConnectionFailed(str(exc), retryable=True) from None


class LeaksItsKeepalive(PcmTransport):
    """Runs its keepalive in a plain asyncio task nobody cancels (and not named rtws-*)."""

    def start_keepalive(self) -> None:
        self._beat = asyncio.create_task(self._keepalive())

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(self.options.keepalive_s)
            with contextlib.suppress(ConnectionFailed):
                await self.send_json({"type": "ping"})


#: (broken provider, the kit check that must fail): the mutant table of docs/reference/testing.md.
MUTANTS = [
    (BargeInEndsTheReply, "test_late_audio_of_an_interrupted_reply_is_never_played"),
    (IgnoresAudioDone, "test_a_short_reply_plays_out"),
    (DropsTypedText, "test_send_text_reaches_the_server"),
    (ResultNeverSent, "test_function_call_round_trip_in_the_documented_order"),
    (SwallowsErrors, "test_a_server_error_becomes_an_error_event"),
    (RetriesARefusedKey, "test_refused_credentials_are_not_retried"),
    (LeaksItsKeepalive, "test_session_tasks_and_keepalives_end_with_the_session"),
]


@pytest.mark.parametrize(
    ("transport_class", "check"), MUTANTS, ids=[c.__name__ for c, _ in MUTANTS]
)
async def test_kit_fails_a_broken_binary_provider(
    transport_class: type[PcmTransport], check: str
) -> None:
    await assert_check_fails(lambda: PcmHarness(transport_class), check, then_passes=PcmTransport)


async def test_binary_frames_without_a_binary_handler_are_reported_once() -> None:
    """A provider that forgets on_binary_message: one clear error, not one per frame."""

    class NoBinaryHandler(PcmTransport):
        async def attach_llm_listeners(self) -> None:
            await super().attach_llm_listeners()
            self.on_binary_message(None)

    async with PcmHarness(NoBinaryHandler) as harness:
        suite = MutantSuite(lambda: harness)
        transport = suite.new_transport(harness, suite.fast_media())
        errors: list[rtvi.Error] = []
        transport.on("error", errors.append)
        try:
            await suite.connect(transport)
            await harness.server.audio(np.ones(24 * 400, np.int16))  # ten binary frames
            await asyncio.sleep(0.2)
            assert transport.stats.malformed_messages == 10
        finally:
            await suite.close_transports()
    [error] = errors
    assert "binary frame" in error.data.error and "on_binary_message" in error.data.error


async def test_a_first_release_harness_fails_with_the_migration_not_a_skip() -> None:
    """Optional actions were plain methods of ProviderHarness before kit v2: such a
    harness must hear how to opt in, not have its checks silently skipped."""

    class FirstReleaseHarness(SwappableHarness[PcmServer, PcmTransport]):
        make_transport = PcmHarness.make_transport
        options = PcmHarness.options
        server_say = PcmHarness.server_say
        server_interrupt = PcmHarness.server_interrupt
        received_audio = PcmHarness.received_audio
        received_texts = PcmHarness.received_texts  # but no TypedTextHarness base

    async with FirstReleaseHarness(PcmServer(), PcmTransport) as harness:
        suite = MutantSuite(lambda: harness)
        with pytest.raises(pytest.fail.Exception, match="add TypedTextHarness to its bases"):
            await suite.test_send_text_reaches_the_server(harness)
        with pytest.raises(pytest.skip.Exception, match=r"does not inherit .*LateAudioHarness"):
            await suite.test_late_audio_of_an_interrupted_reply_is_never_played(harness)
        await suite.close_transports()


async def test_the_kit_runs_under_pytest_asyncio_strict_mode() -> None:
    """A provider package need not configure ``asyncio_mode = "auto"``: the checks carry
    the asyncio mark themselves (this repository's own config says auto, so override it)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-o", "asyncio_mode=strict",
        f"{__file__}::TestPcmConformance::test_a_short_reply_plays_out",
        f"{__file__}::TestPcmConformance::test_send_text_reaches_the_server",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    assert "2 passed" in out.decode()
