"""What the fake says: scriptable replies, and the conversation state a resumption restores.

A test scripts replies with :meth:`FakeGeminiServer.script`; unscripted turns
get :func:`default_reply`, which numbers its answers from the conversation's
own count, so after a resume "reply 3" proves the server state came back.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

OUTPUT_RATE = 24000
_call_ids = itertools.count(1)


@dataclass(slots=True)
class ToolCall:
    """A function call the fake makes before speaking; the reply waits for its result."""

    name: str
    args: dict[str, Any] = field(default_factory=dict[str, Any])
    id: str = field(default_factory=lambda: f"function-call-{next(_call_ids)}")


@dataclass(slots=True)
class Reply:
    """One model turn.

    Args:
        text: what the bot says (``outputTranscription``; text parts in TEXT mode).
            ``{results}`` is replaced by the tool results as JSON.
        audio: the reply's PCM16 at 24 kHz; ``None`` synthesises a tone as
            long as the text would take to say.
        heard: what the fake claims the user said this turn (``inputTranscription``).
        chunk_ms: audio per ``inlineData`` part.
        parts_per_message: ``inlineData`` parts in one ``serverContent.modelTurn``.
        tool_calls: calls made first; the reply is spoken once all are answered.
        blocked: a ``turnCompleteReason`` (e.g. ``"GENERATED_AUDIO_SAFETY"``): a
            safety filter stops the reply, which ends with no content.
    """

    text: str = ""
    audio: npt.NDArray[np.int16] | None = None
    heard: str | None = None
    chunk_ms: float = 40.0
    parts_per_message: int = 1
    tool_calls: list[ToolCall] = field(default_factory=list[ToolCall])
    blocked: str | None = None


@dataclass(slots=True)
class Conversation:
    """The server-side state of one Live session; resumption handles point at snapshots of it."""

    id: str
    turns: list[dict[str, str]] = field(default_factory=list[dict[str, str]])
    replies: int = 0
    tool_results: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])

    def snapshot(self) -> Conversation:
        return copy.deepcopy(self)

    def transcript(self) -> list[str]:
        return [f"{t['role']}: {t['text']}" for t in self.turns]


def default_reply(conversation: Conversation, heard: str) -> Reply:
    number = conversation.replies + 1
    return Reply(text=f"This is reply {number}. You said: {heard}.", heard=heard)


def speech_like_tone(seconds: float, rate: int = OUTPUT_RATE) -> npt.NDArray[np.int16]:
    """An audible stand-in for speech: a gliding tone with syllable-like loudness."""
    n = max(1, int(seconds * rate))
    t = np.arange(n) / rate
    pitch = 180.0 + 60.0 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t) ** 2
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)
    return (0.4 * 32767 * envelope * fade * np.sin(phase)).astype(np.int16)


def audio_for(reply: Reply) -> npt.NDArray[np.int16]:
    if reply.audio is not None:
        return reply.audio
    seconds = min(3.0, max(0.4, 0.06 * len(reply.text)))
    return speech_like_tone(seconds)
