"""The GA wire format in small pure functions: client events out, errors and usage in.

Kept out of the transport so it reads as a translation table, and so tests
can check every payload against the ``openai`` SDK's models directly.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections import OrderedDict
from typing import Any

from rtws import safejson
from rtws.errors import (
    AuthenticationError,
    ConnectionFailed,
    ConnectionLost,
    ProtocolError,
    ProviderError,
    RTWSError,
)

Event = dict[str, Any]

#: ``error.code``/``error.type`` values that mean the credentials are bad: never retried.
AUTH_ERRORS = frozenset(
    {
        "invalid_api_key",
        "invalid_authentication",
        "authentication_error",
        "unauthorized",
        "invalid_client_secret",
        "expired_client_secret",
        "permission_denied",
    }
)
#: Codes after which this account gets nothing more out of any session.
ACCOUNT_ERRORS = frozenset(
    {"insufficient_quota", "billing_hard_limit_reached", "account_deactivated"}
)
#: Races the provider creates on purpose (cancelling a response that just ended).
BENIGN_ERRORS = frozenset({"response_cancel_not_active"})
#: The server ends the session after these; a reconnect starts a fresh one.
SESSION_END_ERRORS = frozenset({"session_expired"})

#: Server events with nothing to translate (listed so they do not count as unknown).
IGNORED_EVENTS = (
    "conversation.created", "conversation.item.added", "conversation.item.created",
    "conversation.item.done", "conversation.item.truncated", "conversation.item.deleted",
    "conversation.item.retrieved", "conversation.item.input_audio_transcription.segment",
    "input_audio_buffer.cleared",
    "input_audio_buffer.timeout_triggered", "response.content_part.added",
    "response.content_part.done", "response.output_item.done",
    "response.function_call_arguments.delta", "rate_limits.updated",
    "output_audio_buffer.started", "output_audio_buffer.stopped", "output_audio_buffer.cleared",
)  # fmt: skip


# ---------------------------------------------------------------- client events
class Outbox:
    """Numbers client events, and remembers the last few so an ``error`` can name its cause."""

    def __init__(self, keep: int = 64) -> None:
        self._ids = itertools.count(1)
        self._keep = keep
        #: event id -> type: the type is all an error needs, and keeping whole events
        #: (a session.update is a tree of a dozen dicts) would be memory the GC walks
        self._sent: OrderedDict[str, str] = OrderedDict()

    def stamp(self, event: Event) -> Event:
        event_id = f"rtws_{next(self._ids)}"
        self._sent[event_id] = str(event["type"])
        while len(self._sent) > self._keep:
            self._sent.popitem(last=False)
        return {**event, "event_id": event_id}

    def refused(self, error: Event) -> str | None:
        """The type of the client event an ``error`` refers to, when it was ours."""
        return self._sent.get(str(error.get("event_id")))

    def clear(self) -> None:
        self._sent.clear()


def append_audio(pcm: bytes) -> Event:
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode("ascii")}


def append_audio_json(pcm: bytes) -> str:
    """:func:`append_audio` as JSON text, pasted rather than encoded (the mic's hot path:
    base64 needs no JSON escaping, and the encoder would scan every character)."""
    return '{"type":"input_audio_buffer.append","audio":"' + base64.b64encode(pcm).decode() + '"}'


def truncate(item_id: str, audio_end_ms: int, content_index: int = 0) -> Event:
    return {
        "type": "conversation.item.truncate",
        "item_id": item_id,
        "content_index": content_index,
        "audio_end_ms": max(0, audio_end_ms),
    }


def cancel(response_id: str | None) -> Event:
    event: Event = {"type": "response.cancel"}
    if response_id:
        event["response_id"] = response_id
    return event


def message(role: str, content: Event) -> Event:
    """A ``message`` item with one content part, added to the conversation."""
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": role, "content": [content]},
    }


def user_text(text: str) -> Event:
    return message("user", {"type": "input_text", "text": text})


def assistant_text(text: str) -> Event:
    """A reply from an earlier session, replayed as text to restore context after a reconnect."""
    return message("assistant", {"type": "output_text", "text": text})


def function_output(call_id: str, result: Any) -> Event:
    return {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": call_id, "output": output_text(result)},
    }


def output_text(result: Any) -> str:
    """A function's result as the string ``function_call_output.output`` carries."""
    return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)


def function_call(call_id: str, name: str, arguments: str) -> Event:
    """An earlier session's function call, replayed (its output follows it)."""
    return {
        "type": "conversation.item.create",
        "item": {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments},
    }


def replayed(turn_role: str, text: str, name: str, call_id: str) -> Event:
    """One kept conversation item as the ``conversation.item.create`` that restores it."""
    if turn_role == "user":
        return user_text(text)
    if turn_role == "assistant":
        return assistant_text(text)
    if turn_role == "function_call":
        return function_call(call_id, name, text)
    return function_output(call_id, text)


def response_create(text_only: bool = False) -> Event:
    event: Event = {"type": "response.create"}
    if text_only:
        event["response"] = {"output_modalities": ["text"]}
    return event


# ---------------------------------------------------------------- server → rtws
def audio_pcm(delta: str) -> bytes:
    """An audio delta's PCM16: strict base64, validated in C, of whole samples (refused
    here, not deep in the playout path as numpy's "multiple of element size")."""
    pcm = binascii.a2b_base64(delta, strict_mode=True)
    if len(pcm) % 2:
        raise ProtocolError("OpenAI sent audio that is not whole PCM16 samples")
    return pcm


def part(event: Event, key: str) -> Event:
    """``event[key]`` when it is an object, else an empty one (absent or null fields)."""
    value = event.get(key)
    return value if isinstance(value, dict) else {}  # pyright: ignore[reportUnknownVariableType]


def arguments(raw: str) -> dict[str, Any] | None:
    """Function-call arguments (a JSON object in a string); None when they are not one."""
    try:
        value: Any = safejson.loads(raw)  # a ValueError, never a RecursionError, if too deep
    except ValueError:
        return None
    return value if isinstance(value, dict) else None  # pyright: ignore[reportUnknownVariableType]


def describe(error: Event) -> str:
    code = error.get("code") or error.get("type") or "error"
    message = error.get("message") or "no message"
    param = error.get("param")
    return f"{message} ({code}{', param ' + str(param) if param else ''})"


def error_kind(error: Event) -> str:
    """``auth``, ``account``, ``session_end``, ``benign`` or ``request`` (the session goes on)."""
    keys = {error.get("code"), error.get("type")}
    if keys & AUTH_ERRORS:
        return "auth"
    if keys & ACCOUNT_ERRORS:
        return "account"
    if keys & SESSION_END_ERRORS:
        return "session_end"
    if keys & BENIGN_ERRORS:
        return "benign"
    return "request"


def error_exception(error: Event, during: str = "") -> RTWSError:
    """The exception an ``error`` event stands for (what ``connect()`` raises, or a close means)."""
    text = f"OpenAI {during + ': ' if during else ''}{describe(error)}"
    kind = error_kind(error)
    if kind == "auth":
        return AuthenticationError(
            f"{text}. Check the API key (or token) in the options or environment."
        )
    if kind == "account":
        return ConnectionFailed(f"{text}. Check the account's plan and billing.", retryable=False)
    if kind == "session_end":
        return ConnectionLost(f"{text}; starting a new session", retryable=True)
    return ProviderError(text, code=error.get("code"), fatal=bool(during))


def token_usage(usage: Event) -> dict[str, int]:
    """``response.usage`` in the RTVI/pipecat token-metrics vocabulary."""
    value = {
        "prompt_tokens": int(usage.get("input_tokens") or 0),
        "completion_tokens": int(usage.get("output_tokens") or 0),
        "total_tokens": int(usage.get("total_tokens") or 0),
    }
    cached = part(usage, "input_token_details").get("cached_tokens")
    if cached:
        value["cache_read_input_tokens"] = int(cached)
    return value
