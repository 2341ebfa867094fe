"""The state machine: every legal path, and illegal moves raise."""

from __future__ import annotations

import pytest

from rtws import IllegalTransition, TransportState
from rtws.state import TRANSITIONS, StateMachine

S = TransportState


def test_values_are_exactly_the_contract() -> None:
    assert [s.value for s in S] == [
        "disconnected",
        "initializing",
        "initialized",
        "authenticating",
        "authenticated",
        "connecting",
        "connected",
        "ready",
        "disconnecting",
        "error",
    ]
    assert S("ready") is S.READY
    assert S.READY == "ready"


@pytest.mark.parametrize(
    "path",
    [
        [
            S.INITIALIZING,
            S.INITIALIZED,
            S.AUTHENTICATING,
            S.AUTHENTICATED,
            S.CONNECTING,
            S.CONNECTED,
            S.READY,
            S.DISCONNECTING,
            S.DISCONNECTED,
        ],
        [S.CONNECTING, S.CONNECTED, S.READY, S.DISCONNECTING, S.DISCONNECTED],
        [S.AUTHENTICATING, S.AUTHENTICATED, S.CONNECTING, S.ERROR, S.CONNECTING],
        [S.CONNECTING, S.CONNECTED, S.READY, S.CONNECTING, S.CONNECTED, S.READY],
        [S.INITIALIZING, S.ERROR, S.DISCONNECTING, S.DISCONNECTED],
    ],
)
def test_legal_paths(path: list[TransportState]) -> None:
    seen: list[tuple[TransportState, TransportState]] = []
    machine = StateMachine(lambda new, old: seen.append((old, new)))
    for state in path:
        machine.move_to(state)
    assert machine.state is path[-1]
    assert [new for _, new in seen] == path
    assert seen[0][0] is S.DISCONNECTED


def test_every_illegal_move_raises() -> None:
    for start, allowed in TRANSITIONS.items():
        for target in S:
            machine = StateMachine(initial=start)
            if target in allowed:
                machine.move_to(target)
                assert machine.state is target
            else:
                with pytest.raises(IllegalTransition, match=f"{start} -> {target}"):
                    machine.move_to(target)
                assert machine.state is start


def test_failure_reachable_from_every_busy_state() -> None:
    busy = set(S) - {S.DISCONNECTED, S.ERROR}  # every state a session is in on its way
    for state in busy:
        assert S.ERROR in TRANSITIONS[state], state
    for state in busy - {S.DISCONNECTING}:
        assert S.DISCONNECTING in TRANSITIONS[state], state
