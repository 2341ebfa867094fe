"""websockets' connections, with their two per-message paths made direct.

A voice session sends 50 small frames a second and receives about 35, for as
long as it lasts, and a test fleet runs a hundred sessions in one process. On
that load the generic paths of ``websockets.asyncio`` cost more than the
protocol itself: every ``send()`` goes through two coroutines and an async
context manager (which exist for fragmented sends, closing handshakes and
write back-pressure), and every ``recv()`` through a message assembler built
for concurrent readers and streaming fragments.

:class:`StreamingConnection` (rtws's side) and :class:`StreamingServerConnection`
(the fake servers' side) keep all of websockets (handshake, TLS, proxies,
keepalive pings, closing handshake, the sans-I/O protocol) and add two
shortcuts, each falling back to the generic path whenever it cannot be exact:

- :meth:`~StreamingConnection.send_now` writes a frame straight to the socket
  when nothing could make the send wait (the socket buffer is empty), framing
  it itself in the plain case (see :func:`text_frame`);
- incoming messages go into a list the single reader drains in batches
  (:meth:`~StreamingConnection.next_messages`), one wake-up per TCP read
  rather than a coroutine round trip per frame.

Both shortcuts lean on websockets internals that are not public API
(``send_in_progress``, ``protocol.writes``, ``max_queue_high``,
``process_event``, the exception chained to ``ConnectionClosed``). They are
taken only on the websockets releases they were verified on
(:data:`FAST_PATHS`, decided once at import); on any other release the same
two methods use the public API (``send()``, one ``recv()`` per message), which
is slower but never wrong. ``tests/test_websocket.py`` runs both paths, and CI
runs it on every supported minor version (``scripts/compat.sh``).
"""

from __future__ import annotations

import asyncio
import os
import re
import struct
from typing import Any, ClassVar, Final

from websockets import State
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.connection import Connection
from websockets.asyncio.server import ServerConnection
from websockets.frames import DATA_OPCODES, CloseCode, Frame, Opcode
from websockets.protocol import Event, Side
from websockets.version import version as _websockets_version

try:  # what websockets.frames uses: its C speedup, else the pure-Python version
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets built without its C extension
    from websockets.utils import apply_mask

__all__ = [
    "FAST_PATHS",
    "MAX_FRAGMENTS",
    "WEBSOCKETS_VERSION",
    "StreamingConnection",
    "StreamingServerConnection",
    "text_frame",
]


def _release(version: str) -> tuple[int, int]:
    """``"17.4"``, ``"15.0.1"``, ``"18.0rc1"`` → ``(17, 4)``, ``(15, 0)``, ``(18, 0)``."""
    found = re.match(r"(\d+)(?:\.(\d+))?", version)
    if found is None:
        return (0, 0)
    return int(found[1]), int(found[2] or 0)


#: The installed websockets release, as (major, minor).
WEBSOCKETS_VERSION: Final = _release(_websockets_version)

#: The releases whose internals the shortcuts were checked against (same attribute
#: names, same callbacks; tests/test_websocket.py passes on each). 15.x names the send
#: lock differently; an unlisted release (17.5, 18) may change anything, so it gets the
#: public API until it is checked (CI's ws16/ws17 jobs fail when a new one appears).
VERIFIED_RELEASES: Final = frozenset(
    {(16, 0), (16, 1), (17, 0), (17, 1), (17, 2), (17, 3), (17, 4)}
)

#: Whether the shortcuts are on for the installed release.
FAST_PATHS: Final = WEBSOCKETS_VERSION in VERIFIED_RELEASES

# The exception a ConnectionClosed is chained to: renamed in 17.4 (recv_exc before).
_CAUSE_ATTR: Final = "connection_exc" if WEBSOCKETS_VERSION >= (17, 4) else "recv_exc"


def _max_fragments() -> int:
    """websockets' bound on the frames of one message (17.4+); the same default before."""
    try:
        from websockets.asyncio.messages import MAX_FRAGMENTS as limit  # type: ignore[attr-defined]
    except ImportError:  # websockets < 17.4 has no bound; the fast path applies this one
        return int(os.environ.get("WEBSOCKETS_MAX_FRAGMENTS", "4096"))
    return int(limit)


#: Frames one message may span before the connection fails with 1009.
MAX_FRAGMENTS: Final = _max_fragments()

_HEAD16 = struct.Struct("!BBH")
_HEAD64 = struct.Struct("!BBQ")
_FIN_TEXT = 0x81


def text_frame(payload: bytes, mask: bytes | None) -> bytes:
    """One unfragmented text frame, byte for byte what websockets writes (RFC 6455 §5.2).

    websockets frames a message through a ``Frame`` object, a validity check,
    a ``BytesIO`` and a ``secrets.token_bytes(4)`` system call for the mask:
    2 µs a frame, 4 % of a client's CPU at 150 sessions. Without extensions
    a text frame is a fixed header, the mask and the masked payload.
    """
    n = len(payload)
    bit = 0x80 if mask is not None else 0
    if n < 126:
        head = bytes((_FIN_TEXT, bit | n))
    elif n < 65536:
        head = _HEAD16.pack(_FIN_TEXT, bit | 126, n)
    else:
        head = _HEAD64.pack(_FIN_TEXT, bit | 127, n)
    if mask is None:
        return head + payload
    return head + mask + apply_mask(payload, mask)


class _Masks:
    """Client frame masks: 4 bytes each from a strong entropy source (RFC 6455 §5.3),
    drawn from one ``os.urandom`` call per thousand frames rather than one call each.
    One pool per process, emptied in a forked child so it never repeats its parent's."""

    __slots__ = ("_at", "_pool")
    POOL = 4096

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def next(self) -> bytes:
        at = self._at
        if at >= len(self._pool):
            self._pool = os.urandom(self.POOL)
            at = 0
        self._at = at + 4
        return self._pool[at : at + 4]

    def reset(self) -> None:
        self._pool = b""
        self._at = 0


_MASKS = _Masks()
os.register_at_fork(after_in_child=_MASKS.reset)


class _Streaming(Connection):
    """The two shortcuts, for either side of a connection (see the module docstring).

    Read with :meth:`next_messages` only: ``recv()`` and ``async for`` never
    see a message once this class has taken it.
    """

    #: The shortcuts (True) or the public API (False); a subclass may turn them off.
    fast_paths: ClassVar[bool] = FAST_PATHS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inbox: list[str | bytes] = []
        self._inbox_waiter: asyncio.Future[None] | None = None
        self._fragments: list[Frame] = []
        self._reading_paused = False
        self._fail_timer: asyncio.TimerHandle | None = None
        self._masks = _MASKS if self.protocol.side is Side.CLIENT else None

    # ---- sending
    def send_now(self, text: str) -> bool:
        """Write one text frame now, if nothing could make it wait; False means use ``send()``.

        Equivalent to ``await send(text)`` when the socket's write buffer is
        empty (``send()`` would not wait on the peer) and the connection is
        open with no fragmented send in progress. Anything else (a full
        buffer, a closing connection) goes to the generic path, which knows
        how to wait and how to fail.
        """
        protocol = self.protocol
        if (
            not self.fast_paths
            or protocol.state is not State.OPEN
            or self.send_in_progress is not None
            or self.transport.get_write_buffer_size()
        ):
            return False
        payload = text.encode()
        # asyncio's write() does not raise on a dead socket (it reports through
        # connection_lost), so neither does this.
        if protocol.extensions or protocol.debug or protocol.writes:
            # Compression, frame logging, or bytes already queued: websockets frames it.
            protocol.send_text(payload)
            self.send_data()
        else:
            masks = self._masks
            self.transport.write(text_frame(payload, masks.next() if masks else None))
        return True

    # ---- receiving
    async def next_messages(self) -> list[str | bytes]:
        """Every message received since the last call (waits for at least one).

        Raises ``ConnectionClosed`` (as ``recv()`` does) once the connection
        is closed and every message that arrived before the close was read.
        """
        if not self.fast_paths:
            return [await self.recv()]
        while not self._inbox:
            if self.connection_lost_waiter.done():
                raise self._closed_error()
            waiter = self._inbox_waiter = self.loop.create_future()
            try:
                await waiter
            finally:
                self._inbox_waiter = None
        batch, self._inbox = self._inbox, []
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()
        return batch

    def _closed_error(self) -> Exception:
        """What ``recv()`` raises once the connection is closed (``close_exc`` in 17.4+)."""
        exc = self.protocol.close_exc
        exc.__cause__ = getattr(self, _CAUSE_ATTR)
        return exc

    def _set_cause(self, exc: BaseException) -> None:
        """Chain ``exc`` to the coming ``ConnectionClosed``, unless a cause is already set."""
        if getattr(self, _CAUSE_ATTR) is None:
            setattr(self, _CAUSE_ATTR, exc)

    def process_event(self, event: Event) -> None:
        if not self.fast_paths or not isinstance(event, Frame) or event.opcode not in DATA_OPCODES:
            super().process_event(event)  # the handshake, pings, pongs, close
            return
        if not event.fin or self._fragments:
            self._fragments.append(event)
            if len(self._fragments) > MAX_FRAGMENTS:  # websockets' own limit, as recv() has it
                # Kept, not cleared: the rest of this message must not pass for a new one.
                self._fail(CloseCode.MESSAGE_TOO_BIG, "too many fragments")
                return
            if not event.fin:
                return
            first, data = self._fragments[0], b"".join(f.data for f in self._fragments)
            self._fragments = []
            opcode = first.opcode
        else:
            opcode, data = event.opcode, event.data
        if opcode is Opcode.TEXT:
            try:
                message: str | bytes = str(data, "utf-8")
            except UnicodeDecodeError as exc:
                self._set_cause(exc)
                self._fail(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
                return
        else:
            message = bytes(data)
        self._inbox.append(message)
        waiter = self._inbox_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if (
            not self._reading_paused
            and self.max_queue_high is not None
            and len(self._inbox) >= self.max_queue_high
        ):
            # The reader is behind (a slow handler): stop reading, as websockets does,
            # so the kernel's buffers and then TCP flow control hold the rest.
            self._reading_paused = True
            self.transport.pause_reading()

    def _fail(self, code: CloseCode, reason: str) -> None:
        """Fail the connection from inside ``data_received`` (what ``recv()`` would do)."""
        if self.protocol.state is State.OPEN:
            self.protocol.fail(code, reason)
            self.send_data()
            # recv() would wait close_timeout for the server's close; the reader
            # is not waiting here, so the same bound is a timer.
            if self.close_timeout is not None:
                self._fail_timer = self.loop.call_later(self.close_timeout, self.transport.abort)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._fail_timer is not None:
            self._fail_timer.cancel()
        waiter = self._inbox_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class StreamingConnection(_Streaming, ClientConnection):
    """A client connection with the shortcuts: pass it to
    ``websockets.asyncio.client.connect(create_connection=...)``."""


class StreamingServerConnection(_Streaming, ServerConnection):
    """A server connection with the shortcuts (the fake servers' side): pass it to
    ``websockets.asyncio.server.serve(create_connection=...)``."""
