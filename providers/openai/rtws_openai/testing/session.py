"""The GA session object: its defaults, what ``session.update`` may change, and how.

``session.created`` carries the server's full default session; an update
changes only the fields it names (``audio.input`` and ``audio.output`` merge
field by field, everything else is replaced) and the result comes back whole
in ``session.updated``. Turn detection is normalised the way the service does:
``{"type": "server_vad"}`` comes back with every default filled in.
"""

from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

from .schema import (
    InvalidRequest,
    Validator,
    anything,
    array,
    boolean,
    either,
    enum,
    integer,
    nullable,
    number,
    obj,
    string,
    tagged,
)

Json = dict[str, Any]

PCM_24K: Json = {"type": "audio/pcm", "rate": 24000}
DEFAULT_INSTRUCTIONS = (
    "You are a helpful, witty and friendly voice assistant. Talk quickly and keep answers short. "
    "(This session is served by the rtws fake OpenAI Realtime server.)"
)
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")
#: Models that take ``reasoning`` and ``parallel_tool_calls``: the gpt-realtime-2 family
#: (the SDK's field docs: "Only supported by reasoning Realtime models such as
#: gpt-realtime-2"). Note ``gpt-realtime-2025-08-28`` is not one of them.
REASONING_MODELS = re.compile(r"gpt-realtime-2(?:\.\d+)?(?:-mini)?(?:-\d{4}-\d{2}-\d{2})?")
#: Session fields the service refuses, for the whole ``session.update``, on other models.
REASONING_ONLY = ("reasoning", "parallel_tool_calls")
#: Silence (ms) that ends a turn in semantic_vad mode, by eagerness.
EAGERNESS_SILENCE_MS = {"high": 300, "medium": 600, "auto": 600, "low": 1200}

SERVER_VAD_DEFAULTS: Json = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}
SEMANTIC_VAD_DEFAULTS: Json = {
    "type": "semantic_vad",
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}


def pcm_format(value: Any, path: str) -> Any:
    """The fake decodes PCM16 only; G.711 would be accepted by the service."""
    fmt = tagged(
        "type",
        {
            "audio/pcm": obj({"type": string(), "rate": enum(24000)}),
            "audio/pcmu": obj({"type": string()}),
            "audio/pcma": obj({"type": string()}),
        },
    )(value, path)
    if fmt["type"] != "audio/pcm":
        raise InvalidRequest(
            f"Invalid value: '{fmt['type']}'. The rtws fake server supports only 'audio/pcm'.",
            code="invalid_value",
            param=f"{path}.type",
        )
    return {"type": "audio/pcm", "rate": 24000}


TURN_DETECTION: Validator = nullable(
    tagged(
        "type",
        {
            "server_vad": obj(
                {
                    "type": string(),
                    "threshold": number(0.0, 1.0),
                    "prefix_padding_ms": integer(0),
                    "silence_duration_ms": integer(0),
                    "idle_timeout_ms": nullable(integer(0)),
                    "create_response": boolean(),
                    "interrupt_response": boolean(),
                }
            ),
            "semantic_vad": obj(
                {
                    "type": string(),
                    "eagerness": enum("low", "medium", "high", "auto"),
                    "create_response": boolean(),
                    "interrupt_response": boolean(),
                }
            ),
        },
    )
)

TRANSCRIPTION: Validator = nullable(
    obj(
        {
            "model": string(),
            "language": string(),
            "prompt": string(),
            "languages": array(string()),
            "keywords": array(string()),
            "delay": enum("minimal", "low", "medium", "high", "xhigh"),
        }
    )
)

VOICE: Validator = either(string(), obj({"id": string()}, required=["id"]))

FUNCTION_TOOL: Validator = obj(
    {"type": enum("function"), "name": string(), "description": string(), "parameters": anything()},
    required=["name"],
)

TOOL_CHOICE: Validator = either(
    enum("auto", "none", "required"),
    obj({"type": enum("function"), "name": string()}, required=["type", "name"]),
)

MAX_OUTPUT_TOKENS: Validator = either(integer(1, 4096), enum("inf"))

OUTPUT_MODALITIES: Validator = array(enum("audio", "text"))

SESSION: Validator = obj(
    {
        "type": enum("realtime"),
        "model": string(),
        "instructions": string(),
        "output_modalities": OUTPUT_MODALITIES,
        "audio": obj(
            {
                "input": obj(
                    {
                        "format": pcm_format,
                        "transcription": TRANSCRIPTION,
                        "noise_reduction": nullable(
                            obj({"type": enum("near_field", "far_field"), "strength": number(0, 1)})
                        ),
                        "turn_detection": TURN_DETECTION,
                    }
                ),
                "output": obj(
                    {"format": pcm_format, "voice": VOICE, "speed": number(0.25, 1.5)},
                ),
            }
        ),
        "tools": array(FUNCTION_TOOL),
        "tool_choice": TOOL_CHOICE,
        "max_output_tokens": MAX_OUTPUT_TOKENS,
        "reasoning": obj({"effort": enum("minimal", "low", "medium", "high", "xhigh")}),
        "parallel_tool_calls": boolean(),
        "tracing": nullable(
            either(
                enum("auto"),
                obj({"workflow_name": string(), "group_id": string(), "metadata": anything()}),
            )
        ),
        "truncation": either(
            enum("auto", "disabled"),
            obj(
                {
                    "type": enum("retention_ratio"),
                    "retention_ratio": number(0.0, 1.0),
                    "token_limits": obj({"post_instructions": integer(0)}),
                },
                required=["type", "retention_ratio"],
            ),
        ),
        "include": nullable(array(enum("item.input_audio_transcription.logprobs"))),
        "prompt": nullable(
            obj(
                {"id": string(), "version": nullable(string()), "variables": anything()},
                required=["id"],
            )
        ),
    },
    required=["type"],
)


def new_session(session_id: str, model: str, lifetime_s: int = 3600) -> Json:
    """The default session the service announces in ``session.created``."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": int(time.time()) + lifetime_s,
        "audio": {
            "input": {
                "format": dict(PCM_24K),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": dict(SERVER_VAD_DEFAULTS),
            },
            "output": {"format": dict(PCM_24K), "voice": "marin", "speed": 1.0},
        },
        "include": None,
        # Reasoning models announce their default effort; others have no such field.
        **({"reasoning": {"effort": "low"}} if REASONING_MODELS.fullmatch(model) else {}),
    }


def _normalise_turn_detection(value: Json | None) -> Json | None:
    if value is None:
        return None
    defaults = SERVER_VAD_DEFAULTS if value["type"] == "server_vad" else SEMANTIC_VAD_DEFAULTS
    return {**defaults, **value}


def apply_update(session: Json, update: Any) -> Json:
    """The session after ``update``; raises :class:`InvalidRequest` and changes nothing if bad."""
    checked: Json = SESSION(update, "session")
    if not REASONING_MODELS.fullmatch(str(session.get("model") or "")):
        for name in REASONING_ONLY:
            if name in checked:
                raise InvalidRequest(
                    f"Unsupported parameter: 'session.{name}' is not supported with this model.",
                    code="unsupported_parameter",
                    param=f"session.{name}",
                )
    modalities = checked.get("output_modalities")
    if modalities is not None and len(set(modalities)) != 1:
        raise InvalidRequest(
            "Invalid 'session.output_modalities': it is not possible to request both "
            "'text' and 'audio' at the same time; use exactly one of ['audio'] or ['text'].",
            code="invalid_value",
            param="session.output_modalities",
        )
    # Accepted, but the session object the service returns has no such field (the SDK's
    # RealtimeSessionCreateResponse): it is not echoed in session.updated.
    checked.pop("parallel_tool_calls", None)
    result = copy.deepcopy(session)
    audio: Json = checked.pop("audio", {})
    for key, value in checked.items():
        result[key] = list(dict.fromkeys(value)) if key == "output_modalities" else value
    for side in ("input", "output"):
        for key, value in audio.get(side, {}).items():
            if key == "turn_detection":
                value = _normalise_turn_detection(value)
            result["audio"][side][key] = value
    return result


@dataclass(frozen=True)
class TurnDetection:
    """What the VAD needs from ``session.audio.input.turn_detection``."""

    kind: Literal["server_vad", "semantic_vad"]
    threshold: float
    prefix_padding_ms: int
    silence_duration_ms: int
    create_response: bool
    interrupt_response: bool


def turn_detection(session: Json) -> TurnDetection | None:
    value: Json | None = session["audio"]["input"]["turn_detection"]
    if value is None:
        return None
    if value["type"] == "semantic_vad":
        return TurnDetection(
            kind="semantic_vad",
            threshold=0.5,
            prefix_padding_ms=300,
            silence_duration_ms=EAGERNESS_SILENCE_MS[value["eagerness"]],
            create_response=value["create_response"],
            interrupt_response=value["interrupt_response"],
        )
    return TurnDetection(
        kind="server_vad",
        threshold=float(value["threshold"]),
        prefix_padding_ms=int(value["prefix_padding_ms"]),
        silence_duration_ms=int(value["silence_duration_ms"]),
        create_response=value["create_response"],
        interrupt_response=value["interrupt_response"],
    )


def transcription_enabled(session: Json) -> bool:
    return session["audio"]["input"]["transcription"] is not None


def output_format(session: Json) -> Json:
    """``audio.output`` as a response object repeats it: format and voice."""
    output: Json = session["audio"]["output"]
    return {"format": dict(output["format"]), "voice": output["voice"]}
