"""The turn-latency clock's map from the server's input timeline back to capture times."""

from __future__ import annotations

import pytest

from rtws.latency import _MARKS_KEPT, TurnLatency
from rtws.media.types import AudioChunk

CHUNK = b"\x00\x00" * 480  # 20 ms at 24 kHz


def send(clock: TurnLatency, count: int, first_capture: float = 100.0) -> None:
    for n in range(count):
        clock.sent(AudioChunk(CHUNK, 24000, first_capture + 0.02 * (n + 1), n + 1))


def test_a_position_maps_to_when_that_sample_was_captured() -> None:
    clock = TurnLatency()
    send(clock, 10)
    # 50 ms into the timeline: the 3rd chunk (40-60 ms), whose last sample was captured at
    # 100.06 s, so the sample 10 ms before its end was captured at 100.05 s.
    assert clock.capture_time(50.0) == pytest.approx(100.05)
    assert clock.capture_time(200.0) == pytest.approx(100.20)  # the very last sample
    assert clock.capture_time(200.5) is None  # never sent


def test_only_the_newest_chunks_are_remembered_and_reset_starts_over() -> None:
    clock = TurnLatency()
    send(clock, _MARKS_KEPT + 10)
    assert clock.capture_time(100.0) is None  # forgotten: older than the ring holds
    newest_end = (_MARKS_KEPT + 10) * 20.0
    assert clock.capture_time(newest_end - 10.0) == pytest.approx(
        100.0 + 0.02 * (_MARKS_KEPT + 10) - 0.01
    )
    clock.reset()
    assert clock.capture_time(10.0) is None
    send(clock, 1, first_capture=500.0)
    assert clock.capture_time(10.0) == pytest.approx(500.01)
