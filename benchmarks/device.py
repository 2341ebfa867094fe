"""``python -m benchmarks.device``: interruption to silence on a real (virtual) sound device.

rtws plays the fake's replies to the ``virtual_speaker`` PulseAudio sink through
PortAudio (``SoundDeviceMediaManager``) while this process records the sink's
monitor. The mic is the barge-in workload, fed on a 20 ms clock (a virtual mic
would add its own unknown latency to the *trigger*, which is not what is
measured). For every ``speech_started`` the client receives, three times are
compared with its arrival: the end of the last audible sample the output
callback wrote, the last sound on the monitor recording, and the same minus
the device path's own delay (speaker buffer + monitor), measured on every
reply's onset. Prints one JSON object, ``{"skipped": why}`` without devices.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from . import stats
from .probes import WireProbe, now
from .workload import API_KEY, barge_in_cycles, barge_in_mic

Int16Array = npt.NDArray[np.int16]
SPEAKER = "virtual_speaker"
MONITOR = "virtual_speaker_monitor"
RATE = 48000
BLOCK_MS = 20.0
#: A monitor sample louder than this is sound (the replies' noise floor is ~26).
LOUD = 200


def _skip(reason: str) -> None:
    sys.stdout.write(json.dumps({"skipped": reason}) + "\n")


def _devices_present() -> str | None:
    try:
        import sounddevice as sd
    except OSError as exc:
        return f"PortAudio is not available ({exc})"
    names = {str(d["name"]) for d in sd.query_devices()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    missing = [n for n in (SPEAKER, MONITOR) if n not in names]
    if missing:
        return f"no {' or '.join(missing)} device (start them with shared/scripts/audio-sandbox up)"
    return None


async def run(url: str, seconds: float) -> dict[str, Any]:
    import sounddevice as sd
    from rtws_openai import OpenAIRealtimeOptions
    from rtws_openai.options import ServerVAD

    from rtws.media.base import MediaFormat
    from rtws.media.sounddevice import SoundDeviceMediaManager

    from .clients.rtws_client import WireProbed

    mic = barge_in_mic(barge_in_cycles(64), RATE)
    written: list[tuple[float, int, int]] = []  # (callback time, first, last non-zero index)
    lock = threading.Lock()

    class Media(SoundDeviceMediaManager):
        """The real speaker, and the workload's mic on a 20 ms clock."""

        def __init__(self) -> None:
            super().__init__(
                None, SPEAKER, input_enabled=False, output_rate=RATE, blocksize_ms=BLOCK_MS
            )
            self._ticker: asyncio.Task[None] | None = None

        async def _start_streams(self, fmt: MediaFormat) -> None:
            await super()._start_streams(fmt)
            self._configure_input(RATE)
            self._ticker = asyncio.create_task(self._tick())

        async def _stop_streams(self) -> None:
            if self._ticker is not None:
                self._ticker.cancel()
                await asyncio.gather(self._ticker, return_exceptions=True)
            await super()._stop_streams()

        async def _tick(self) -> None:
            block = round(RATE * BLOCK_MS / 1000)
            due, pos = now(), 0
            while True:
                self._push_input(mic[pos : pos + block])
                pos = (pos + block) % (len(mic) - block)
                due += BLOCK_MS / 1000
                await asyncio.sleep(max(0.0, due - now()))

        def _pull_output(self, out: Int16Array) -> int:
            real = super()._pull_output(out)
            if real:
                loud = np.flatnonzero(out[:real])
                if loud.size:
                    with lock:
                        written.append((now(), int(loud[0]), int(loud[-1])))
            return real

    signals: list[float] = []

    class Transport(WireProbed):
        wire = WireProbe()

        async def _on_speech_started(self, event: dict[str, Any]) -> None:
            if self.wire.current is not None:
                signals.append(self.wire.current)
            await super()._on_speech_started(event)

    recorded: list[tuple[float, Int16Array]] = []

    def record(indata: Int16Array, frames: int, time_info: Any, status: Any) -> None:
        recorded.append((now(), indata[:, 0].copy()))

    media = Media()
    options = OpenAIRealtimeOptions(
        api_key=API_KEY,  # pyright: ignore[reportArgumentType]
        base_url=url.removesuffix("/realtime"),
        turn_detection=ServerVAD(interrupt_response=True),
        connect_timeout=30.0,
    )
    transport = Transport(options, media)
    monitor = sd.InputStream(
        device=MONITOR,
        samplerate=RATE,
        channels=1,
        dtype="int16",
        blocksize=480,
        callback=record,
        latency="low",
    )
    monitor.start()
    try:
        await transport.connect()
        await asyncio.sleep(seconds)
        await transport.disconnect()
    finally:
        monitor.stop()
        monitor.close()
    return analyse(signals, written, recorded, media.stats.extra)


def analyse(
    signals: list[float],
    written: list[tuple[float, int, int]],
    recorded: list[tuple[float, Int16Array]],
    extra: dict[str, int],
) -> dict[str, Any]:
    rate = RATE
    block_s = BLOCK_MS / 1000
    # The monitor as one signal, each sample stamped with when its block arrived.
    samples = np.concatenate([b for _, b in recorded]) if recorded else np.zeros(0, np.int16)
    stamps = (
        np.concatenate([t - (len(b) - 1 - np.arange(len(b))) / rate for t, b in recorded])
        if recorded
        else np.zeros(0)
    )
    loud = np.abs(samples.astype(np.int32)) > LOUD
    # Device path delay: each reply's first written sample vs its first sound on the monitor.
    delays: list[float] = []
    onsets = [
        t + first / rate
        for (t, first, _), prev in zip(written, [(-1.0, 0, 0), *written[:-1]], strict=True)
        if t - prev[0] > 0.2  # a new reply after a gap in the output
    ]
    for onset in onsets:
        after = np.flatnonzero(loud & (stamps >= onset) & (stamps <= onset + 0.5))
        if after.size:
            delays.append(float(stamps[after[0]] - onset) * 1000)
    path = statistics.median(delays) if delays else 0.0
    callback_ms: list[float] = []
    monitor_ms: list[float] = []
    for s in signals:
        ends = [t + (last + 1) / rate for t, _, last in written if s - 2 * block_s <= t <= s + 0.5]
        if not ends:
            continue  # nothing was playing: the user spoke first
        callback_ms.append(max(0.0, max(ends) - s) * 1000)
        end = _end_of_sound(stamps, loud, s)
        if end is not None:
            monitor_ms.append(max(0.0, end - s) * 1000)
    # Sound on the monitor while rtws wrote nothing audible (allowing for the path delay)
    # is another program playing to the same sink: it can merge with a reply's tail.
    ours = np.zeros(len(stamps), dtype=bool)
    for t, first, last in written:
        start = t + first / rate + path / 1000 - 0.01
        ours |= (stamps >= start) & (stamps <= t + (last + 1) / rate + path / 1000 + 0.03)
    foreign = float(np.mean(loud & ~ours)) * 100 if len(stamps) else 0.0
    return {
        "foreign_sound_pct": round(foreign, 2),
        "speaker": SPEAKER,
        "monitor": MONITOR,
        "block_ms": BLOCK_MS,
        "interruptions": len(callback_ms),
        "callback_silence_ms": stats.dist(callback_ms),
        "monitor_silence_ms": stats.dist(monitor_ms),
        "monitor_silence_net_ms": stats.dist([max(0.0, m - path) for m in monitor_ms]),
        "device_delay_ms": stats.dist(delays),
        "device_counters": extra,
    }


def _end_of_sound(
    stamps: npt.NDArray[np.float64], loud: npt.NDArray[np.bool_], s: float
) -> float | None:
    """Where the sound playing at ``s`` stops: the first 30 ms gap after it.

    The sink is shared (other programs may play to it later), so "the last loud
    sample in a window" would measure them; the reply's own end is the first gap.
    """
    times = stamps[np.flatnonzero(loud & (stamps >= s - 0.1) & (stamps <= s + 0.6))]
    if not times.size:
        return None
    gaps = np.flatnonzero(np.diff(times) > 0.03)
    return float(times[gaps[0]] if gaps.size else times[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.device", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    reason = _devices_present()
    if reason is not None:
        _skip(reason)
        return
    result = asyncio.run(run(args.url, args.seconds))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
