"""What came out of a generated conversation played to a provider, and the checks
every provider's outcome must pass.

Each provider's ``scenarios.py`` generates server sequences in its own wire
format and plays them through its fake; what comes out is the same kind of
thing for every provider (RTVI events and the audio the speaker played), so
it is read, and partly checked, the same way. Each reply's audio is a
constant sample value of its own (:func:`level`), so a reply that was never
played, or played as another one, shows up exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from rtws import RealTimeWebsocketTransport, rtvi

Json = dict[str, Any]
TurnT = TypeVar("TurnT")


def level(k: int) -> int:
    """Turn ``k``'s audio: every sample is this value."""
    return 2000 + 700 * k


def recorded(transport: RealTimeWebsocketTransport) -> list[rtvi.RTVIMessage]:
    """Every event ``transport`` emits from now on but the audio levels (a stream of noise)."""
    events: list[rtvi.RTVIMessage] = []
    transport.on("*", lambda m: events.append(m) if "audio-level" not in m.type else None)
    return events


@dataclass
class Outcome(Generic[TurnT]):
    conversation: list[TurnT]
    events: list[rtvi.RTVIMessage]
    output: np.ndarray[Any, np.dtype[np.int16]]

    def of(self, kind: str) -> list[rtvi.RTVIMessage]:
        return [e for e in self.events if e.type == kind]

    def data(self, kind: str) -> list[Json]:
        return [e.to_dict().get("data") or {} for e in self.of(kind)]

    def samples_of(self, k: int) -> int:
        """How many played samples are turn ``k``'s audio."""
        return int(np.count_nonzero(np.abs(self.output.astype(np.int32) - level(k)) <= 2))


def check_tokens(outcome: Outcome[Any]) -> None:
    """Every usage the provider reported adds up."""
    for data in outcome.data("metrics"):
        for token in data.get("tokens") or []:
            value = token["value"]
            assert value["prompt_tokens"] + value["completion_tokens"] == value["total_tokens"]


def check_quiet_after_disconnect(outcome: Outcome[Any]) -> None:
    """``disconnected`` is the last event: nothing leaks out of a closed session."""
    ends = [
        i
        for i, e in enumerate(outcome.events)
        if e.type == "transport-state-changed" and e.to_dict()["data"]["state"] == "disconnected"
    ]
    assert ends, "the transport never reached disconnected"
    assert ends[-1] == len(outcome.events) - 1, [e.type for e in outcome.events[ends[-1] :]]
