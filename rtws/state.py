"""The transport's lifecycle as an explicit state machine.

Keeping the legal transitions in one table makes an impossible sequence (say,
``ready`` straight after ``disconnected``) a loud bug instead of a silent
mystery, and lets tests enumerate every path.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from .errors import IllegalTransition


class TransportState(StrEnum):
    """The ten states of a transport; the values are the wire/RTVI names."""

    DISCONNECTED = "disconnected"
    INITIALIZING = "initializing"
    INITIALIZED = "initialized"
    AUTHENTICATING = "authenticating"
    AUTHENTICATED = "authenticated"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    READY = "ready"
    DISCONNECTING = "disconnecting"
    ERROR = "error"


S = TransportState

#: Every legal move. ``error`` and ``disconnecting`` are reachable from every
#: busy state because failures and user disconnects can happen at any await.
#: ``ready``/``connected`` → ``authenticating``/``connecting`` is a reconnect.
TRANSITIONS: dict[TransportState, frozenset[TransportState]] = {
    # disconnected → error: a connect() whose very first step (initialize_llm) failed.
    S.DISCONNECTED: frozenset({S.INITIALIZING, S.AUTHENTICATING, S.CONNECTING, S.ERROR}),
    S.INITIALIZING: frozenset({S.INITIALIZED, S.ERROR, S.DISCONNECTING}),
    S.INITIALIZED: frozenset({S.AUTHENTICATING, S.CONNECTING, S.DISCONNECTING, S.ERROR}),
    S.AUTHENTICATING: frozenset({S.AUTHENTICATED, S.ERROR, S.DISCONNECTING}),
    S.AUTHENTICATED: frozenset({S.CONNECTING, S.ERROR, S.DISCONNECTING}),
    S.CONNECTING: frozenset({S.CONNECTED, S.AUTHENTICATING, S.ERROR, S.DISCONNECTING}),
    S.CONNECTED: frozenset({S.READY, S.AUTHENTICATING, S.CONNECTING, S.ERROR, S.DISCONNECTING}),
    S.READY: frozenset({S.AUTHENTICATING, S.CONNECTING, S.ERROR, S.DISCONNECTING}),
    S.DISCONNECTING: frozenset({S.DISCONNECTED, S.ERROR}),
    S.ERROR: frozenset(
        {S.DISCONNECTED, S.DISCONNECTING, S.INITIALIZING, S.AUTHENTICATING, S.CONNECTING}
    ),
}

#: States in which a session (socket and media) may be open.
ACTIVE_STATES = frozenset({S.AUTHENTICATING, S.AUTHENTICATED, S.CONNECTING, S.CONNECTED, S.READY})


class StateMachine:
    """Holds the current state and refuses illegal moves.

    ``on_change(new, previous)`` runs synchronously on every change, so an
    observer never misses an intermediate state.
    """

    def __init__(
        self,
        on_change: Callable[[TransportState, TransportState], None] | None = None,
        initial: TransportState = S.DISCONNECTED,
    ) -> None:
        self._state = initial
        self._on_change = on_change

    @property
    def state(self) -> TransportState:
        return self._state

    def can_move_to(self, new: TransportState) -> bool:
        return new in TRANSITIONS[self._state]

    def move_to(self, new: TransportState) -> TransportState:
        """Change state and notify; returns the previous state."""
        previous = self._state
        if new not in TRANSITIONS[previous]:
            raise IllegalTransition(f"illegal transport state change {previous} -> {new}")
        self._state = new
        if self._on_change is not None:
            self._on_change(new, previous)
        return previous
