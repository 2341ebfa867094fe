"""The audio side of a CLI session: sound devices or WAV files, and the files it writes."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Generator
from pathlib import Path

from rich.console import Console

from ..audio import read_wav
from ..errors import ConfigurationError, DeviceError
from ..media.file import FileMediaManager
from ..media.sounddevice import SoundDeviceMediaManager
from .errors import EXIT_USAGE, CLIError
from .record import Int16Array, RecordingTap, StereoRecorder


class RecordingFileMedia(RecordingTap, FileMediaManager):
    """WAV files in and out, with ``--record`` of both sides.

    Without ``--realtime`` the file device has no clock: it ticks as fast as it can.
    A silent bot block is then recorded only on a tick that read the input file, so
    the reply lands after the user's speech; ticks spent waiting for a server that
    streams in real time, or feeding the tail silence after the file, are no time at
    all and are left out (the ``--output`` file skips them too). Recorded, they would
    stretch the reply and cut it into pieces.
    """

    _read_file_this_tick = False
    _tail_seen: int | None = None

    def _push_input(
        self,
        block: Int16Array | None,
        captured_at: float | None = None,
        adc_time: float | None = None,
    ) -> None:
        # The tail silence after the file is counted down in _tail_left: a push that
        # moved it is tail, not file.
        tail = self._tail_left
        unmoved = self._tail_seen is None or tail == self._tail_seen
        self._read_file_this_tick = block is not None and unmoved
        self._tail_seen = tail
        super()._push_input(block, captured_at, adc_time)

    def _block_is_time(self, real: int) -> bool:
        read_file, self._read_file_this_tick = self._read_file_this_tick, False
        return self.realtime or real > 0 or read_file


class RecordingSoundDeviceMedia(RecordingTap, SoundDeviceMediaManager):
    """Microphone and speaker, with ``--record`` of both sides."""


def file_media(
    input_path: Path | None,
    output_path: Path | None,
    *,
    realtime: bool,
    recorder: StereoRecorder | None = None,
) -> RecordingFileMedia:
    """Mic from ``input_path`` (silence when None), speaker to ``output_path``."""
    media = RecordingFileMedia(input_path, output=output_path, realtime=realtime)
    media.recorder = recorder
    return media


def device_media(
    mic: str | None, speaker: str | None, *, recorder: StereoRecorder | None = None
) -> RecordingSoundDeviceMedia:
    """The chosen (or default) microphone and speaker; names are matched by the backend."""
    media = RecordingSoundDeviceMedia(mic, speaker)
    media.recorder = recorder
    return media


async def devices_unavailable() -> str | None:
    """Why the default mic and speaker cannot be used, or None when they can."""
    probe = SoundDeviceMediaManager()
    try:
        await probe.initialize()
    except DeviceError as exc:
        return str(exc)
    return None


def check_media_flags(args: argparse.Namespace, files: bool) -> None:
    if files and (args.mic or args.speaker):
        raise CLIError(
            "--mic/--speaker choose sound devices; they cannot be combined with --input/--output",
            hint="use either sound devices or WAV files",
            code=EXIT_USAGE,
        )
    if args.duration is not None and args.duration <= 0:
        raise CLIError("--duration must be a positive number of seconds", code=EXIT_USAGE)


def input_wav(path: str) -> Path:
    """An input WAV that exists and is readable, checked before anything connects."""
    try:
        read_wav(path)
    except ConfigurationError as exc:
        raise CLIError(str(exc), hint="--input takes a PCM WAV file", code=EXIT_USAGE) from None
    return Path(path)


@contextlib.contextmanager
def recorder_for(path: str | None, rate: int) -> Generator[StereoRecorder | None, None, None]:
    if path is None:
        yield None
        return
    try:
        recorder = StereoRecorder(path, rate)
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror or exc}", code=EXIT_USAGE) from None
    try:
        yield recorder
    finally:
        recorder.close()


def report_files(console: Console, output: Path | None, recorder: StereoRecorder | None) -> None:
    if output is not None and output.exists():
        pcm, rate = read_wav(output)
        console.print(f"bot audio: {output} ({len(pcm) / rate:.1f} s)", soft_wrap=True)
    if recorder is not None:
        seconds = recorder.frames / recorder.rate
        console.print(
            f"recording: {recorder.path} ({seconds:.1f} s, left = microphone, right = bot)",
            soft_wrap=True,
        )
