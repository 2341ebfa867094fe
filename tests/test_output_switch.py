"""A speaker switch to another rate moves the queued bot audio over, resampled (no devices)."""

from __future__ import annotations

import numpy as np

from rtws.audio import OutputPipeline


def test_queued_audio_and_played_positions_move_to_a_pipeline_at_another_rate() -> None:
    old = OutputPipeline(24000, 44100, prebuffer_ms=0)
    old.write(np.full(24000, 1000, np.int16), "a")  # 1 s of item a
    old.write(np.full(12000, 2000, np.int16), "b")  # 0.5 s of item b
    block = np.zeros(441 * 2, np.int16)
    for _ in range(25):  # 0.5 s of item a played on the old device
        old.read_into(block)
    assert old.played_ms("a") == 500

    new = OutputPipeline(24000, 48000, prebuffer_ms=0)
    new.adopt(old)
    assert old.buffer.buffered_samples == 0
    # What was left: 0.5 s of a and 0.5 s of b, now at 48 kHz, with a's position kept.
    assert abs(new.buffer.buffered_ms - 1000) < 10
    assert new.played_ms("a") == 500
    out = np.zeros(48000, np.int16)
    new.read_into(out)
    assert abs(new.played_ms("a") - 1000) < 10 and abs(new.played_ms("b") - 500) < 10
    # The values survived the resampling (a level of 1000, then of 2000), not garbage.
    assert abs(int(np.median(out[1000:20000])) - 1000) <= 2
    assert abs(int(np.median(out[30000:46000])) - 2000) <= 2
    # Audio still arriving for b continues where it was.
    new.write(np.full(2400, 2000, np.int16), "b")
    assert abs(new.buffer.buffered_ms - 100) < 12
