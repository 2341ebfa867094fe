"""Options → the GA session object (pure, so tests check it against the SDK's models).

Fields left unset in the options are left out of the payload, so the
server's defaults for a new session apply: transcription and noise
reduction off. Turn detection is on by default, so turning it off is an
explicit ``null``.
"""

from __future__ import annotations

from typing import Any

from rtws.options import only_set
from rtws.tools import Tool

from .options import OpenAIRealtimeOptions, RetentionRatio

#: The provider's audio format: PCM16 mono at 24 kHz, both ways.
PCM_24K: dict[str, Any] = {"type": "audio/pcm", "rate": 24000}


def session_config(options: OpenAIRealtimeOptions) -> dict[str, Any]:
    """The ``session`` object of ``session.update``.

    ``model`` is not in it: the model is chosen by the URL, and the API does
    not let ``session.update`` change it.
    """
    audio_input: dict[str, Any] = {
        "format": dict(PCM_24K),
        "turn_detection": _dump(options.turn_detection),
    }
    if options.input_transcription is not None:
        audio_input["transcription"] = _dump(options.input_transcription)
    if options.noise_reduction is not None:
        audio_input["noise_reduction"] = _dump(options.noise_reduction)
    voice = options.voice if isinstance(options.voice, str) else options.voice.model_dump()
    audio_output = {"format": dict(PCM_24K), "voice": voice, **only_set({"speed": options.speed})}
    session: dict[str, Any] = {
        "type": "realtime",
        "output_modalities": list(options.output_modalities),
        "audio": {"input": audio_input, "output": audio_output},
        "tools": [
            function_tool(t) if isinstance(t, Tool) else t.model_dump() for t in options.tools
        ],
        "tool_choice": _dump(options.tool_choice),
    }
    optional = {
        "instructions": options.instructions,
        "max_output_tokens": options.max_output_tokens,
        "parallel_tool_calls": options.parallel_tool_calls,
    }
    session.update(only_set(optional))
    if options.reasoning_effort is not None:
        session["reasoning"] = {"effort": options.reasoning_effort}
    if options.truncation is not None:
        session["truncation"] = _truncation(options.truncation)
    return session


def session_update(options: OpenAIRealtimeOptions) -> dict[str, Any]:
    """The ``session.update`` client event that configures a session with ``options``."""
    return {"type": "session.update", "session": session_config(options)}


def function_tool(tool: Tool) -> dict[str, Any]:
    """A provider-neutral :class:`~rtws.tools.Tool` as a GA ``session.tools`` entry.

    The Realtime API takes a plain JSON schema (no strict mode), so the
    declaration goes as it is.
    """
    return {"type": "function", **tool.declaration()}


def client_secret_request(options: OpenAIRealtimeOptions) -> dict[str, Any]:
    """The body of ``POST /v1/realtime/client_secrets``: here the session names its model."""
    assert options.ephemeral is not None
    return {
        "expires_after": {"anchor": "created_at", "seconds": options.ephemeral.expires_after_s},
        "session": {**session_config(options), "model": options.model},
    }


def _dump(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return value.model_dump(exclude_none=True)


def _truncation(value: str | RetentionRatio) -> Any:
    if isinstance(value, str):
        return value
    body: dict[str, Any] = {"type": value.type, "retention_ratio": value.retention_ratio}
    if value.post_instructions_token_limit is not None:
        body["token_limits"] = {"post_instructions": value.post_instructions_token_limit}
    return body
