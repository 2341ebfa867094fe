"""The PCM pipeline's pieces on known signals: resampling, chunking, levels, playout, WAV."""

from __future__ import annotations

import struct
import threading
from pathlib import Path

import numpy as np
import pytest
import soxr

from rtws.audio import (
    Chunker,
    InputPipeline,
    OutputPipeline,
    PlayoutBuffer,
    StreamResampler,
    WavWriter,
    level,
    read_wav,
    to_int16,
    write_wav,
)
from rtws.errors import ConfigurationError
from tests.conftest import DATA


def sine(seconds: float, rate: int, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.round(amp * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


# ------------------------------------------------------------------ resampling
@pytest.mark.parametrize(
    ("src", "dst"), [(48000, 24000), (44100, 16000), (16000, 24000), (24000, 48000)]
)
def test_streamed_resampling_equals_one_shot(src: int, dst: int) -> None:
    speech, rate = read_wav(DATA / "speech_24k.wav")
    signal = soxr.resample(speech, rate, src) if rate != src else speech
    one_shot = soxr.ResampleStream(
        src, dst, 1, dtype="int16", quality="LQ", vr=True
    ).resample_chunk(signal, last=True)
    stream = StreamResampler(src, dst)
    rng = np.random.default_rng(7)
    pieces: list[np.ndarray] = []
    pos = 0
    while pos < len(signal):  # odd, irregular block sizes, as devices deliver them
        n = int(rng.integers(1, 2000))
        pieces.append(stream.process(signal[pos : pos + n]))
        pos += n
    pieces.append(stream.flush())
    streamed = np.concatenate(pieces)
    assert len(streamed) == len(one_shot)
    # The same signal to within soxr's int16 dither (±2 LSB, -84 dBFS): no click, no
    # drift, no lost or doubled sample at any chunk border.
    diff = streamed.astype(np.int32) - one_shot.astype(np.int32)
    assert np.abs(diff).max() <= 2
    assert np.sqrt(np.mean(diff.astype(float) ** 2)) < 1.0
    assert abs(len(streamed) - len(signal) * dst / src) <= 2


def test_a_chunk_is_ready_at_the_end_of_the_block_holding_its_last_sample() -> None:
    """No chunk waits for the next device block: the resampler's delay is constant and
    the chunker starts primed with it, so every 20 ms block yields one 20 ms chunk."""
    for device_rate, provider_rate in [(48000, 24000), (48000, 16000), (16000, 24000)]:
        pipe = InputPipeline(device_rate, provider_rate, 20)
        block = sine(0.02, device_rate)
        counts = [len(pipe.process(block)) for _ in range(50)]
        assert counts == [1] * 50, (device_rate, provider_rate, counts)
        assert pipe.resampler.delay_samples < provider_rate * 0.016


def test_equal_rates_pass_through_without_copy() -> None:
    block = sine(0.02, 24000)
    assert StreamResampler(24000, 24000).process(block) is block


def test_resampled_tone_keeps_its_pitch() -> None:
    tone = sine(1.0, 48000, freq=1000.0)
    resampler = StreamResampler(48000, 16000)
    out = np.concatenate([resampler.process(b) for b in np.array_split(tone, 50)])
    spectrum = np.abs(np.fft.rfft(out.astype(float)))
    assert abs(np.argmax(spectrum) * 16000 / len(out) - 1000.0) < 2.0


# ------------------------------------------------------------------ chunking
def test_chunker_emits_exact_chunks_and_keeps_the_rest() -> None:
    chunker = Chunker(320)
    data = np.arange(1000, dtype=np.int16)
    got = chunker.push(data[:100]) + chunker.push(data[100:700]) + chunker.push(data[700:])
    assert [len(c) for c in got] == [320, 320, 320]
    assert chunker.pending == 40
    assert np.array_equal(np.concatenate(got), data[:960])
    tail = chunker.flush(pad=True)
    assert tail is not None and len(tail) == 320
    assert np.array_equal(tail[:40], data[960:]) and not tail[40:].any()
    assert chunker.flush() is None


@pytest.mark.parametrize(
    ("device_rate", "chunk_ms", "samples"), [(48000, 20, 320), (44100, 40, 640), (16000, 10, 160)]
)
def test_input_pipeline_chunk_sizes(device_rate: int, chunk_ms: float, samples: int) -> None:
    pipe = InputPipeline(device_rate, 16000, chunk_ms)
    block = sine(0.0137, device_rate)  # a block size no chunk size divides
    chunks = [c for _ in range(100) for c in pipe.process(block)]
    assert chunks and {len(c) for c in chunks} == {samples}
    total = sum(len(c) for c in chunks) + pipe.chunker.pending
    # The chunker is primed with exactly the resampler's delay: nothing is held back.
    assert abs(len(block) * 100 / device_rate * 16000 - total) <= 2
    last = pipe.finish()
    assert all(len(c) == samples for c in last)


# ------------------------------------------------------------------ levels
def test_levels_on_known_signals() -> None:
    assert level(np.zeros(480, np.int16)) == 0.0
    assert level(np.zeros(0, np.int16)) == 0.0
    full = sine(0.1, 24000, amp=1.0)  # RMS -3 dBFS
    assert level(full) == pytest.approx(0.95, abs=0.01)
    quiet = sine(0.1, 24000, amp=0.1 * np.sqrt(2))  # RMS -20 dBFS
    assert level(quiet) == pytest.approx(2 / 3, abs=0.01)
    assert level(sine(0.1, 24000, amp=0.0005)) == 0.0  # below -60 dBFS


# ------------------------------------------------------------------ playout buffer
def read(buf: PlayoutBuffer | OutputPipeline, n: int) -> tuple[np.ndarray, int]:
    out = np.full(n, 12345, dtype=np.int16)  # garbage that must never be played
    real = buf.read_into(out)
    return out, real


def test_playout_waits_for_the_prebuffer_then_plays_in_order() -> None:
    buf = PlayoutBuffer(24000, prebuffer_samples=960)
    buf.write(np.arange(1, 481, dtype=np.int16), "a")
    out, real = read(buf, 480)
    assert real == 0 and not out.any()  # under the prebuffer: silence
    buf.write(np.arange(481, 1201, dtype=np.int16), "a")
    out, real = read(buf, 480)
    assert real == 480 and np.array_equal(out, np.arange(1, 481))
    out, real = read(buf, 480)
    assert np.array_equal(out, np.arange(481, 961))
    assert buf.played_ms("a") == 40


def test_underrun_plays_silence_and_re_primes() -> None:
    buf = PlayoutBuffer(24000, prebuffer_samples=480)
    buf.write(np.ones(600, np.int16), "a")
    out, real = read(buf, 480)
    assert real == 480
    out, real = read(buf, 480)  # only 120 left: real samples then zeros, never garbage
    assert real == 120 and out[:120].all() and not out[120:].any()
    assert buf.underruns == 1
    buf.write(np.ones(100, np.int16), "a")
    assert read(buf, 480)[1] == 0  # re-priming: waits for the prebuffer again


def test_end_of_stream_plays_a_short_tail_without_underrun() -> None:
    buf = PlayoutBuffer(24000, prebuffer_samples=4800)
    buf.write(np.ones(100, np.int16), "a")
    assert read(buf, 480)[1] == 0
    buf.end_of_stream()
    out, real = read(buf, 480)
    assert real == 100 and not out[100:].any()
    assert buf.underruns == 0


def test_flush_silences_the_next_block_and_reports_the_played_position() -> None:
    buf = PlayoutBuffer(24000, prebuffer_samples=0)
    buf.write(np.ones(24000, np.int16), "item-1")
    for _ in range(10):
        read(buf, 480)  # 200 ms played
    mark = buf.flush()
    assert (mark.item_id, mark.played_ms, mark.dropped_ms) == ("item-1", 200, 800)
    out, real = read(buf, 480)
    assert real == 0 and not out.any()
    assert buf.buffered_samples == 0


def test_mark_names_the_queued_item_even_before_it_plays() -> None:
    buf = PlayoutBuffer(24000, prebuffer_samples=0)
    buf.write(np.ones(480, np.int16), "a")
    read(buf, 480)
    buf.write(np.ones(480, np.int16), "b")
    mark = buf.mark()
    assert (mark.item_id, mark.played_ms) == ("b", 0)
    read(buf, 480)
    assert buf.flush().item_id == "b"
    assert buf.mark().item_id == "b" and buf.played_ms("a") == 20


def test_idle_clock() -> None:
    buf = PlayoutBuffer(24000, prebuffer_samples=0)
    assert buf.idle_since() is not None
    buf.write(np.ones(960, np.int16), "a")
    read(buf, 480)
    assert buf.idle_since() is None  # still audio queued
    read(buf, 480)
    assert buf.idle_since() is not None


def test_output_pipeline_resamples_and_counts_provider_ms() -> None:
    pipe = OutputPipeline(24000, 48000, prebuffer_ms=0)
    tone = sine(0.5, 24000)
    for piece in np.array_split(tone, 12):
        pipe.write(piece.tobytes(), "x")
    pipe.end_of_stream("x")
    played = []
    while True:
        out, real = read(pipe, 960)
        if not real:
            break
        played.append(out[:real].copy())
    audio = np.concatenate(played)
    assert abs(len(audio) - 24000) <= 4  # the whole 0.5 s item, tail included, at 48 kHz
    assert pipe.played_ms("x") == 500
    assert pipe.level.read() == pytest.approx(0.85, abs=0.01)  # a -9 dBFS RMS tone


def test_concurrent_writer_and_reader_lose_nothing() -> None:
    """The audio thread reads while the loop writes: every sample arrives once, in order."""
    buf = PlayoutBuffer(48000, prebuffer_samples=0)
    total = 48000 * 2
    data = (np.arange(total) % 30000).astype(np.int16)
    got: list[np.ndarray] = []
    done = threading.Event()

    def reader() -> None:
        out = np.zeros(480, np.int16)
        count = 0
        while count < total and not done.is_set():
            real = buf.read_into(out)
            got.append(out[:real].copy())
            count += real

    thread = threading.Thread(target=reader)
    thread.start()
    for piece in np.array_split(data, 400):
        buf.write(piece, "a")
    buf.end_of_stream()
    thread.join(timeout=10)
    done.set()
    assert np.array_equal(np.concatenate(got), data)


# ------------------------------------------------------------------ WAV and conversion
def test_wav_round_trip_and_stereo_downmix(tmp_path: Path) -> None:
    mono = sine(0.2, 16000)
    write_wav(tmp_path / "m.wav", mono, 16000)
    back, rate = read_wav(tmp_path / "m.wav")
    assert rate == 16000 and np.array_equal(back, mono)
    stereo = np.stack([mono, np.zeros_like(mono)], axis=1)
    with WavWriter(tmp_path / "s.wav", 16000, channels=2) as writer:
        writer.write(stereo[:1000])
        writer.write(stereo[1000:])
    down, _ = read_wav(tmp_path / "s.wav")
    assert len(down) == len(mono)
    assert np.max(np.abs(down.astype(int) - mono.astype(int) // 2)) <= 1


def riff(
    tag: int, channels: int, rate: int, bits: int, data: bytes, *, size: int | None = None
) -> bytes:
    """A WAV file built by hand (RIFF, a 'fmt ' chunk, a LIST chunk, 'data'), not by ``wave``."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    if tag == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: cbSize, valid bits, mask, subformat GUID
        fmt += struct.pack("<HHI", 22, bits, 0) + (3).to_bytes(2, "little") + bytes(14)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"LIST" + struct.pack("<I", 5) + b"INFO!" + b"\x00"  # odd size: one pad byte
    body += b"data" + struct.pack("<I", len(data) if size is None else size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


WAVE = np.sin(np.arange(480) / 480 * 2 * np.pi * 5) * 0.5  # 5 periods at half scale


@pytest.mark.parametrize(
    ("tag", "bits", "data"),
    [
        (3, 32, WAVE.astype("<f4").tobytes()),
        (3, 64, WAVE.astype("<f8").tobytes()),
        (0xFFFE, 32, WAVE.astype("<f4").tobytes()),
        (1, 8, np.round(WAVE * 127 + 128).astype(np.uint8).tobytes()),
        (1, 16, np.round(WAVE * 32767).astype("<i2").tobytes()),
        (
            1,
            24,
            b"".join(int(v).to_bytes(3, "little", signed=True) for v in np.round(WAVE * 8388607)),
        ),
        (1, 32, np.round(WAVE * 2147483647).astype("<i4").tobytes()),
    ],
    ids=["float32", "float64", "extensible-float32", "int8", "int16", "int24", "int32"],
)
def test_float_and_every_integer_width_are_converted(
    tag: int, bits: int, data: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "in.wav"
    path.write_bytes(riff(tag, 1, 22050, bits, data))
    pcm, rate = read_wav(path)
    assert rate == 22050 and len(pcm) == len(WAVE)
    assert np.max(np.abs(pcm.astype(float) - WAVE * 32767)) <= (260 if bits == 8 else 2)


def test_a_float_stereo_wav_with_a_streamed_length_is_read_to_its_end(tmp_path: Path) -> None:
    stereo = np.stack([WAVE, -WAVE * 0.5], axis=1).astype("<f4")
    path = tmp_path / "streamed.wav"  # the data size a pipe writer leaves: 0xFFFFFFFF
    path.write_bytes(riff(3, 2, 16000, 32, stereo.tobytes(), size=0xFFFFFFFF))
    pcm, rate = read_wav(path)
    assert rate == 16000 and len(pcm) == len(WAVE)
    assert np.max(np.abs(pcm.astype(float) - WAVE * 0.25 * 32767)) <= 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"is empty \(0 bytes\); expected a WAV file of integer PCM"),
        (b"ID3\x04\x00" + bytes(40), r"is not a WAV file \(an MP3 file\); expected a WAV"),
        (b"not a wav at all", r"not a WAV file \(it starts with b'not a wav at'\); expected"),
        (riff(6, 1, 8000, 8, bytes(80)), r"holds 8-bit A-law samples; expected a WAV file of"),
        (riff(1, 1, 8000, 12, bytes(80)), r"holds 12-bit PCM samples; expected"),
        (riff(1, 1, 8000, 16, b"")[:-8], r"without a data chunk"),
    ],
    ids=["empty", "mp3", "text", "a-law", "12-bit", "no-data"],
)
def test_what_cannot_be_read_is_named_with_what_can(
    content: bytes, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError, match=message):
        read_wav(path)


def test_wav_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no such WAV file"):
        read_wav(tmp_path / "missing.wav")


def test_to_int16_conversions() -> None:
    assert to_int16(np.array([0.5, -1.0, 2.0])).tolist() == [16384, -32767, 32767]
    assert to_int16(np.array([128, 255], np.uint8)).tolist() == [0, 32512]
    assert to_int16(np.array([1 << 16], np.int32)).tolist() == [1]
    with pytest.raises(ConfigurationError, match="shape"):
        to_int16(np.zeros((2, 2, 2)))
