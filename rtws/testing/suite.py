"""The conformance suite: the transport contract as pytest checks any provider can inherit.

Each check runs a real session — the provider's transport, over a real
websocket, against the provider's own fake server, with file media — and
asserts on what a user would observe: states, events, hook order, audio in
both directions, barge-in, and a clean teardown. A provider passes when it
translates its protocol faithfully; none of it depends on protocol details,
which live in the provider's :class:`~rtws.testing.ProviderHarness`.
"""

from __future__ import annotations

import contextlib

import pytest
import soxr

from .. import rtvi
from ..errors import UnsupportedMessage
from ..state import TransportState
from .bench import DEVICE_RATE, ConformanceBench
from .harness import ProviderHarness
from .probes import (
    EventLog,
    HookRecorder,
    MarkRecorder,
    foreign_threads,
    rtws_tasks,
    thread_ids,
    wait_for,
)
from .signals import alignment, audible_span, chirp, dominant_frequency, tone

S = TransportState


class ContractChecks(ConformanceBench):
    """The contract half of :class:`~rtws.testing.ProviderConformance` (see :mod:`.kit`).

    Inherit ``ProviderConformance`` as ``class TestMyProviderConformance(ProviderConformance)``
    and implement :meth:`make_harness`; pytest then runs every ``test_*`` check against
    your provider (the fixtures and tuning knobs are :class:`~.bench.ConformanceBench`'s).
    """

    # ------------------------------------------------------------------ states and events
    async def test_states_connect_then_disconnect(self, harness: ProviderHarness) -> None:
        transport = self.new_transport(harness, self.fast_media())
        log = EventLog(transport)
        await self.connect(transport)
        assert transport.state is S.READY
        await transport.disconnect()
        assert transport.state is S.DISCONNECTED
        assert log.states() == self.expected_states(transport, init=False)

    async def test_states_with_init_devices(self, harness: ProviderHarness) -> None:
        transport = self.new_transport(harness, self.fast_media())
        log = EventLog(transport)
        await transport.init_devices()
        assert transport.state is S.INITIALIZED
        assert log.of_type("available-mics-updated")
        assert log.of_type("available-speakers-updated")
        await self.connect(transport)
        await transport.disconnect()
        assert log.states() == self.expected_states(transport, init=True)

    async def test_bot_ready_once_per_connect_with_protocol_version(
        self, harness: ProviderHarness
    ) -> None:
        transport = self.new_transport(harness, self.fast_media())
        log = EventLog(transport)
        for round_ in (1, 2):
            await self.connect(transport)
            # connect() returns only after bot-ready, which was emitted in state ready.
            ready = log.of_type("bot-ready")
            assert len(ready) == round_, log.types("bot-ready", "transport-state-changed")
            await transport.disconnect()
        for message in log.of_type("bot-ready"):
            assert isinstance(message, rtvi.BotReady)
            assert message.data.version == rtvi.PROTOCOL_VERSION
        at = [log.states_at[i] for i, m in enumerate(log.events) if m.type == "bot-ready"]
        assert at == [S.READY, S.READY]

    async def test_hooks_called_in_documented_order(self, harness: ProviderHarness) -> None:
        media = self.fast_media()
        transport = self.new_transport(harness, media)
        hooks = HookRecorder(transport)
        for _ in range(2):
            await self.connect(transport)
            await self.speak_into_mic(harness, media, seconds=0.2)
            await transport.disconnect()
        session = [
            "connect_llm",
            "send_ready_message",
            "handle_user_audio_stream",
            "disconnect_llm",
        ]
        assert hooks.sequence() == ["initialize_llm", "attach_llm_listeners", *session, *session]
        assert hooks.states("initialize_llm") == {S.DISCONNECTED}
        assert hooks.states("connect_llm") == {S.CONNECTING}
        assert hooks.states("send_ready_message") == {S.CONNECTED}
        assert hooks.states("handle_user_audio_stream") == {S.READY}
        assert hooks.states("disconnect_llm") == {S.DISCONNECTING}

    async def test_every_event_round_trips_through_rtvi(self, harness: ProviderHarness) -> None:
        media = self.fast_media()
        transport = self.new_transport(harness, media)
        log = EventLog(transport)
        await self.connect(transport)
        await self.speak_into_mic(harness, media)
        await harness.server_say(tone(0.3, transport.output_sample_rate))
        await media.wait_output_idle(timeout=self.timeout)
        await harness.server_interrupt()
        await wait_for(
            lambda: log.of_type("user-started-speaking"), self.timeout, "user-started-speaking"
        )
        await transport.disconnect()
        known = rtvi.message_types()
        assert {"bot-ready", "bot-started-speaking", "transport-state-changed"} <= set(log.types())
        for message in log.events:
            assert known.get(message.type) is type(message), (
                f"{message.type} is not its typed model"
            )
            assert message.direction != "client", (
                f"a transport emitted client message {message.type}"
            )
            assert message.label == rtvi.MESSAGE_LABEL
            assert rtvi.parse(message.to_json()) == message, message.to_json()

    # ------------------------------------------------------------------ audio
    async def test_mic_audio_reaches_the_server(self, harness: ProviderHarness) -> None:
        media = self.fast_media()
        transport = self.new_transport(harness, media)
        await self.connect(transport)
        before = await self.speak_into_mic(harness, media, seconds=0.6)
        expected = soxr.resample(chirp(0.6, DEVICE_RATE), DEVICE_RATE, transport.input_sample_rate)
        core = expected[200:-200]  # the resampler's edges are not part of the claim

        def match() -> float:
            return alignment(harness.received_audio()[before:], core)[1]

        # speak_into_mic counts samples, and what the mic captured while connecting (held,
        # then sent first) counts too: the chirp's last chunks may still be on their way.
        with contextlib.suppress(AssertionError):
            await wait_for(lambda: match() > 0.95, self.timeout, "the whole chirp")
        await transport.disconnect()
        correlation = match()
        assert correlation > 0.95, f"mic audio arrived altered (correlation {correlation:.3f})"
        assert transport.stats.chunks_sent > 0

    async def test_server_audio_reaches_the_speaker(self, harness: ProviderHarness) -> None:
        media = self.fast_media()
        transport = self.new_transport(harness, media)
        log = EventLog(transport)
        await self.connect(transport)
        seconds, freq = 1.0, 440.0
        await harness.server_say(tone(seconds, transport.output_sample_rate, freq))
        await media.wait_output_idle(timeout=self.timeout)
        await wait_for(
            lambda: log.of_type("bot-stopped-speaking"), self.timeout, "bot-stopped-speaking"
        )
        await transport.disconnect()
        played = media.output_audio()
        span = audible_span(played)
        assert span is not None, "nothing the server said reached the speaker"
        heard = played[span[0] : span[1] + 1]
        assert abs(len(heard) / DEVICE_RATE - seconds) < 0.02, (
            f"heard {len(heard) / DEVICE_RATE:.3f} s"
        )
        assert abs(dominant_frequency(heard, DEVICE_RATE) - freq) < 5
        speaking = log.types("bot-started-speaking", "bot-stopped-speaking")
        assert speaking == ["bot-started-speaking", "bot-stopped-speaking"]

    async def test_interruption_silences_the_speaker_within_one_block(
        self, harness: ProviderHarness
    ) -> None:
        media = self.realtime_media()
        transport = self.new_transport(harness, media)
        marks = MarkRecorder(transport, media)
        log = EventLog(transport)
        await self.connect(transport)
        total_ms = 3000
        await harness.server_say(tone(total_ms / 1000, transport.output_sample_rate))
        await wait_for(lambda: media.mark().played_ms >= 400, self.timeout, "400 ms of playback")
        await harness.server_interrupt()
        await wait_for(lambda: marks.interruptions, self.timeout, "user_started_speaking()")
        cut = marks.interruptions[0]
        block = round(DEVICE_RATE * self.block_ms / 1000)
        await wait_for(
            lambda: media.output_samples >= cut.output_position + 5 * block,
            self.timeout,
            "the speaker to play on after the interruption",
        )
        truncations = harness.truncations()
        if truncations is not None:
            await wait_for(harness.truncations, self.timeout, "the server to receive a truncation")
        # Nothing of the interrupted item plays after the flush (asked while media still runs).
        item_played_ms = media.played_ms(cut.mark.item_id) if cut.mark.item_id else None
        await transport.disconnect()

        played = media.output_audio()
        after = played[cut.output_position + block :]
        assert audible_span(after) is None, "the speaker kept playing after the interruption"
        mark = cut.mark
        assert mark.item_id is not None, "the interrupted audio had no item id"
        assert mark.sample_rate == DEVICE_RATE
        span = audible_span(played[: cut.output_position + block])
        assert span is not None
        heard_ms = (span[1] - span[0] + 1) * 1000 / DEVICE_RATE
        assert abs(heard_ms - mark.played_ms) <= self.block_ms + 1, (heard_ms, mark)
        assert 400 <= mark.played_ms < total_ms
        assert abs(mark.played_ms + mark.dropped_ms - total_ms) <= 2 * self.block_ms, mark
        assert item_played_ms == mark.played_ms
        order = log.types(
            "bot-started-speaking",
            "user-started-speaking",
            "bot-interrupted",
            "bot-stopped-speaking",
        )
        assert order == [
            "bot-started-speaking",
            "user-started-speaking",
            "bot-interrupted",
            "bot-stopped-speaking",
        ]
        truncations = harness.truncations()
        if truncations is not None:
            assert truncations[-1] == (mark.item_id, mark.played_ms)

    # ------------------------------------------------------------------ teardown and messages
    async def test_clean_disconnect_and_reuse(self, harness: ProviderHarness) -> None:
        threads = thread_ids()
        media = self.fast_media()
        transport = self.new_transport(harness, media)
        log = EventLog(transport)
        await self.connect(transport)
        await self.speak_into_mic(harness, media, seconds=0.2)
        await transport.disconnect()
        assert not rtws_tasks(), rtws_tasks()
        assert not foreign_threads(threads), foreign_threads(threads)
        changes = len(log.states())
        await transport.disconnect()  # idempotent: no new state, no error
        assert len(log.states()) == changes
        assert not log.of_type("error")
        # The same object connects again and audio still flows both ways.
        await self.connect(transport)
        await self.speak_into_mic(harness, media, seconds=0.2)
        await harness.server_say(tone(0.3, transport.output_sample_rate))
        await media.wait_output_idle(timeout=self.timeout)
        await transport.disconnect()
        assert audible_span(media.output_audio()) is not None
        assert not rtws_tasks(), rtws_tasks()
        assert not foreign_threads(threads), foreign_threads(threads)

    async def test_client_messages_unknown_type_and_disconnect_bot(
        self, harness: ProviderHarness
    ) -> None:
        transport = self.new_transport(harness, self.fast_media())
        await self.connect(transport)
        probe = rtvi.RTVIMessage(type="rtws-conformance-probe")
        with pytest.raises(UnsupportedMessage) as raised:
            await transport.send_message(probe)
        assert raised.value.message_type == "rtws-conformance-probe"
        assert raised.value.provider == transport.provider_name
        assert transport.state is S.READY  # an unsupported message is the caller's problem only
        await transport.send_message(rtvi.DisconnectBot())
        await wait_for(
            lambda: transport.state is S.DISCONNECTED, self.timeout, "disconnect-bot to disconnect"
        )
        assert not rtws_tasks(), rtws_tasks()


__all__ = ["DEVICE_RATE", "ContractChecks"]


def __getattr__(name: str) -> object:
    """``rtws.testing.suite.ProviderConformance`` (its first home) still imports."""
    if name == "ProviderConformance":
        from .kit import ProviderConformance

        return ProviderConformance
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
