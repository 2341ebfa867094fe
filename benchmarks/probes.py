"""Timestamps taken around the client, never inside the hot path it measures.

Every client kind (rtws, the bare floor, openai-agents) talks through a
``websockets`` client connection, so one :class:`WireProbe` on that connection
stamps each text frame when the library parses it off the socket and counts
the bytes both ways. :class:`SessionProbe` collects what a client reports at
its edges (a mic block available, its bytes handed to the socket, bot audio
ready for the speaker) while the measurement :class:`Window` is open.

Clocks: ``time.perf_counter`` everywhere (CLOCK_MONOTONIC on Linux, the same
clock ``AudioChunk.captured_at`` uses).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from websockets.asyncio.client import ClientConnection
from websockets.frames import Frame, Opcode

now = time.perf_counter


@dataclass
class Window:
    """The streaming window: probes record only while it is open."""

    active: bool = False
    started: float = 0.0
    ended: float = 0.0

    def open(self) -> None:
        self.started = now()
        self.active = True

    def close(self) -> None:
        self.ended = now()
        self.active = False


@dataclass
class Interruption:
    """One barge-in as a client saw it (all times perf_counter seconds)."""

    signal_at: float  # the speech_started frame was parsed off the socket
    flushed_at: float  # the speaker buffer was flushed
    last_audible_at: float  # end of the last non-zero sample written to the device after it
    audio_end_ms: int  # what the client sent in conversation.item.truncate
    played_ms: float  # samples of the item that really left the output callback
    first_delta_ms: float  # what "time since the item's first delta" would have said


@dataclass
class SessionProbe:
    window: Window
    #: (device block index, when that block was available, chunk bytes handed to the socket):
    #: the block is the one that completed the chunk (``AudioChunk.captured_at``)
    mic: list[tuple[int, float, float]] = field(default_factory=list[tuple[int, float, float]])
    #: rtws only: ms from the device block holding a chunk's last input sample to sent
    #: (adds the resampler's hold-back and chunk alignment to the pipeline's latency)
    mic_content_ms: list[float] = field(default_factory=list[float])
    #: rtws only: ms of bot audio held inside the output resampler after each delta
    out_hold_ms: list[float] = field(default_factory=list[float])
    #: (frame parsed off the socket, its audio queued for the speaker)
    rx: list[tuple[float, float]] = field(default_factory=list[tuple[float, float]])
    #: item id -> times its deltas' audio was queued for the speaker, in order
    items: dict[str, list[float]] = field(default_factory=dict[str, list[float]])
    interruptions: list[Interruption] = field(default_factory=list[Interruption])
    #: period of the ``block`` numbers given to :meth:`on_mic` (the device block, or the chunk)
    slot_s: float = 0.02
    chunks_sent: int = 0
    chunks_dropped: int = 0
    seq_gaps: int = 0
    _last_seq: int | None = None
    underruns: int = 0
    errors: list[str] = field(default_factory=list[str])

    def on_mic(self, seq: int, block: int, available: float, sent: float) -> None:
        """Chunk ``seq`` (consecutive numbers) completed by device block ``block``."""
        self.chunks_sent += 1
        if self.window.active:
            self.mic.append((block, available, sent))
            if self._last_seq is not None and seq != self._last_seq + 1:
                self.seq_gaps += seq - self._last_seq - 1
        self._last_seq = seq

    def on_audio(self, item_id: str, arrived: float | None, queued: float) -> None:
        if not self.window.active:
            return
        if arrived is not None:
            self.rx.append((arrived, queued))
        self.items.setdefault(item_id, []).append(queued)


class WireProbe:
    """Frame arrival stamps and byte counts on one ``websockets`` client connection.

    Installed on the connection object itself (its ``process_event``, ``recv``,
    ``data_received`` and its transport's ``write``), so the client code under
    test runs unchanged (a client that does not read with ``recv`` calls
    :meth:`read` for each frame it takes). A frame's arrival is matched to the frame the client
    later reads by order and length; frames parsed before the probe was
    installed simply have no stamp.
    """

    def __init__(self) -> None:
        self._arrivals: collections.deque[tuple[int, float]] = collections.deque()
        #: arrival stamp of the frame the client read last
        self.current: float | None = None
        self.bytes_up = 0
        self.bytes_down = 0
        self.frames_down = 0

    def attach(self, conn: ClientConnection) -> None:
        arrivals = self._arrivals
        process_event: Callable[[Any], None] = conn.process_event
        recv: Callable[..., Awaitable[Any]] = conn.recv
        data_received: Callable[[bytes], None] = conn.data_received
        transport: Any = conn.transport
        write: Callable[[Any], None] = transport.write

        def stamped_process_event(event: Frame) -> None:
            if event.opcode is Opcode.TEXT and event.fin:
                arrivals.append((len(event.data), now()))
            process_event(event)

        async def stamped_recv(*args: Any, **kwargs: Any) -> Any:
            frame = cast("str | bytes", await recv(*args, **kwargs))
            self.read(frame)
            return frame

        def counted_data_received(data: bytes) -> None:
            self.bytes_down += len(data)
            data_received(data)

        def counted_write(data: Any) -> None:
            self.bytes_up += len(data)
            write(data)

        setattr(conn, "process_event", stamped_process_event)  # noqa: B010
        setattr(conn, "recv", stamped_recv)  # noqa: B010
        setattr(conn, "data_received", counted_data_received)  # noqa: B010
        setattr(transport, "write", counted_write)  # noqa: B010

    def read(self, frame: str | bytes) -> None:
        """The client reads ``frame`` now: make its arrival stamp :attr:`current`.

        Called by the wrapped ``recv``; a client that reads otherwise (rtws
        drains messages in batches) calls it as it takes each frame.
        """
        self.frames_down += 1
        arrivals = self._arrivals
        if arrivals and arrivals[0][0] == len(frame):
            self.current = arrivals.popleft()[1]
        else:
            self.current = None


def schedule_lateness_ms(points: list[tuple[int, float]], period_s: float) -> list[float]:
    """How late each event of a periodic stream was, against its best-kept schedule.

    ``points`` are (index, time) of events due every ``period_s``. The schedule
    is anchored at the earliest-relative event, so a constant offset is not
    lateness but falling behind (or a stall) is.
    """
    if not points:
        return []
    offsets = [t - i * period_s for i, t in points]
    anchor = min(offsets)
    return [(o - anchor) * 1000.0 for o in offsets]
