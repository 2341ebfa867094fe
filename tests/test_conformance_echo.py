"""The conformance kit applied to the echo test provider.

``TestEchoConformance`` is the pattern every provider package copies. The
tests after it run single kit checks against deliberately broken variants
of the echo provider: a kit that passes a correct provider must also fail
each kind of broken one, or its passes mean nothing.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import numpy as np
import pytest

from rtws import AudioChunk, MediaManager, rtvi
from rtws.testing import (
    BadCredentialsHarness,
    LateAudioHarness,
    ProviderConformance,
    ProviderHarness,
    ServerErrorHarness,
    TypedTextHarness,
)
from rtws.testing.signals import Int16Array
from rtws.testing.suite import ContractChecks
from tests.conftest import make_options
from tests.echo_provider import EchoServer, EchoTransport
from tests.kit_mutants import MutantSuite, SwappableHarness, assert_check_fails


# --8<-- [start:capabilities]
class EchoHarness(
    SwappableHarness[EchoServer, EchoTransport],
    LateAudioHarness,
    TypedTextHarness,
    ServerErrorHarness,
    BadCredentialsHarness,
):
    """The echo protocol's fake server, driven the way the kit needs (it has no function calls)."""

    def __init__(self, transport_class: type[EchoTransport] = EchoTransport) -> None:
        super().__init__(EchoServer(api_key="sk-test-0123456789"), transport_class)
        self._replies = 0

    def make_transport(self, media: MediaManager) -> EchoTransport:
        return self.transport_class(make_options(self.server, connect_timeout=3.0), media)

    async def server_say(self, pcm: Int16Array) -> None:
        self._replies += 1
        await self.server.send_audio(pcm, f"reply-{self._replies}")

    async def server_interrupt(self) -> None:
        await self.server.send({"type": "speech.started"})

    def received_audio(self) -> Int16Array:
        return np.frombuffer(bytes(self.server.audio_in), dtype=np.int16)

    def truncations(self) -> list[tuple[str, int]]:
        return [(m["item_id"], m["audio_end_ms"]) for m in self.server.of_type("truncate")]

    async def server_late_audio(self, pcm: Int16Array) -> None:
        await self.server.send_audio(pcm, f"reply-{self._replies}")  # the interrupted reply's id

    def received_texts(self) -> list[str]:
        return [m["text"] for m in self.server.of_type("text")]

    async def server_error(self, message: str) -> None:
        await self.server.send({"type": "error", "message": message, "fatal": False})

    def make_transport_with_bad_credentials(self, media: MediaManager) -> EchoTransport:
        options = make_options(self.server, connect_timeout=3.0, api_key="sk-wrong-0123456789")
        return self.transport_class(options, media)


class TestEchoConformance(ProviderConformance):
    def make_harness(self) -> ProviderHarness:
        return EchoHarness()


# --8<-- [end:capabilities]


# ---------------------------------------------------------------- broken providers
class ReadyTwice(EchoTransport):
    async def send_ready_message(self) -> None:
        self.emit_bot_ready()
        self.emit_bot_ready()


class GarbledMic(EchoTransport):
    """Sends the mic audio byte-swapped: the server gets noise of the right length."""

    async def handle_user_audio_stream(self, chunk: AudioChunk) -> None:
        swapped = chunk.samples.byteswap().tobytes()
        await super().handle_user_audio_stream(
            AudioChunk(swapped, chunk.sample_rate, chunk.captured_at, chunk.seq)
        )


class NoFlush(EchoTransport):
    """Announces the barge-in but never silences the speaker."""

    async def _on_speech_started(self, msg: dict[str, Any]) -> None:
        self.emit(rtvi.UserStartedSpeaking())


class WrongTruncation(EchoTransport):
    """Flushes, but tells the server a made-up position."""

    async def _on_speech_started(self, msg: dict[str, Any]) -> None:
        mark = self.user_started_speaking()
        await self.send_json({"type": "truncate", "item_id": mark.item_id, "audio_end_ms": 0})


class UntypedEvents(EchoTransport):
    """Emits a bare envelope instead of the typed model."""

    async def send_ready_message(self) -> None:
        self.emit(rtvi.RTVIMessage(type="bot-llm-started"))
        await super().send_ready_message()


class LeaksATask(EchoTransport):
    async def connect_llm(self) -> None:
        await super().connect_llm()
        self._leak = asyncio.create_task(asyncio.sleep(3600), name="rtws-echo-leak")


class SendsEverything(EchoTransport):
    """Claims to carry every message type, silently dropping what it cannot."""

    async def send_message(self, message: rtvi.RTVIMessage) -> None:
        if message.type == "disconnect-bot":
            await super().send_message(message)


class AudioBeforeReady(EchoTransport):
    """Calls the mic hook itself during connect, outside the ``ready`` state."""

    async def connect_llm(self) -> None:
        await super().connect_llm()
        await self.handle_user_audio_stream(AudioChunk(b"\0\0" * 320, 16000, 0.0))


class OneIdForEveryReply(EchoTransport):
    """Tags all audio with one id: every reply after the first barge-in is dropped."""

    def _on_audio(self, msg: dict[str, Any]) -> None:
        self.play_bot_audio(base64.b64decode(msg["audio"]), "reply")


class FreshIdPerChunk(EchoTransport):
    """Makes up an id per audio message: late audio of a cut reply looks like a new one."""

    chunks = 0

    def _on_audio(self, msg: dict[str, Any]) -> None:
        self.chunks += 1
        self.play_bot_audio(base64.b64decode(msg["audio"]), f"{msg['item_id']}-{self.chunks}")


BROKEN = [
    (ReadyTwice, "test_bot_ready_once_per_connect_with_protocol_version"),
    (GarbledMic, "test_mic_audio_reaches_the_server"),
    (NoFlush, "test_interruption_silences_the_speaker_within_one_block"),
    (WrongTruncation, "test_interruption_silences_the_speaker_within_one_block"),
    (UntypedEvents, "test_every_event_round_trips_through_rtvi"),
    (LeaksATask, "test_clean_disconnect_and_reuse"),
    (SendsEverything, "test_client_messages_unknown_type_and_disconnect_bot"),
    (AudioBeforeReady, "test_hooks_called_in_documented_order"),
    (OneIdForEveryReply, "test_the_reply_after_a_barge_in_is_audible"),
    (FreshIdPerChunk, "test_late_audio_of_an_interrupted_reply_is_never_played"),
]


@pytest.mark.parametrize(("transport_class", "check"), BROKEN, ids=[c.__name__ for c, _ in BROKEN])
async def test_kit_fails_a_broken_provider(
    transport_class: type[EchoTransport], check: str
) -> None:
    await assert_check_fails(lambda: EchoHarness(transport_class), check)


class SlowUplink(EchoTransport):
    """A correct provider on a slow network: each mic chunk takes 30 ms to go out."""

    async def handle_user_audio_stream(self, chunk: AudioChunk) -> None:
        await asyncio.sleep(0.03)
        await super().handle_user_audio_stream(chunk)


async def test_the_mic_check_waits_for_the_whole_chirp() -> None:
    """The mic captures (and rtws holds, then sends first) audio while the session
    connects, so a count of received samples reaches the chirp's length before the chirp
    has all arrived; the check must not judge a chirp still on its way (it did, under load:
    "mic audio arrived altered (correlation 0.014)")."""
    results = await MutantSuite(lambda: EchoHarness(SlowUplink)).run(
        "test_mic_audio_reaches_the_server"
    )
    assert results == {"test_mic_audio_reaches_the_server": "ok"}


async def test_run_outside_pytest_reports_each_check() -> None:
    results = await TestEchoConformance().run()
    checks = [
        n
        for cls in (ContractChecks, ProviderConformance)
        for n in vars(cls)
        if n.startswith("test_")
    ]
    assert list(results) == checks
    # The echo protocol has no function calls: that check says it is skipped, and why.
    skipped = "test_function_call_round_trip_in_the_documented_order"
    assert results.pop(skipped) == (
        "skipped: EchoHarness does not inherit rtws.testing.FunctionCallHarness"
    )
    assert set(results.values()) == {"ok"}


async def test_run_outside_pytest_reports_why_a_check_failed() -> None:
    results = await MutantSuite(lambda: EchoHarness(ReadyTwice)).run(
        "test_bot_ready_once_per_connect_with_protocol_version", "test_mic_audio_reaches_the_server"
    )
    assert results["test_bot_ready_once_per_connect_with_protocol_version"].startswith(
        "AssertionError"
    )
    assert results["test_mic_audio_reaches_the_server"] == "ok"


def test_harness_reports_audio_as_received() -> None:
    """The harness decodes what the server got, not a copy of what was sent."""
    harness = EchoHarness()
    pcm = np.arange(-5, 5, dtype=np.int16)
    harness.server.audio_in += base64.b64decode(base64.b64encode(pcm.tobytes()))
    assert np.array_equal(harness.received_audio(), pcm)
