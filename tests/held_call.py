"""A tool call held in its worker thread until the test lets it finish.

Provider tests use it to keep a sync tool running across something that
happens meanwhile (a reconnect, a barge-in), then release it and see what
becomes of its late result. Sync tools run in a worker thread, so the three
moments are ``threading`` events, awaited off the event loop.
"""

from __future__ import annotations

import asyncio
import threading


class HeldCall:
    """Call :meth:`hold` from the tool's body; the test waits for it and releases it."""

    def __init__(self) -> None:
        self._entered = threading.Event()
        self._release = threading.Event()
        self._finished = threading.Event()

    def hold(self, result: str) -> str:
        """Block the calling worker thread until :meth:`release`, then return ``result``."""
        self._entered.set()
        self._release.wait(10)
        self._finished.set()
        return result

    async def entered(self, timeout: float = 5.0) -> None:
        """Wait until the tool is running (and blocked)."""
        assert await asyncio.to_thread(self._entered.wait, timeout), "the tool was never called"

    async def release(self, timeout: float = 5.0) -> None:
        """Let the tool return, and wait until it has."""
        self._release.set()
        assert await asyncio.to_thread(self._finished.wait, timeout), "the tool never returned"
