"""Speaking into the virtual mic and listening to the virtual speaker, for device tests.

Split from :mod:`rtws.sandbox` because this is what tests do with the devices
once they are up: :func:`feed` plays a WAV into the mic (paplay),
:func:`record` captures the speaker to a file (parecord), and
:class:`Listener` captures it in-process with timestamps, for latencies.
``rtws.sandbox`` re-exports it all.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .audio import read_wav
from .sandbox_devices import (
    MIC_FEED,
    SD_SPEAKER_MONITOR,
    SPEAKER_MONITOR,
    SandboxError,
    pulse_env,
)

_WAV_HEADER_BYTES = 44


# ---------------------------------------------------------------- speaking into the mic
def feed(
    wav_path: str | Path, *, device: str = MIC_FEED, wait: bool = True, timeout: float = 60.0
) -> subprocess.Popen[bytes]:
    """Play a WAV into the virtual microphone (in real time) with paplay.

    With ``wait=True`` returns once it was played; otherwise returns the
    running process (:func:`afeed` waits without blocking an event loop).
    """
    path = Path(wav_path)
    if not path.is_file():
        raise SandboxError(f"no such WAV file: {path}")
    proc = subprocess.Popen(
        ["paplay", f"--device={device}", str(path)],
        env=pulse_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if wait:
        _finish(proc, timeout, f"paplay {path}")
    return proc


async def afeed(wav_path: str | Path, *, device: str = MIC_FEED) -> None:
    """:func:`feed` for async code: the event loop keeps running while the file plays.

    Bound it with ``asyncio.timeout``; a cancelled feed stops paplay.
    """
    proc = feed(wav_path, device=device, wait=False)
    try:
        # Polling, not asyncio's subprocesses: on 3.11 those cost a watcher thread per child.
        while proc.poll() is None:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    finally:
        if proc.poll() is None:
            proc.kill()
    _finish(proc, 5.0, f"paplay {wav_path}")


def _finish(proc: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise SandboxError(f"{what} did not finish in {timeout:.0f} s") from None
    finally:
        stderr = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
    if proc.returncode != 0:
        raise SandboxError(f"{what} failed ({proc.returncode}): {stderr}")


# ---------------------------------------------------------------- listening to the speaker
@dataclass
class Recording:
    """A parecord capture; :meth:`audio` is readable once the ``record`` block has exited."""

    path: Path
    rate: int
    device: str
    #: ``time.perf_counter()`` when the first recorded audio had reached the file.
    started_at: float = 0.0

    def audio(self) -> npt.NDArray[np.int16]:
        pcm, rate = read_wav(self.path)
        if rate != self.rate:
            raise SandboxError(f"{self.path} is at {rate} Hz, expected {self.rate} Hz")
        return pcm


class _Recorder:
    """One parecord run, for :func:`record` and :func:`arecord` (which only differ in how
    they wait): starting it, knowing when it really captures, stopping it cleanly."""

    def __init__(self, path: str | Path, rate: int, device: str, start_timeout: float) -> None:
        self.recording = Recording(Path(path), rate, device)
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._deadline = 0.0

    def start(self) -> None:
        rec = self.recording
        rec.path.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [
                "parecord",
                f"--device={rec.device}",
                "--channels=1",
                f"--rate={rec.rate}",
                "--format=s16le",
                "--latency-msec=20",
                "--file-format=wav",
                str(rec.path),
            ],
            env=pulse_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._deadline = time.monotonic() + self.start_timeout

    def started(self) -> bool:
        """Has audio reached the file yet? (Then the capture is really running.)

        The file growing is the only sign that parecord captures: callers poll
        this. Past ``start_timeout`` without audio, it raises :class:`SandboxError`.
        """
        proc = self.proc
        assert proc is not None
        if proc.poll() is not None:
            self.stop()  # raises with parecord's message
        path = self.recording.path
        if path.exists() and path.stat().st_size > _WAV_HEADER_BYTES:
            self.recording.started_at = time.perf_counter()
            return True
        if time.monotonic() > self._deadline:
            device, timeout = self.recording.device, self.start_timeout
            raise SandboxError(f"parecord captured nothing from {device} in {timeout} s")
        return False

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            # SIGINT, not SIGTERM: parecord then writes the WAV header's final sizes.
            proc.send_signal(signal.SIGINT)
        _finish(proc, 5.0, f"parecord {self.recording.device}")


@contextlib.contextmanager
def record(
    path: str | Path,
    rate: int = 24000,
    *,
    device: str = SPEAKER_MONITOR,
    tail_s: float = 0.3,
    start_timeout: float = 5.0,
) -> Generator[Recording]:
    """Record ``device`` (default: what was played to the virtual speaker) into a mono WAV.

    The block is entered once audio is really being captured, and the capture
    runs ``tail_s`` past the block's end: parecord loses up to its latency
    (20 ms) when stopped.
    """
    recorder = _Recorder(path, rate, device, start_timeout)
    recorder.start()
    try:
        while not recorder.started():
            time.sleep(0.005)
        yield recorder.recording
        time.sleep(tail_s)
    finally:
        recorder.stop()


@contextlib.asynccontextmanager
async def arecord(
    path: str | Path,
    rate: int = 24000,
    *,
    device: str = SPEAKER_MONITOR,
    tail_s: float = 0.3,
    start_timeout: float = 5.0,
) -> AsyncGenerator[Recording]:
    """:func:`record` for async code: waits without blocking the event loop."""
    recorder = _Recorder(path, rate, device, start_timeout)
    recorder.start()
    try:
        # Polling: the file growing is the only sign that parecord captures.
        while not recorder.started():  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        yield recorder.recording
        await asyncio.sleep(tail_s)
    finally:
        recorder.stop()


class Listener:
    """Capture a device inside this process, stamping each block with ``time.perf_counter()``.

    parecord says what was played; this also says *when* it reached us, which
    is what latency measurements need. The stamps include the capture path's
    own delay, so timings derived from them are upper bounds.

        with Listener(SD_SPEAKER_MONITOR) as ear:
            ...
        audio, times = ear.audio(), ear.sample_times()
    """

    def __init__(self, device: str = SD_SPEAKER_MONITOR, rate: int = 48000, block_ms: float = 5.0):
        self.device = device
        self.rate = rate
        self.blocksize = max(1, round(rate * block_ms / 1000))
        self._blocks: list[tuple[float, npt.NDArray[np.int16]]] = []
        self._stream: Any = None

    def __enter__(self) -> Listener:
        import sounddevice as sd

        def callback(
            indata: npt.NDArray[np.int16], frames: int, time_info: Any, status: Any
        ) -> None:
            # list.append is atomic; no logging or locks on PortAudio's thread.
            self._blocks.append((time.perf_counter(), indata[:, 0].copy()))

        self._stream = sd.InputStream(
            device=self.device,
            samplerate=self.rate,
            channels=1,
            dtype="int16",
            blocksize=self.blocksize,
            latency="low",
            callback=callback,
        )
        self._stream.start()
        return self

    def __exit__(self, *exc: object) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort()
            stream.close()

    def audio(self) -> npt.NDArray[np.int16]:
        blocks = [b for _, b in list(self._blocks)]
        return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int16)

    def sample_times(self) -> npt.NDArray[np.float64]:
        """``perf_counter()`` at which each sample of :meth:`audio` reached this process."""
        parts = [
            stamp - (len(block) - 1 - np.arange(len(block), dtype=np.float64)) / self.rate
            for stamp, block in list(self._blocks)
        ]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)

    def clear(self) -> None:
        self._blocks.clear()
