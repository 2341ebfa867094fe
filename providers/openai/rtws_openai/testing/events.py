"""Builders of GA server events and the objects inside them (items, responses, usage).

Each builder returns exactly the fields the ``openai`` SDK's server-event model
declares (``openai.types.realtime``), with the ids the service uses
(``event_...``, ``item_...``, ``resp_...``, ``call_...``). The tests validate
every event the fake sends against those models, extras included.
"""

from __future__ import annotations

import itertools
import json
import random
import string
from typing import Any, Literal

Json = dict[str, Any]
ItemStatus = Literal["completed", "incomplete", "in_progress"]

_ALPHABET = string.ascii_letters + string.digits


#: Ids are a random per-process part and a counter, both base62-looking.
_ID_ROOT = "".join(random.choices(_ALPHABET, k=9))
_ID_COUNTER = itertools.count(1)


def new_id(prefix: str) -> str:
    """An id like the service's (``event_C9G5RJeJ2gF77mV7f2B1j``): prefix + 21 base62 chars.

    Ids only need to be unique and look right, not be unguessable: a random
    root and a counter cost a fraction of a microsecond, where 21 random
    characters per event used a noticeable part of the fake's CPU in a fleet.
    """
    return f"{prefix}_{_ID_ROOT}{next(_ID_COUNTER):012d}"


def event(type_: str, **fields: Any) -> Json:
    return {"type": type_, "event_id": new_id("event"), **fields}


# ------------------------------------------------------------------ errors
def error(
    message: str,
    *,
    type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    event_id: str | None = None,
) -> Json:
    """``error``; ``event_id`` inside names the client event that caused it, if it had one."""
    return event(
        "error",
        error={
            "type": type,
            "code": code,
            "message": message,
            "param": param,
            "event_id": event_id,
        },
    )


# ------------------------------------------------------------------ session
def session_created(session: Json) -> Json:
    return event("session.created", session=session)


def session_updated(session: Json) -> Json:
    return event("session.updated", session=session)


# ------------------------------------------------------------------ input audio buffer
def speech_started(audio_start_ms: int, item_id: str) -> Json:
    return event(
        "input_audio_buffer.speech_started", audio_start_ms=audio_start_ms, item_id=item_id
    )


def speech_stopped(audio_end_ms: int, item_id: str) -> Json:
    return event("input_audio_buffer.speech_stopped", audio_end_ms=audio_end_ms, item_id=item_id)


def committed(item_id: str, previous_item_id: str | None) -> Json:
    return event("input_audio_buffer.committed", previous_item_id=previous_item_id, item_id=item_id)


def cleared() -> Json:
    return event("input_audio_buffer.cleared")


# ------------------------------------------------------------------ conversation items
def user_audio_item(item_id: str, transcript: str | None = None) -> Json:
    return {
        "id": item_id,
        "type": "message",
        "object": "realtime.item",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": transcript}],
    }


def assistant_item(item_id: str, status: ItemStatus, content: list[Json]) -> Json:
    return {
        "id": item_id,
        "type": "message",
        "object": "realtime.item",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def function_call_item(
    item_id: str, status: ItemStatus, name: str, call_id: str, arguments: str
) -> Json:
    return {
        "id": item_id,
        "type": "function_call",
        "object": "realtime.item",
        "status": status,
        "name": name,
        "call_id": call_id,
        "arguments": arguments,
    }


def item_added(item: Json, previous_item_id: str | None) -> Json:
    return event("conversation.item.added", previous_item_id=previous_item_id, item=item)


def item_done(item: Json, previous_item_id: str | None) -> Json:
    return event("conversation.item.done", previous_item_id=previous_item_id, item=item)


def item_truncated(item_id: str, content_index: int, audio_end_ms: int) -> Json:
    return event(
        "conversation.item.truncated",
        item_id=item_id,
        content_index=content_index,
        audio_end_ms=audio_end_ms,
    )


def item_deleted(item_id: str) -> Json:
    return event("conversation.item.deleted", item_id=item_id)


def item_retrieved(item: Json) -> Json:
    return event("conversation.item.retrieved", item=item)


def transcription_delta(item_id: str, delta: str) -> Json:
    return event(
        "conversation.item.input_audio_transcription.delta",
        item_id=item_id,
        content_index=0,
        delta=delta,
    )


def transcription_completed(item_id: str, transcript: str, audio_ms: float) -> Json:
    audio_tokens = max(1, round(audio_ms / 100))
    text_tokens = max(1, round(len(transcript) / 4)) if transcript else 0
    return event(
        "conversation.item.input_audio_transcription.completed",
        item_id=item_id,
        content_index=0,
        transcript=transcript,
        usage={
            "type": "tokens",
            "total_tokens": audio_tokens + text_tokens,
            "input_tokens": audio_tokens,
            "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
            "output_tokens": text_tokens,
        },
    )


def transcription_failed(item_id: str, message: str) -> Json:
    return event(
        "conversation.item.input_audio_transcription.failed",
        item_id=item_id,
        content_index=0,
        error={"type": "transcription_error", "code": None, "message": message, "param": None},
    )


# ------------------------------------------------------------------ responses
def usage(*, input_text: int, input_audio: int, output_text: int, output_audio: int) -> Json:
    """Token usage as ``response.done`` reports it (the fake's counts are estimates)."""
    inputs = input_text + input_audio
    outputs = output_text + output_audio
    return {
        "total_tokens": inputs + outputs,
        "input_tokens": inputs,
        "output_tokens": outputs,
        "input_token_details": {
            "text_tokens": input_text,
            "audio_tokens": input_audio,
            "image_tokens": 0,
            "cached_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": output_text, "audio_tokens": output_audio},
    }


def response_object(
    response_id: str,
    *,
    status: Literal["in_progress", "completed", "cancelled", "failed", "incomplete"],
    conversation_id: str | None,
    output_modalities: list[str],
    max_output_tokens: int | str,
    audio_output: Json,
    output: list[Json] | None = None,
    status_details: Json | None = None,
    usage: Json | None = None,
    metadata: dict[str, str] | None = None,
) -> Json:
    return {
        "object": "realtime.response",
        "id": response_id,
        "status": status,
        "status_details": status_details,
        "output": output or [],
        "conversation_id": conversation_id,
        "output_modalities": output_modalities,
        "max_output_tokens": max_output_tokens,
        "audio": {"output": audio_output},
        "usage": usage,
        "metadata": metadata,
    }


def response_created(response: Json) -> Json:
    return event("response.created", response=response)


def response_done(response: Json) -> Json:
    return event("response.done", response=response)


def rate_limits_updated(remaining_tokens: int) -> Json:
    return event(
        "rate_limits.updated",
        rate_limits=[
            {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
            {
                "name": "tokens",
                "limit": 400000,
                "remaining": remaining_tokens,
                "reset_seconds": 0.5,
            },
        ],
    )


def output_item_added(response_id: str, output_index: int, item: Json) -> Json:
    return event(
        "response.output_item.added", response_id=response_id, output_index=output_index, item=item
    )


def output_item_done(response_id: str, output_index: int, item: Json) -> Json:
    return event(
        "response.output_item.done", response_id=response_id, output_index=output_index, item=item
    )


def _part_event(type_: str, where: Json, part: Json) -> Json:
    return event(type_, **where, content_index=0, part=part)


def content_part_added(where: Json, part: Json) -> Json:
    """``where`` is ``{response_id, item_id, output_index}`` of the message being streamed."""
    return _part_event("response.content_part.added", where, part)


def content_part_done(where: Json, part: Json) -> Json:
    return _part_event("response.content_part.done", where, part)


def audio_delta(where: Json, delta_b64: str) -> Json:
    return event("response.output_audio.delta", **where, content_index=0, delta=delta_b64)


class AudioDeltas:
    """``response.output_audio.delta`` events of one content part, as dicts and as text.

    The text is pasted around the base64, which never needs escaping, instead
    of running the JSON encoder over 2.5 kB per 40 ms delta: exactly the bytes
    ``json.dumps(event)`` gives, for a fraction of its cost when a fleet of
    sessions streams at once.
    """

    _ID = "@@event_id@@"
    _DELTA = "@@delta@@"

    def __init__(self, where: Json) -> None:
        sample = audio_delta(where, self._DELTA)
        sample["event_id"] = self._ID
        self._head, rest = json.dumps(sample).split(self._ID)
        self._middle, self._tail = rest.split(self._DELTA)
        self._where = where

    def build(self, delta_b64: str) -> tuple[Json, str]:
        event = audio_delta(self._where, delta_b64)
        text = f"{self._head}{event['event_id']}{self._middle}{delta_b64}{self._tail}"
        return event, text


def audio_done(where: Json) -> Json:
    return event("response.output_audio.done", **where, content_index=0)


def transcript_delta(where: Json, delta: str) -> Json:
    return event("response.output_audio_transcript.delta", **where, content_index=0, delta=delta)


def transcript_done(where: Json, transcript: str) -> Json:
    return event(
        "response.output_audio_transcript.done", **where, content_index=0, transcript=transcript
    )


def text_delta(where: Json, delta: str) -> Json:
    return event("response.output_text.delta", **where, content_index=0, delta=delta)


def text_done(where: Json, text: str) -> Json:
    return event("response.output_text.done", **where, content_index=0, text=text)


def arguments_delta(where: Json, call_id: str, delta: str) -> Json:
    return event("response.function_call_arguments.delta", **where, call_id=call_id, delta=delta)


def arguments_done(where: Json, call_id: str, name: str, arguments: str) -> Json:
    return event(
        "response.function_call_arguments.done",
        **where,
        call_id=call_id,
        name=name,
        arguments=arguments,
    )
