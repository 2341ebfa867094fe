"""The input path every backend shares: captured blocks in, mic chunks out to the transport.

Split from :mod:`rtws.media.base` like :mod:`.playout`, its speaker-side twin,
so the mic side reads on its own. A backend's audio thread hands device-rate
blocks to :meth:`Capture._push_input`, which never waits for the event loop:
blocks go into a bounded deque (the oldest dropped and counted when the loop
falls behind) and the loop is woken once per batch. On the loop, the echo
canceller runs first, then the input pipeline cuts provider-rate chunks for
the transport's mic pump (:meth:`Capture.take_mic_chunks`,
:meth:`Capture.mic_wakeup`), 50 times a second per session.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import time
from collections.abc import AsyncIterator

import numpy as np
import numpy.typing as npt

from ..audio import InputPipeline
from ..audio.echo import EchoCanceller
from .types import AudioChunk, MediaFormat, MediaStats

#: Input blocks that may wait for the loop before the oldest is dropped (~2 s at 20 ms).
MAX_PENDING_INPUT_BLOCKS = 100

#: (block, captured_at, adc_time); a None block marks the end of the input.
PendingBlock = tuple[npt.NDArray[np.int16] | None, float, float | None]


class Capture:
    """The microphone half of :class:`~rtws.media.base.MediaManager`, which sets these up."""

    _input: InputPipeline | None
    _format: MediaFormat | None
    _echo: EchoCanceller | None
    _mic_enabled: bool
    _running: bool
    _seq: int
    _loop: asyncio.AbstractEventLoop | None
    _loop_thread: int | None
    _pending: collections.deque[PendingBlock]
    _pending_lock: threading.Lock
    _wakeup_scheduled: bool
    # The mic pump's wait for input: a bare future, resolved on the loop thread.
    _mic_waiter: asyncio.Future[None] | None
    stats: MediaStats

    def _push_input(
        self,
        block: npt.NDArray[np.int16] | None,
        captured_at: float | None = None,
        adc_time: float | None = None,
    ) -> None:
        """Hand a captured device-rate block to the loop. Any thread; never blocks on the loop.

        ``adc_time`` is when the block's first sample left the ADC (``perf_counter``
        seconds); the echo canceller aligns on it.
        """
        if not self._running:
            return
        if block is not None and not self._mic_enabled:
            block = np.zeros_like(block)  # muted: silence, never the captured audio
        stamp = time.perf_counter() if captured_at is None else captured_at
        with self._pending_lock:
            if len(self._pending) >= MAX_PENDING_INPUT_BLOCKS:
                self._pending.popleft()
                self.stats.dropped_input_blocks += 1
            self._pending.append((block, stamp, adc_time))
            self.stats.input_blocks += 1
            if self._wakeup_scheduled:
                return
            self._wakeup_scheduled = True
        if threading.get_ident() == self._loop_thread:
            # A backend ticking on the loop itself (files, memory): no self-pipe
            # write and read, and the mic pump runs one loop iteration sooner.
            self._wake()
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # The loop may close between the check and the call.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake)

    def _end_input(self) -> None:
        """The input ended (a file ran out): deliver the samples a chunk or filter still holds."""
        self._push_input(None)

    def _wake(self) -> None:
        waiter, self._mic_waiter = self._mic_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take_mic_chunks(self) -> list[AudioChunk]:
        """The chunks completed since the last call, without waiting (maybe ``[]``)."""
        return self._drain_input() if self._pending else []

    def mic_wakeup(self) -> asyncio.Future[None]:
        """A future done at the next captured block, or at :meth:`stop` (done already if stopped).

        This and :meth:`take_mic_chunks` are the transport's mic hand-off, 50
        times a second per session: a bare future awaited directly, rather than
        an :class:`asyncio.Event` or a coroutine around it, is the cheapest
        wake-up asyncio has.
        """
        waiter = self._mic_waiter
        if waiter is None or waiter.done():
            waiter = self._mic_waiter = asyncio.get_running_loop().create_future()
            if not self._running or self._pending:  # a racing push, or nothing to wait for
                self._wake()
        return waiter

    async def next_mic_chunks(self) -> list[AudioChunk]:
        """The chunks completed since the last call (waiting for some); ``[]`` once stopped."""
        while self._running:
            chunks = self.take_mic_chunks()
            if chunks:
                return chunks
            await self.mic_wakeup()
        return []

    async def mic_chunks(self) -> AsyncIterator[AudioChunk]:
        """Fixed-size chunks at the provider's input rate, until :meth:`stop`."""
        while chunks := await self.next_mic_chunks():
            for chunk in chunks:
                yield chunk

    def _drain_input(self) -> list[AudioChunk]:
        with self._pending_lock:
            blocks = list(self._pending)
            self._pending.clear()
            self._wakeup_scheduled = False
        pipeline = self._input
        fmt = self._format
        if pipeline is None or fmt is None:
            return []
        chunks: list[AudioChunk] = []
        echo = self._echo
        for block, stamp, adc_time in blocks:
            if block is None:
                pieces = pipeline.finish()
            else:
                if echo is not None:
                    # Before metering, resampling, gate and VAD: they must never hear the bot.
                    if adc_time is None:
                        adc_time = stamp - len(block) / pipeline.device_rate
                    block = echo.process(block, adc_time)
                pieces = pipeline.process(block)
            for pcm in pieces:
                self._seq += 1
                chunks.append(AudioChunk(pcm.tobytes(), fmt.input_sample_rate, stamp, self._seq))
        self.stats.chunks_delivered += len(chunks)
        if echo is not None:
            echo.log_now_and_then()
        return chunks

    def _push_far(self, block: npt.NDArray[np.int16], dac_time: float, rate: int) -> None:
        """A block was just handed to the speaker (``dac_time``: when it plays). Any thread.

        Backends call it from the output callback with exactly what the device
        got, silence included; it only queues (the canceller runs on the loop).
        """
        echo = self._echo
        if echo is not None:
            echo.add_reference(block, dac_time, rate)
