"""The bench every conformance check runs on: a fresh harness, file media, cleanup.

The checks (:mod:`.suite`, :mod:`.kit`, :mod:`.tools`) say what a provider
must do; this says how a check gets a session to look at and that it is torn
down even when the check fails, so a broken provider fails one check instead
of poisoning the next. It is also what runs the checks outside pytest.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest
import pytest_asyncio

from ..media.file import FileMediaManager
from ..transport import RealTimeWebsocketTransport
from .harness import ProviderHarness
from .probes import wait_for
from .signals import chirp

#: The speaker's device rate in every check: unlike any provider's, so resampling is exercised.
DEVICE_RATE = 48000


class ConformanceBench(ABC):
    """The fixtures and helpers of :class:`~rtws.testing.ProviderConformance`, without checks.

    Class attributes tune the checks: :attr:`timeout` bounds every wait,
    :attr:`block_ms` is the virtual sound card's block (the unit of "within
    one block").
    """

    #: Upper bound (seconds) of every wait; a check that needs longer has found a hang.
    timeout: ClassVar[float] = 10.0
    #: Block size of the file "sound card"; a flush must silence it within one block.
    block_ms: ClassVar[float] = 20.0
    _transports: list[RealTimeWebsocketTransport] | None = None

    @abstractmethod
    def make_harness(self) -> ProviderHarness:
        """Return a new (not yet started) harness for your provider's fake server."""

    @pytest_asyncio.fixture
    async def harness(self) -> AsyncIterator[ProviderHarness]:
        async with self.make_harness() as harness:
            try:
                yield harness
            finally:
                await self.close_transports()

    def new_transport(
        self, harness: ProviderHarness, media: FileMediaManager
    ) -> RealTimeWebsocketTransport:
        """``harness.make_transport(media)``, remembered so a failed check still tears it down."""
        return self.remember(harness.make_transport(media))

    def remember(self, transport: RealTimeWebsocketTransport) -> RealTimeWebsocketTransport:
        """Disconnect ``transport`` when the check ends, however it ends."""
        if self._transports is None:
            self._transports = []
        self._transports.append(transport)
        return transport

    async def close_transports(self) -> None:
        """Disconnect every transport a check made (a no-op for those it disconnected itself)."""
        transports, self._transports = self._transports or [], None
        for transport in transports:
            await transport.disconnect()

    async def run(self, *names: str) -> dict[str, str]:
        """Run checks outside pytest (a notebook, a script, a REPL).

        Runs ``names`` (default: every ``test_*`` check, in definition order),
        each against a fresh harness, and returns check name → ``"ok"`` or
        the reason it failed.
        """
        if not names:
            found: dict[str, None] = {}
            for cls in reversed(type(self).__mro__):
                found.update(dict.fromkeys(n for n in vars(cls) if n.startswith("test_")))
            names = tuple(found)
        results: dict[str, str] = {}
        for name in names:
            check = getattr(self, name)
            async with self.make_harness() as harness:
                try:
                    await check(harness)
                    results[name] = "ok"
                except pytest.skip.Exception as exc:
                    results[name] = f"skipped: {exc.msg}"
                except (Exception, pytest.fail.Exception) as exc:
                    results[name] = f"{type(exc).__name__}: {exc}"
                finally:
                    await self.close_transports()
        return results

    # ------------------------------------------------------------------ helpers
    def fast_media(self) -> FileMediaManager:
        """A silent mic (fed later) and a speaker that plays as fast as audio arrives."""
        return self._media(realtime=False, tail_silence_ms=0)

    def realtime_media(self) -> FileMediaManager:
        """A speaker on the wall clock, so "what was heard" means what a person would hear."""
        return self._media(realtime=True)

    def _media(self, *, realtime: bool, **options: Any) -> FileMediaManager:
        """The checks' sound card: no input file, both sides at :data:`DEVICE_RATE`;
        ``options`` are more of :class:`FileMediaManager`'s."""
        return FileMediaManager(
            None,
            input_rate=DEVICE_RATE,
            output_rate=DEVICE_RATE,
            realtime=realtime,
            block_ms=self.block_ms,
            **options,
        )

    def expected_states(self, transport: RealTimeWebsocketTransport, *, init: bool) -> list[str]:
        states = ["initializing", "initialized"] if init else []
        if transport.wants_authentication():
            states += ["authenticating", "authenticated"]
        return [*states, "connecting", "connected", "ready", "disconnecting", "disconnected"]

    async def connect(self, transport: RealTimeWebsocketTransport) -> None:
        async with asyncio.timeout(self.timeout):
            await transport.connect()

    async def speak_into_mic(
        self, harness: ProviderHarness, media: FileMediaManager, seconds: float = 0.6
    ) -> int:
        """Feed a chirp to the running mic and wait until the server received about as
        many samples (all but the last partial chunk and the resampler's delay).

        Returns the length of :meth:`ProviderHarness.received_audio` before the feed: the
        chirp follows, possibly behind audio the mic captured while the session connected.
        """
        fmt = media.format
        assert fmt is not None, "speak_into_mic() needs a connected transport"
        before = len(harness.received_audio())
        media.feed(chirp(seconds, DEVICE_RATE))
        # All of it but the last partial chunk and the resampler's delay.
        chunk = int(fmt.chunk_ms * fmt.input_sample_rate / 1000)
        expected = int(seconds * fmt.input_sample_rate) - 2 * chunk
        await wait_for(
            lambda: len(harness.received_audio()) - before >= expected,
            self.timeout,
            "the server to receive the mic audio",
        )
        return before
