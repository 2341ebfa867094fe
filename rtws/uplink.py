"""The mic path: captured chunks → the provider, in order, each exactly once.

Devices start before the session is ``ready`` and keep capturing through a
reconnect. Chunks captured meanwhile are *held* (up to
``options.reconnect_hold_ms``) and sent first once the session is ready, so
the first words, and words spoken through a connection reset, are not lost;
beyond that bound the oldest are dropped and counted in ``stats``.

The session tells the uplink what to do with a chunk — :meth:`MicUplink.hold`,
:meth:`~MicUplink.open`, :meth:`~MicUplink.close` — so the pump reads one
flag per chunk instead of asking the state machine and a reconnect flag.
It does not care whose socket carries the audio: a provider that owns its
connection gets the same held and live chunks as one using ``open_websocket``.
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable

from .audio import level
from .dispatch import TransportStats
from .errors import RTWSError
from .media.base import AudioChunk, MediaManager
from .options import TransportOptions
from .redact import get_logger

log = get_logger("rtws.uplink")

#: What the pump does with a chunk.
DROP, HOLD, SEND = "drop", "hold", "send"


class MicUplink:
    """Pumps mic chunks to ``send`` (the provider's ``handle_user_audio_stream``)."""

    def __init__(
        self,
        options: TransportOptions,
        stats: TransportStats,
        bot_speaking: Callable[[], bool],
    ) -> None:
        self._send: Callable[[AudioChunk], Awaitable[None]] = _not_running
        self._options = options
        self._stats = stats
        self._bot_speaking = bot_speaking
        self._held: collections.deque[AudioChunk] = collections.deque()
        self._mode = DROP
        #: SEND with nothing held: the steady state, the one flag the pump reads per chunk.
        self._live = False

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def held(self) -> int:
        """Chunks waiting for the session."""
        return len(self._held)

    def hold(self) -> None:
        """The session is (re)opening: keep what the user says for it."""
        self._mode, self._live = HOLD, False

    def open(self) -> None:
        """The session is ready: held chunks go first, then live ones."""
        self._mode = SEND
        self._live = not self._held

    def close(self) -> None:
        """No session any more: held audio is dropped (and counted), new chunks too."""
        self._mode, self._live = DROP, False
        self._stats.chunks_dropped_reconnecting += len(self._held)
        self._held.clear()

    async def run(self, media: MediaManager, send: Callable[[AudioChunk], Awaitable[None]]) -> None:
        """The session task: chunks to ``send`` until the media stops."""
        stats = self._stats
        self._send = send
        while True:
            chunks = media.take_mic_chunks()
            if not chunks:
                if not media.is_running:
                    return
                await media.mic_wakeup()
                continue
            gated = self._options.echo_gate_level is not None
            for chunk in chunks:
                if self._live:
                    # The steady state: one flag read, one call per chunk. A socket that
                    # closed under a ready session fails this send, which counts the
                    # chunk as dropped: cheaper than asking the socket first.
                    try:
                        await send(self._echo_gate(chunk) if gated else chunk)
                    except RTWSError as exc:
                        stats.chunks_dropped_not_ready += 1
                        log.debug("mic chunk not sent: %s", exc)
                    else:
                        stats.chunks_sent += 1
                elif self._mode is HOLD:
                    self._hold(chunk)
                elif self._mode is SEND:
                    await self._send_behind_held(chunk)
                else:
                    stats.chunks_dropped_not_ready += 1

    def _hold(self, chunk: AudioChunk) -> None:
        hold_max = max(1, round(self._options.reconnect_hold_ms / self._options.chunk_ms))
        if len(self._held) >= hold_max:
            self._held.popleft()
            self._stats.chunks_dropped_reconnecting += 1
        self._held.append(chunk)

    async def _send_behind_held(self, chunk: AudioChunk) -> None:
        held = self._held
        while held:
            if not await self._send_one(self._echo_gate(held[0]), held=True):
                # The socket failed under the backlog: the new chunk waits behind it, in
                # order, for the next resume (the hold bound applies next time).
                held.append(chunk)
                return
            held.popleft()
        self._live = self._mode is SEND
        await self._send_one(self._echo_gate(chunk))

    async def _send_one(self, chunk: AudioChunk, *, held: bool = False) -> bool:
        try:
            await self._send(chunk)
        except RTWSError as exc:
            # A closed socket shows up here first; the receive loop owns recovery.
            # A held chunk stays held (sent after the resume), so it is not a drop.
            if not held:
                self._stats.chunks_dropped_not_ready += 1
            log.debug("mic chunk not sent: %s", exc)
            return False
        self._stats.chunks_sent += 1
        return True

    def _echo_gate(self, chunk: AudioChunk) -> AudioChunk:
        """Half-duplex gate against laptop-speaker echo (``options.echo_gate_level``).

        While the bot is audible, mic chunks quieter than the gate level are sent
        as silence: the bot's own voice leaking into the mic cannot trigger the
        server's barge-in, a user speaking up still can. Silence rather than
        nothing keeps the server's audio clock and VAD timing intact.
        """
        gate = self._options.echo_gate_level
        if gate is None or not self._bot_speaking() or level(chunk.samples) >= gate:
            return chunk
        self._stats.chunks_gated += 1
        return AudioChunk(bytes(len(chunk.pcm)), chunk.sample_rate, chunk.captured_at, chunk.seq)


async def _not_running(chunk: AudioChunk) -> None:
    raise RuntimeError("the mic uplink is not running")
