"""Single-key commands from a terminal, without Enter, and the terminal always given back.

The terminal goes into cbreak mode (no line buffering, no echo; Ctrl-C still
raises SIGINT) only while a session runs and only when stdin is a TTY. The
saved mode is restored on every way out: normal exit, an exception, or
cancellation by Ctrl-C.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import IO, Any

from ..media.base import AudioDevice

try:
    import termios
    import tty
except ImportError:  # Windows: no termios; the CLI falls back to no key handling
    termios = None
    tty = None


def keys_supported(stream: IO[Any] | None = None) -> bool:
    """Whether single-key input can work: a TTY on stdin and a POSIX terminal API."""
    stream = stream if stream is not None else sys.stdin
    if stream is None or termios is None:  # no stdin at all (pythonw, some daemons)
        return False
    try:
        return stream.isatty()
    except (ValueError, AttributeError):  # closed or replaced stdin
        return False


class KeyReader:
    """Calls ``on_key(char)`` on the event loop for every key pressed, in cbreak mode.

    Use as a context manager around the session; leaving it restores the
    terminal exactly as it was found.
    """

    def __init__(self, on_key: Callable[[str], None], stream: IO[Any] | None = None) -> None:
        self.on_key = on_key
        self._fd = (stream if stream is not None else sys.stdin).fileno()
        self._saved: list[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __enter__(self) -> KeyReader:
        assert termios is not None, "check keys_supported() first"
        assert tty is not None
        self._saved = termios.tcgetattr(self._fd)
        try:
            tty.setcbreak(self._fd, termios.TCSANOW)
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self._fd, self._read)
        except BaseException:
            self.restore()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.restore()

    def restore(self) -> None:
        """Stop reading and put the terminal back; safe to call twice."""
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self._fd)
        saved, self._saved = self._saved, None
        if saved is not None and termios is not None:
            # TCSADRAIN: let pending output (the last frame of the view) finish first.
            termios.tcsetattr(self._fd, termios.TCSADRAIN, saved)

    def _read(self) -> None:
        try:
            data = os.read(self._fd, 64)
        except OSError:
            data = b""
        if not data:  # end of input (the terminal went away): nothing more to read
            if self._loop is not None:
                self._loop.remove_reader(self._fd)
            return
        for char in data.decode("utf-8", errors="ignore"):
            self.on_key(char)


def next_device(devices: Sequence[AudioDevice], current: AudioDevice | None) -> AudioDevice | None:
    """The device after ``current`` in ``devices``, wrapping around; None if there is no other."""
    if not devices:
        return None
    ids = [d.id for d in devices]
    if current is None or current.id not in ids:
        return devices[0]
    following = devices[(ids.index(current.id) + 1) % len(devices)]
    return None if following.id == current.id else following
