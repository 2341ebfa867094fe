"""The echo canceller on its own (no sound devices): recorded echo, alignment, defaults.

``tests/data/echo_far_16k.wav`` is what was played to the sandbox's virtual
speaker and ``echo_near_16k.wav`` what its virtual mic heard at the same
instants, through ``audio-sandbox echo on -10 40 2`` (a direct echo and two
reflections), with a second voice talking over it from about 4.6 s
(``tests/data/record_echo_pair.py`` made them).
"""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt
import pytest

from rtws import FileMediaManager, MediaFormat
from rtws.audio import read_wav
from rtws.audio.echo import EchoCanceller
from rtws.audio.timeline import ReferenceTimeline
from rtws.errors import ConfigurationError
from tests.conftest import DATA, make_options
from tests.echo_provider import EchoServer, EchoTransport

Int16Array = npt.NDArray[np.int16]
RATE = 16000
BLOCK = RATE // 50  # 20 ms, the devices' block
DOUBLE_TALK_S = 4.5  # where the second voice starts in the recorded pair


def recorded_pair() -> tuple[Int16Array, Int16Array]:
    far, rate = read_wav(DATA / "echo_far_16k.wav")
    near, near_rate = read_wav(DATA / "echo_near_16k.wav")
    assert rate == near_rate == RATE and len(far) == len(near)
    return far, near


def power_db(x: Int16Array) -> float:
    f = x.astype(np.float64)
    return 10 * float(np.log10(np.mean(f * f) + 1e-9))


def cancel(
    far: Int16Array,
    near: Int16Array,
    *,
    far_shift_s: float = 0.0,
    far_delivered_late: int = 0,
    block: int = BLOCK,
    far_rate: int = RATE,
    canceller: EchoCanceller | None = None,
) -> tuple[Int16Array, EchoCanceller]:
    """Run the pair through the canceller as a session would, block by block with timestamps.

    ``far_shift_s`` stamps the far blocks that much later than they played;
    ``far_delivered_late`` hands each far block over only after that many mic blocks;
    ``far_rate`` is the speaker's rate when it is not the mic's (``far`` is at that rate).
    """
    canceller = canceller or EchoCanceller(RATE)
    out: list[Int16Array] = []
    t0 = 1000.0
    ratio = far_rate // RATE
    starts = list(range(0, len(near) - block + 1, block))
    for k, i in enumerate(starts):
        if k >= far_delivered_late:
            j = starts[k - far_delivered_late]
            played = far[j * ratio : (j + block) * ratio]
            canceller.add_reference(played, t0 + j / RATE + far_shift_s, far_rate)
        out.append(canceller.process(near[i : i + block], t0 + i / RATE))
    return np.concatenate(out), canceller


def test_the_canceller_removes_at_least_30_db_of_recorded_echo() -> None:
    far, near = recorded_pair()
    cleaned, canceller = cancel(far, near)
    window = slice(RATE * 2, int(RATE * DOUBLE_TALK_S))  # after 2 s to converge, before the user
    removed = power_db(near[window]) - power_db(cleaned[: len(near)][window])
    print(f"\n[measured] echo removed on the recorded pair: {removed:.1f} dB")
    assert removed >= 30.0
    stats = canceller.stats
    assert stats.erle_db is not None and stats.frames == len(cleaned) // (RATE // 100)
    # The test bed's echo comes 40 ms after the speaker plus the devices' latencies.
    assert stats.delay_ms is not None and 40.0 <= stats.delay_ms <= 80.0
    assert stats.late_reference_samples == 0 and stats.resyncs == 0


def test_the_user_talking_over_the_echo_is_kept() -> None:
    far, near = recorded_pair()
    cleaned, _ = cancel(far, near)
    talk = slice(int(RATE * (DOUBLE_TALK_S + 0.2)), len(cleaned))
    kept = power_db(cleaned[talk]) - power_db(near[talk])
    print(f"\n[measured] mic level kept in double talk: {kept:+.1f} dB")
    assert kept > -10.0, "the canceller took the user's voice for echo"


def test_the_canceller_delays_the_mic_by_a_few_constant_milliseconds() -> None:
    """AEC3's filter bank holds the mic back a fixed 8 ms at 16 kHz (9 ms at 48 kHz)."""
    speech, rate = read_wav(DATA / "speech_16k.wav")
    assert rate == RATE
    cleaned, _ = cancel(np.zeros_like(speech), speech)  # the bot silent: nothing to cancel
    n = len(cleaned) - 400
    x, y = speech[: n - 300].astype(np.float64), cleaned[:n].astype(np.float64)
    lag = max(range(300), key=lambda k: float(x @ y[k : k + len(x)]))
    print(f"\n[measured] the canceller delays the mic by {lag / RATE * 1000:.1f} ms")
    assert 0 < lag <= 0.012 * RATE
    # The user's voice passes through otherwise intact (high-passed).
    assert np.corrcoef(x, y[lag : lag + len(x)])[0, 1] > 0.9


def test_a_reference_stamped_after_its_echo_cancels_little() -> None:
    """Why the far end is stamped with its DAC time: an echo before its reference stays."""
    far, near = recorded_pair()
    window = slice(RATE * 2, int(RATE * DOUBLE_TALK_S))
    on_time, _ = cancel(far, near)
    shifted, _ = cancel(far, near, far_shift_s=0.15)
    removed_on_time = power_db(near[window]) - power_db(on_time[window])
    removed_shifted = power_db(near[window]) - power_db(shifted[window])
    print(f"\n[measured] removed {removed_on_time:.1f} dB aligned, {removed_shifted:.1f} dB late")
    assert removed_shifted < removed_on_time - 15.0


def test_a_reference_that_arrives_after_the_mic_block_is_counted() -> None:
    far, near = recorded_pair()
    window = slice(RATE * 2, int(RATE * DOUBLE_TALK_S))
    late, canceller = cancel(far, near, far_delivered_late=5)  # 100 ms after its mic block
    assert canceller.stats.late_reference_samples > 0
    assert power_db(near[window]) - power_db(late[window]) < 20.0


def test_blocks_that_are_not_whole_10_ms_frames_come_out_all_the_same() -> None:
    far, near = recorded_pair()
    cleaned, _ = cancel(far, near, block=70)  # 4.4 ms blocks
    window = slice(RATE * 2, int(RATE * DOUBLE_TALK_S))
    processed = len(near) // 70 * 70
    # Held back at the end: a partial 10 ms frame, and the blocks still waiting for the
    # reference that plays lead_ms after them.
    assert 0 <= processed - len(cleaned) < RATE // 100 + 0.02 * RATE + 70
    assert power_db(near[window]) - power_db(cleaned[window]) >= 30.0


def test_another_speaker_rate_is_resampled_to_the_mics() -> None:
    import soxr

    far, near = recorded_pair()
    far48: Int16Array = soxr.resample(far, RATE, 48000)
    cleaned, _ = cancel(far48, near, far_rate=48000)
    window = slice(RATE * 2, int(RATE * DOUBLE_TALK_S))
    assert power_db(near[window]) - power_db(cleaned[window]) >= 30.0


def test_noise_suppression_runs_in_the_same_pass_and_still_cancels() -> None:
    far, near = recorded_pair()
    cleaned, _ = cancel(far, near, canceller=EchoCanceller(RATE, noise_suppression=True))
    window = slice(RATE * 2, int(RATE * DOUBLE_TALK_S))
    assert power_db(near[window]) - power_db(cleaned[window]) >= 30.0


def test_after_a_speaker_switch_the_echo_is_turned_down_while_aec3_relearns() -> None:
    far, near = recorded_pair()

    def run(new_speaker: bool) -> Int16Array:
        canceller = EchoCanceller(RATE)
        out: list[Int16Array] = []
        for i in range(0, len(near) - BLOCK + 1, BLOCK):
            if i == 3 * RATE:
                canceller.resync(new_speaker=new_speaker)
            canceller.add_reference(far[i : i + BLOCK], 3.0 + i / RATE, RATE)
            out.append(canceller.process(near[i : i + BLOCK], 3.0 + i / RATE))
        return np.concatenate(out)

    window = slice(3 * RATE, int(3.5 * RATE))  # bot speech right after the switch
    turned_down = power_db(run(False)[window]) - power_db(run(True)[window])
    assert turned_down > 6.0  # -20 dB where the bot is audible, its pauses untouched
    # Only for a while: by the time the user talks over the bot, nothing is turned down.
    late = slice(int(DOUBLE_TALK_S * RATE), 6 * RATE - BLOCK)
    assert abs(power_db(run(False)[late]) - power_db(run(True)[late])) < 1.0


# ---------------------------------------------------------------- the timeline
def test_timeline_reads_what_played_at_a_time_despite_jittery_stamps() -> None:
    line = ReferenceTimeline(1000, history_s=1.0, tolerance_s=0.005)
    samples = np.arange(1, 401, dtype=np.int16)
    jitter = [0.0, 0.002, -0.003, 0.001]
    for k in range(4):
        line.write(samples[k * 100 : (k + 1) * 100], 10.0 + k * 0.1 + jitter[k])
    assert line.write_resyncs == 0
    got = line.read(150, 10.05)
    assert np.array_equal(got, samples[50:200])
    # The next read continues where this one ended, whatever its stamp says (within tolerance).
    assert np.array_equal(line.read(50, 10.203), samples[200:250])
    assert line.late_samples == 0


def test_timeline_gives_silence_for_gaps_and_counts_what_is_not_there_yet() -> None:
    line = ReferenceTimeline(1000, history_s=1.0, tolerance_s=0.005)
    line.write(np.full(100, 7, np.int16), 1.0)
    line.write(np.full(100, 9, np.int16), 1.3)  # the stream stopped for 200 ms
    assert line.write_resyncs == 1
    line.forget_alignment()
    got = line.read(300, 1.05)
    assert (got[:50] == 7).all() and (got[50:250] == 0).all() and (got[250:] == 9).all()
    assert line.late_samples == 0
    ahead = line.read(100, 1.35)
    assert (ahead[:50] == 9).all() and (ahead[50:] == 0).all()
    assert line.late_samples == 50


def test_timeline_forgets_audio_older_than_its_history() -> None:
    line = ReferenceTimeline(1000, history_s=0.5)
    for k in range(10):
        line.write(np.full(100, k + 1, np.int16), k * 0.1)
    assert not line.read(100, 0.0).any()  # long gone: silence, not a wrapped-around block
    assert (line.read(100, 0.9) == 10).all()


# ---------------------------------------------------------------- defaults
async def file_media_run(echo_cancellation: bool | None) -> tuple[bytes, Int16Array, bool]:
    """The same speech in, the same bot audio out, through file media: what came out of each."""
    media = FileMediaManager(DATA / "speech_16k.wav", realtime=False, tail_silence_ms=100)
    bot, bot_rate = read_wav(DATA / "speech_24k.wav")
    await media.start(MediaFormat(16000, bot_rate, echo_cancellation=echo_cancellation))
    try:
        enabled = media.echo_cancellation
        media.play(bot)
        media.end_of_stream()
        chunks: list[bytes] = []
        async with asyncio.timeout(10):
            done = asyncio.ensure_future(media.wait_input_done())
            while not done.done():
                chunks += [chunk.pcm for chunk in media.take_mic_chunks()]
                await asyncio.wait({media.mic_wakeup(), done}, return_when="FIRST_COMPLETED")
            await media.wait_output_idle(idle_ms=50)
        mic = b"".join(chunks) + b"".join(chunk.pcm for chunk in media.take_mic_chunks())
        assert media.stats.dropped_input_blocks == 0
    finally:
        await media.stop()
    return mic, media.output_audio(), enabled


async def test_files_do_not_cancel_echo_by_default_and_stay_bit_for_bit_the_same() -> None:
    default_mic, default_out, enabled = await file_media_run(None)
    off_mic, off_out, _ = await file_media_run(False)
    assert not enabled
    assert len(default_mic) > 16000 and default_mic == off_mic
    assert len(default_out) > 24000 and np.array_equal(default_out, off_out)


async def test_echo_cancellation_forced_on_for_files_is_a_clear_error(
    echo_server: EchoServer,
) -> None:
    media = FileMediaManager(DATA / "speech_16k.wav", realtime=False)
    transport = EchoTransport(make_options(echo_server, echo_cancellation=True), media)
    with pytest.raises(ConfigurationError, match="echo_cancellation=True needs sound devices"):
        await transport.connect()
    await transport.disconnect()
