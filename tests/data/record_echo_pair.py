"""Record ``echo_far_16k.wav`` / ``echo_near_16k.wav``: the canceller's test pair, on the test bed.

The far end (espeak-ng speech) is played to the virtual speaker while the
virtual mic records, with ``audio-sandbox echo on -10 40 2`` routing the
speaker into the mic; from 4.5 s a second voice is fed into the mic too
(double talk). Both files are cut to one timeline from PortAudio's stream
timestamps: sample i of the far file reached the DAC when sample i of the
near file left the ADC. So the pair is what a session sees, with the
devices' own latencies in the echo's delay. Regenerate (needs the sandbox):

    uv run python tests/data/record_echo_pair.py
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import sounddevice as sd
import soxr
from rtws_openai.testing.demo import espeak

from rtws import sandbox
from rtws.audio import write_wav
from rtws.sandbox_echo import echo_path

#: Recorded at the virtual devices' own rate: PulseAudio's resampling to 16 kHz on the
#: way in cut echo removal from 38 to 20 dB (soxr afterwards does no such harm).
DEVICE_RATE = 48000
RATE = 16000
SECONDS = 6.0
DATA = Path(__file__).parent
FAR_TEXT = "The weather in Paris today is mild, with a light breeze from the west and some sun."
NEAR_TEXT = "Excuse me, could you stop for a moment?"

Int16Array = npt.NDArray[np.int16]


def main() -> None:
    far = soxr.resample(espeak(FAR_TEXT), 24000, DEVICE_RATE)
    far = np.concatenate((np.zeros(DEVICE_RATE // 2, np.int16), far))[: int(SECONDS * DEVICE_RATE)]
    near_path = DATA / "_near_voice.wav"
    write_wav(near_path, espeak(NEAR_TEXT, voice="en-gb"), 24000)
    played: list[tuple[float, Int16Array]] = []
    heard: list[tuple[float, Int16Array]] = []
    position = 0

    def out_cb(outdata: Int16Array, frames: int, ti: Any, status: Any) -> None:
        nonlocal position
        block = np.zeros(frames, np.int16)
        chunk = far[position : position + frames]
        block[: len(chunk)] = chunk
        position += frames
        outdata[:, 0] = block
        played.append((ti.outputBufferDacTime + time.perf_counter() - ti.currentTime, block))

    def in_cb(indata: Int16Array, frames: int, ti: Any, status: Any) -> None:
        heard.append(
            (ti.inputBufferAdcTime + time.perf_counter() - ti.currentTime, indata[:, 0].copy())
        )

    with sandbox.lock_devices(), echo_path(-10, 40, 2):
        opts: dict[str, Any] = {
            "samplerate": DEVICE_RATE,
            "channels": 1,
            "dtype": "int16",
            "blocksize": DEVICE_RATE // 50,
            "latency": "low",
        }
        with (
            sd.InputStream(device=sandbox.SD_MIC, callback=in_cb, **opts),
            sd.OutputStream(device=sandbox.SD_SPEAKER, callback=out_cb, **opts),
        ):
            time.sleep(4.5)
            sandbox.feed(near_path)
            time.sleep(max(0.0, SECONDS + 1.0 - 4.5 - 2.0))
    near_path.unlink()
    start = played[0][0]
    far_line = np.concatenate([b for _, b in played])
    # Both streams are continuous: anchor the mic's on its first timestamp only
    # (placing every block by its own stamp would add the stamps' jitter as gaps).
    mic = np.concatenate([b for _, b in heard])
    offset = round((heard[0][0] - start) * DEVICE_RATE)
    near_line = np.zeros(len(far_line), np.int16)
    if offset >= 0:
        piece = mic[: len(near_line) - offset]
        near_line[offset : offset + len(piece)] = piece
    else:
        piece = mic[-offset : -offset + len(near_line)]
        near_line[: len(piece)] = piece
    n = int(SECONDS * DEVICE_RATE)
    for name, line in (("far", far_line[:n]), ("near", near_line[:n])):
        write_wav(DATA / f"echo_{name}_16k.wav", soxr.resample(line, DEVICE_RATE, RATE), RATE)
    print(f"wrote {n / DEVICE_RATE:.1f} s pairs; near peak {np.abs(near_line).max()}")


if __name__ == "__main__":
    main()
