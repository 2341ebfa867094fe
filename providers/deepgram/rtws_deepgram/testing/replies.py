"""What the fake agent says: scriptable replies, function calls, and what each connection did.

A test queues replies with :meth:`FakeDeepgramAgent.script`; unscripted
turns get :func:`default_reply` ("You said: ..."). A reply may make
function calls first (``FunctionCallRequest``) and speak only once the
client answered them all; ``{results}`` in its text is replaced by the
answers' ``content``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from rtws.testing.records import ConnectionRecord as BaseRecord

Int16Array = npt.NDArray[np.int16]
_call_ids = itertools.count(1)


@dataclass(slots=True)
class FunctionCall:
    """A call the agent asks the client to run (a function declared in ``Settings``)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict[str, Any])
    id: str = field(default_factory=lambda: f"call_{next(_call_ids):04d}")


@dataclass(slots=True)
class Reply:
    """One agent turn.

    Args:
        text: what the agent says (``ConversationText``, role ``assistant``).
        audio: PCM16 mono at the session's output rate; ``None``: the fake's
            voice says ``text`` (a speech-like tone in tests).
        heard: for a spoken user turn, the words the fake claims it heard
            (``ConversationText``, role ``user``).
        think: an ``AgentThinking`` thought sent before the reply.
        calls: function calls made first; the reply waits for every answer.
    """

    text: str = ""
    audio: Int16Array | None = None
    heard: str | None = None
    think: str | None = None
    calls: list[FunctionCall] = field(default_factory=list[FunctionCall])


def default_reply(heard: str) -> Reply:
    said = heard.strip().rstrip(".!?")
    return Reply(text=f"You said: {said}." if said else "I did not catch that.")


@dataclass
class ConnectionRecord(BaseRecord):
    """Everything one connection did, for tests to inspect (credentials masked)."""

    subprotocol: str | None = None
    received: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    #: Every binary frame the client sent, in order (mic PCM16 at ``input_rate``).
    audio_in: bytearray = field(default_factory=bytearray)
    #: Every binary frame the fake sent (agent PCM16 at ``output_rate``).
    audio_out: bytearray = field(default_factory=bytearray)
    input_rate: int = 0
    output_rate: int = 0
    settings: dict[str, Any] | None = None
    keepalives: int = 0

    def of_type(self, kind: str, *, sent: bool = True) -> list[dict[str, Any]]:
        """The JSON messages of ``kind`` the fake sent (or, ``sent=False``, received)."""
        return [m for m in (self.sent if sent else self.received) if m.get("type") == kind]
