"""The typed events a provider translates its wire messages into.

A provider's receive handlers decode a server message and hand one of these
to :meth:`rtws.RealTimeWebsocketTransport.feed` (or call the helper of the
same meaning, e.g. ``play_bot_audio``); :class:`~rtws.conversation.Conversation`
turns them into RTVI events and speaker commands. They are slotted
dataclasses: one small allocation per frame on the audio path, no dict.

``reply_id`` is the wire's id of the bot reply (OpenAI's ``response_id``)
when the protocol has one, else None: the conversation then tracks replies
itself (see :class:`~rtws.conversation.Conversation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class UserSpeechStarted:
    """The user started talking. ``interrupt=False`` when talking over the bot is allowed."""

    interrupt: bool = True


@dataclass(slots=True)
class UserSpeechStopped:
    """The user's turn ended. ``start_clock=False`` when learnt only from the reply itself."""

    start_clock: bool = True


@dataclass(slots=True)
class UserTranscript:
    """Words of the user: a delta (``final=False``) or the whole utterance (``final=True``;
    empty text then means "what the deltas said"). ``item_id`` keys one utterance."""

    text: str
    final: bool = False
    item_id: str | None = None


@dataclass(slots=True)
class ReplyStarted:
    """The server started a new bot reply (a response, a model turn)."""

    reply_id: str | None = None


@dataclass(slots=True)
class BotAudio:
    """PCM16 mono at the provider's output rate. ``item_id``: the playback item, when the
    protocol truncates by item (defaults to the reply)."""

    pcm: bytes
    reply_id: str | None = None
    item_id: str | None = None


@dataclass(slots=True)
class AudioDone:
    """The reply sent all its audio: the tail plays out; id-less audio after it is a new reply."""

    reply_id: str | None = None
    item_id: str | None = None


@dataclass(slots=True)
class BotText:
    """A delta of the bot's words: its speech transcript (``spoken``) or written output."""

    text: str
    spoken: bool = True
    reply_id: str | None = None


@dataclass(slots=True)
class BotTextDone:
    """The whole text of a reply's output part (used only when no delta carried it)."""

    text: str
    spoken: bool = True
    reply_id: str | None = None


@dataclass(slots=True)
class ReplyDone:
    """The reply is over (finished, cancelled or interrupted: the server says no more)."""

    reply_id: str | None = None


@dataclass(slots=True)
class FunctionCallStarted:
    """The model began a function call (its arguments may still be streaming)."""

    call_id: str
    name: str
    reply_id: str | None = None


@dataclass(slots=True)
class FunctionCallArguments:
    """A function call's arguments are complete (None: they were not a JSON object)."""

    call_id: str
    name: str
    arguments: dict[str, Any] | None
    reply_id: str | None = None


@dataclass(slots=True)
class FunctionCallCancelled:
    """The server withdrew a function call; its result must not be sent."""

    call_id: str


@dataclass(slots=True)
class Usage:
    """Token counts of one reply or turn (the ``tokens`` metric)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int | None = None
    processor: str | None = None
    model: str | None = None
    cache_read_input_tokens: int | None = None


@dataclass(slots=True)
class ServerError:
    """The server reported an error; ``fatal`` ends the session."""

    message: str
    fatal: bool = False


ProviderEvent = (
    UserSpeechStarted
    | UserSpeechStopped
    | UserTranscript
    | ReplyStarted
    | BotAudio
    | AudioDone
    | BotText
    | BotTextDone
    | ReplyDone
    | FunctionCallStarted
    | FunctionCallArguments
    | FunctionCallCancelled
    | Usage
    | ServerError
)
