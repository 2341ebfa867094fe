"""Virtual sound devices for tests and CI: check them, start them, speak into them, listen.

``scripts/audio-sandbox`` (in the repository) starts a private PulseAudio
daemon with a virtual speaker and a virtual microphone that PortAudio lists
like real devices. This module is its Python side::

    python -m rtws.sandbox check    # exit 0 when PortAudio sees a mic and a speaker
    python -m rtws.sandbox up       # run the script's `up` (also: down, status)

and the helpers device tests use: :func:`check` says why devices are
missing, :func:`feed` plays a WAV into the virtual mic, :func:`record`
records what was played to the virtual speaker (parecord), :class:`Listener`
captures a device in-process with timestamps (for latencies),
:func:`unplug` makes a device vanish mid-stream, and :func:`lock_devices`
keeps concurrent test runs on one machine from hearing each other.

Where the script is found: ``$RTWS_AUDIO_SANDBOX`` if set, else
``scripts/audio-sandbox`` of the checkout this package runs from, else an
``audio-sandbox`` on ``PATH``. It is not shipped inside the wheel: it needs
root and apt, which an installed library should not carry around; copy it
from the repository into CI images instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncGenerator, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from .audio import read_wav

#: PulseAudio names (paplay / parecord / pactl).
SPEAKER = "virtual_speaker"
SPEAKER_MONITOR = "virtual_speaker.monitor"
MIC = "virtual_mic"
MIC_FEED = "virtual_mic_src"

#: The same devices as sounddevice / PortAudio names them (ALSA pcms).
SD_SPEAKER = "virtual_speaker"
SD_SPEAKER_MONITOR = "virtual_speaker_monitor"
SD_MIC = "virtual_mic"
SD_MIC_FEED = "virtual_mic_src"
VIRTUAL_INPUTS = (SD_MIC, SD_SPEAKER_MONITOR)
VIRTUAL_OUTPUTS = (SD_SPEAKER, SD_MIC_FEED)

_WAV_HEADER_BYTES = 44


class SandboxError(RuntimeError):
    """The virtual devices or their tools are missing or failed."""


# ---------------------------------------------------------------- checking
def check(*, virtual: bool = False, rescan: bool = False) -> str | None:
    """Why sound devices cannot be used, or None when they can.

    ``virtual=True`` also requires the sandbox's named devices and its
    command-line tools (what :func:`feed` and :func:`record` need).
    ``rescan=True`` restarts PortAudio first to see devices added since
    sounddevice was imported; it must not be used while any stream is open.
    """
    try:
        import sounddevice as sd
    except (OSError, ImportError) as exc:  # OSError: the PortAudio library is missing
        return f"PortAudio is not available: {exc}"
    if rescan:
        from .media.sounddevice import SoundDeviceMediaManager

        SoundDeviceMediaManager.rescan()
    try:
        devices: list[dict[str, Any]] = list(sd.query_devices())
    except sd.PortAudioError as exc:
        return f"PortAudio cannot list devices: {exc}"
    inputs = [str(d["name"]) for d in devices if int(d["max_input_channels"]) > 0]
    outputs = [str(d["name"]) for d in devices if int(d["max_output_channels"]) > 0]
    if not inputs or not outputs:
        missing = "input" if not inputs else "output"
        return f"PortAudio sees no {missing} device (headless? run scripts/audio-sandbox up)"
    if virtual:
        absent = [n for n in (*VIRTUAL_INPUTS, *VIRTUAL_OUTPUTS) if n not in inputs + outputs]
        if absent:
            names = ", ".join(absent)
            return f"PortAudio lacks the virtual devices {names} (run scripts/audio-sandbox up)"
        tools = [t for t in ("paplay", "parecord", "pactl") if shutil.which(t) is None]
        if tools:
            return f"PulseAudio tools missing: {', '.join(tools)} (apt install pulseaudio-utils)"
        info = subprocess.run(
            ["pactl", "info"], env=pulse_env(), capture_output=True, timeout=10, check=False
        )
        if info.returncode != 0:
            return (
                "the audio-sandbox PulseAudio server does not answer (run scripts/audio-sandbox up)"
            )
    return None


def devices_available() -> bool:
    """True when PortAudio sees at least one input and one output device."""
    return check() is None


def pulse_env() -> dict[str, str]:
    """The environment for PulseAudio tools: points at the sandbox's server when none is set."""
    env = dict(os.environ)
    if "PULSE_SERVER" not in env:
        state = Path(os.environ.get("AUDIO_SANDBOX_DIR", "/tmp/audio-sandbox"))
        if (state / "native").exists():
            env["PULSE_SERVER"] = f"unix:{state / 'native'}"
    return env


_held = threading.local()  # re-entrancy: a second flock on a new fd would wait for ourselves


@contextlib.contextmanager
def lock_devices(timeout: float = 300.0) -> Generator[None]:
    """Hold the virtual devices for this block; other processes using this wait their turn.

    The devices are one per machine, and two test runs at once hear each
    other's audio. Every test that plays or records should hold this lock.
    Nesting it (a fixture and a test both taking it) is fine.
    """
    depth: int = getattr(_held, "depth", 0)
    if depth:
        _held.depth = depth + 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    path = Path(tempfile.gettempdir()) / "rtws-audio-devices.lock"
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SandboxError(
                        f"another process held the audio devices for {timeout:g} s ({path})"
                    ) from None
                time.sleep(0.05)
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0
    finally:
        os.close(fd)  # releases the lock


# ---------------------------------------------------------------- the script
def script_path() -> Path:
    """The audio-sandbox script (see the module docstring for the search order)."""
    configured = os.environ.get("RTWS_AUDIO_SANDBOX")
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise SandboxError(f"RTWS_AUDIO_SANDBOX={configured} is not a file")
        return path
    in_repo = Path(__file__).resolve().parent.parent / "scripts" / "audio-sandbox"
    if in_repo.is_file():
        return in_repo
    on_path = shutil.which("audio-sandbox")
    if on_path:
        return Path(on_path)
    raise SandboxError(
        "audio-sandbox script not found: set RTWS_AUDIO_SANDBOX to its path, or copy "
        "scripts/audio-sandbox from the rtws repository onto PATH"
    )


def run_script(*args: str) -> int:
    """Run ``audio-sandbox ARGS`` with this process's stdio; returns its exit status."""
    return subprocess.run([str(script_path()), *args], check=False).returncode


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
    def __init__(self, path: str | Path, rate: int, device: str, tail_s: float) -> None:
        self.recording = Recording(Path(path), rate, device)
        self.tail_s = tail_s
        self.proc: subprocess.Popen[bytes] | None = None

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

    def started(self) -> bool:
        """Has audio reached the file yet? (Then the capture is really running.)"""
        proc = self.proc
        assert proc is not None
        if proc.poll() is not None:
            self.stop()  # raises with parecord's message
        path = self.recording.path
        if path.exists() and path.stat().st_size > _WAV_HEADER_BYTES:
            self.recording.started_at = time.perf_counter()
            return True
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
    recorder = _Recorder(path, rate, device, tail_s)
    recorder.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not recorder.started():
            if time.monotonic() > deadline:
                raise SandboxError(f"parecord captured nothing from {device} in {start_timeout} s")
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
    recorder = _Recorder(path, rate, device, tail_s)
    recorder.start()
    try:
        deadline = time.monotonic() + start_timeout
        # The file growing is the only sign that parecord captures: poll it.
        while not recorder.started():
            if time.monotonic() > deadline:
                raise SandboxError(f"parecord captured nothing from {device} in {start_timeout} s")
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


# ---------------------------------------------------------------- pulling the plug
def unplug(direction: Literal["output", "input"], pid: int | None = None) -> int:
    """Kill a process's PulseAudio streams, as if its device had been unplugged.

    PulseAudio moves streams off a removed sink instead of failing them, and
    pactl cannot kill a stream, so this loads the daemon's command-line
    module for a moment and uses pacmd. Returns how many streams it killed.
    """
    pid = os.getpid() if pid is None else pid
    kind = "sink-inputs" if direction == "output" else "source-outputs"
    env = pulse_env()
    listing = _run(["pactl", "--format=json", "list", kind], env).stdout
    streams: list[dict[str, Any]] = json.loads(listing or "[]")
    ids = [
        str(s["index"])
        for s in streams
        if str(s.get("properties", {}).get("application.process.id")) == str(pid)
    ]
    if not ids:
        return 0
    state = Path(os.environ.get("AUDIO_SANDBOX_DIR", "/tmp/audio-sandbox"))
    module = _run(["pactl", "load-module", "module-cli-protocol-unix"], env).stdout.strip()
    try:
        pacmd_env = dict(env, PULSE_RUNTIME_PATH=str(state / "run" / "pulse"))
        command = "kill-sink-input" if direction == "output" else "kill-source-output"
        for stream_id in ids:
            _run(["pacmd", command, stream_id], pacmd_env)
    finally:
        _run(["pactl", "unload-module", module], env)
    return len(ids)


def _run(args: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(args), env=env, capture_output=True, text=True, timeout=10, check=False
    )
    if result.returncode != 0:
        raise SandboxError(
            f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result


# ---------------------------------------------------------------- command line
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rtws.sandbox",
        description="Virtual sound devices for headless tests (wraps scripts/audio-sandbox).",
    )
    parser.add_argument(
        "command",
        choices=["check", "up", "down", "status"],
        help="check: exit 0 when PortAudio sees an input and an output device; "
        "up/down/status: run the audio-sandbox script",
    )
    parser.add_argument(
        "--virtual", action="store_true", help="check: also require the sandbox's virtual devices"
    )
    args = parser.parse_args(argv)
    if args.command == "check":
        reason = check(virtual=args.virtual)
        if reason is None:
            print("ok: PortAudio sees input and output devices")
            return 0
        print(reason)
        return 1
    try:
        return run_script(args.command)
    except SandboxError as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
