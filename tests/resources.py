"""What a session holds in the process, so tests can prove ``disconnect()`` gave it all back.

A snapshot records the asyncio tasks, Python threads, open file descriptors
(sockets, WAV files, pipes) and PortAudio streams alive at one moment;
:meth:`ResourceSnapshot.leaks` lists what exists now and did not then.
Both ends of a test's websocket live in this process, and the server closes
its end a moment after the client, so :func:`assert_released` polls.
"""

from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import dataclass
from pathlib import Path


def audio_threads() -> int:
    """Native threads that are not the interpreter's: PortAudio's and PulseAudio's.

    Threads named like the process (the main thread, Python threads, numpy's
    BLAS pool, which restarts lazily after a fork) are left out: they are not
    audio resources, and Python threads are checked through ``threading``.
    """
    process = Path("/proc/self/comm").read_text().strip()
    names = [(task / "comm").read_text().strip() for task in Path("/proc/self/task").iterdir()]
    return sum(1 for name in names if name != process)


def _fds() -> dict[int, str]:
    found: dict[int, str] = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            found[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # closed while listing (the listing's own fd, for one)
            continue
    return found


def _portaudio_streams() -> int:
    try:
        from rtws.media.sounddevice import SoundDeviceMediaManager
    except OSError:  # no PortAudio at all: no stream can be open
        return 0
    return SoundDeviceMediaManager.live_stream_count()


@dataclass(frozen=True)
class ResourceSnapshot:
    tasks: frozenset[asyncio.Task[object]]
    threads: frozenset[int | None]
    fds: dict[int, str]
    portaudio_streams: int
    #: Native threads too (PortAudio's and PulseAudio's are invisible to ``threading``).
    os_threads: int

    @classmethod
    def take(cls) -> ResourceSnapshot:
        return cls(
            tasks=frozenset(asyncio.all_tasks()),
            threads=frozenset(t.ident for t in threading.enumerate()),
            fds=_fds(),
            portaudio_streams=_portaudio_streams(),
            os_threads=len(os.listdir("/proc/self/task")),
        )

    def leaks(self) -> list[str]:
        """What is held now that was not at the snapshot (an empty list when nothing)."""
        problems: list[str] = []
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t not in self.tasks and t is not me]
        problems += [f"task {t.get_name()}: {t.get_coro()!r}" for t in tasks if not t.done()]
        for thread in threading.enumerate():
            # asyncio's default executor (getaddrinfo) belongs to the loop, which closes it.
            if thread.ident not in self.threads and not thread.name.startswith("asyncio_"):
                problems.append(f"thread {thread.name}")
        now = _fds()
        problems += [
            f"fd {fd} -> {target}" for fd, target in now.items() if self.fds.get(fd) != target
        ]
        native = len(os.listdir("/proc/self/task")) - len(threading.enumerate())
        if native > self.os_threads - len(self.threads):
            problems.append(f"{native - (self.os_threads - len(self.threads))} native thread(s)")
        streams = _portaudio_streams()
        if streams > self.portaudio_streams:
            problems.append(f"{streams - self.portaudio_streams} PortAudio stream(s)")
        return problems


async def assert_released(before: ResourceSnapshot, within: float = 3.0) -> None:
    """Fail, listing each, if tasks, threads, fds or streams outlive ``within`` seconds."""
    leaks = before.leaks()
    try:
        async with asyncio.timeout(within):
            while leaks:
                await asyncio.sleep(0.02)
                leaks = before.leaks()
    except TimeoutError:
        raise AssertionError("resources leaked:\n  " + "\n  ".join(leaks)) from None
