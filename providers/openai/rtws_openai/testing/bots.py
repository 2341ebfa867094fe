"""Who answers in the fake: the :class:`Bot` protocol, its inputs and its replies.

The server owns the protocol (event order, ids, pacing, cancellation); a bot
only decides *what* to say for a :class:`Turn`. :class:`ScriptedBot` plays
back a queue of :class:`Reply` objects, which can also script failures
(an ``error`` event, a failed response, a dropped socket, a close code) at an
exact point of the stream — what reconnection and error tests need.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]
SAMPLE_RATE = 24000


def _no_audio() -> Int16Array:
    return np.zeros(0, dtype=np.int16)


@dataclass(frozen=True, eq=False)
class FunctionOutput:
    """A ``function_call_output`` item the client added since the last response."""

    call_id: str
    output: str
    name: str | None  # of the matching function_call item, when the fake knows it


@dataclass(frozen=True, eq=False)
class Turn:
    """What is new since the bot last answered, and how it must answer."""

    index: int  # 0 for the first response of the connection
    audio: Int16Array = field(default_factory=_no_audio)  # user's speech, PCM16 24 kHz
    transcript: str | None = None  # of ``audio``, when the bot (or a script) transcribed it
    text: str | None = None  # typed user messages (``conversation.item.create``)
    function_outputs: tuple[FunctionOutput, ...] = ()
    instructions: str = ""
    output_modalities: tuple[str, ...] = ("audio",)
    tools: tuple[Mapping[str, Any], ...] = ()
    #: pictures the user added (``input_image``): (mime type, image bytes), oldest first.
    images: tuple[tuple[str, bytes], ...] = ()

    @property
    def audio_seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


@dataclass(frozen=True)
class FunctionCall:
    name: str
    arguments: str = "{}"  # JSON text, streamed in several deltas
    call_id: str | None = None  # generated ("call_...") when None


@dataclass(frozen=True)
class ErrorSpec:
    """The ``error`` object of a failure the server should report."""

    message: str
    type: str = "server_error"
    code: str | None = None


@dataclass(frozen=True, eq=False)
class Reply:
    """One response. Audio is PCM16 at 24 kHz; without it the fake synthesises a stand-in.

    ``text`` is the spoken transcript (or the text, in a text-only session);
    ``calls`` follow the message as function_call items. ``error`` turns the
    response into a failure: an ``error`` event and ``response.done`` with
    status ``failed``. ``drop_after`` aborts the TCP connection (no close
    frame) after that many delta events; ``close_after`` sends a close frame
    with ``close_code``/``close_reason`` instead.
    """

    text: str = ""
    audio: Int16Array | None = None
    calls: tuple[FunctionCall, ...] = ()
    error: ErrorSpec | None = None
    drop_after: int | None = None
    close_after: int | None = None
    close_code: int = 1011
    close_reason: str = ""

    @classmethod
    def say(cls, text: str, audio: npt.ArrayLike | None = None, **kwargs: Any) -> Reply:
        pcm = None if audio is None else np.asarray(audio, dtype=np.int16).reshape(-1)
        return cls(text=text, audio=pcm, **kwargs)

    @classmethod
    def call(
        cls,
        name: str,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        call_id: str | None = None,
        text: str = "",
        **kwargs: Any,
    ) -> Reply:
        args = arguments if isinstance(arguments, str) else json.dumps(dict(arguments or {}))
        return cls(text=text, calls=(FunctionCall(name, args, call_id),), **kwargs)

    @classmethod
    def fail(cls, message: str, *, type: str = "server_error", code: str | None = None) -> Reply:
        return cls(error=ErrorSpec(message, type, code))


class Bot(Protocol):
    """Answers a turn. May be slow (it runs while the response is already ``in_progress``)."""

    async def respond(self, turn: Turn) -> Reply: ...


@runtime_checkable
class Transcriber(Protocol):
    """A bot that can also transcribe the user's audio (input_audio_transcription)."""

    async def transcribe(self, audio: Int16Array) -> str | None: ...


class ScriptedBot:
    """Replies from a queue; when it runs dry, ``default`` (a short spoken "OK.")."""

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        *,
        transcripts: Iterable[str] = (),
        default: Reply | None = None,
    ) -> None:
        self.replies: deque[Reply] = deque(replies)
        self.transcripts: deque[str] = deque(transcripts)
        self.default = default or Reply.say("OK.")
        self.turns: list[Turn] = []

    def add(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def respond(self, turn: Turn) -> Reply:
        self.turns.append(turn)
        return self.replies.popleft() if self.replies else self.default

    async def transcribe(self, audio: Int16Array) -> str | None:
        return self.transcripts.popleft() if self.transcripts else None


def stand_in_speech(text: str, sample_rate: int = SAMPLE_RATE) -> Int16Array:
    """Speech-like audio for a reply without recorded audio: one tone burst per syllable-ish.

    About 65 ms per character (0.3 s at least), loud enough for level meters and
    VADs, with pitch moving per burst so it is not a flat tone.
    """
    seconds = min(max(0.3, 0.065 * len(text)), 30.0)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    burst = 0.18
    index = np.floor(t / burst)
    pitch = 140.0 + 40.0 * np.sin(index * 1.7)
    phase = (t % burst) / burst
    envelope = np.sin(np.pi * phase) ** 2
    signal = 0.3 * envelope * (np.sin(2 * np.pi * pitch * t) + 0.5 * np.sin(4 * np.pi * pitch * t))
    return (signal * 32767 / 1.5).astype(np.int16)
