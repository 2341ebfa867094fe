"""Options → the ``setup`` message (pure, so tests check it against google-genai's types).

The Live API is protobuf JSON: camelCase names, enums as strings, default
values omitted. Only what the user set is sent, so the server's defaults
apply to the rest.
"""

from __future__ import annotations

import json
from typing import Any, cast

from rtws.options import only_set
from rtws.tools import Tool

from . import wire
from .options import AutomaticActivityDetection, FunctionDeclaration, GeminiLiveOptions

#: What the provider sends and receives: PCM16 mono, 16 kHz up, 24 kHz down.
INPUT_MIME = "audio/pcm;rate=16000"
OUTPUT_RATE = 24000

#: The JSON-schema keywords Gemini's OpenAPI ``Schema`` knows (the same names on both sides).
SCHEMA_KEYWORDS = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "items",
        "minItems",
        "maxItems",
        "properties",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "anyOf",
        "propertyOrdering",
        "default",
        "example",
    }
)


def setup_message(options: GeminiLiveOptions, handle: str | None = None) -> dict[str, Any]:
    """The first client message of a connection; ``handle`` resumes an earlier session."""
    return {"setup": setup_body(options, handle)}


def setup_body(options: GeminiLiveOptions, handle: str | None = None) -> dict[str, Any]:
    """The ``BidiGenerateContentSetup`` object (also what an ephemeral token can lock)."""
    setup: dict[str, Any] = {
        "model": f"models/{options.model}",
        "generationConfig": _generation_config(options),
    }
    if options.system_instruction:
        setup["systemInstruction"] = {"parts": [{"text": options.system_instruction}]}
    if options.tools:
        setup["tools"] = [{"functionDeclarations": [_function(f) for f in options.tools]}]
    realtime = _realtime_input_config(options)
    if realtime:
        setup["realtimeInputConfig"] = realtime
    if options.input_audio_transcription:
        setup["inputAudioTranscription"] = {}
    if options.output_audio_transcription:
        setup["outputAudioTranscription"] = {}
    compression = options.context_window_compression
    if compression is not None:
        setup["contextWindowCompression"] = {
            "slidingWindow": only_set({"targetTokens": compression.target_tokens}),
            **only_set({"triggerTokens": compression.trigger_tokens}),
        }
    if options.session_resumption:
        setup["sessionResumption"] = {"handle": handle} if handle else {}
    return setup


def _generation_config(options: GeminiLiveOptions) -> dict[str, Any]:
    config: dict[str, Any] = {"responseModalities": list(options.response_modalities)}
    speech: dict[str, Any] = {}
    if options.voice:
        speech["voiceConfig"] = {"prebuiltVoiceConfig": {"voiceName": options.voice}}
    if options.language_code:
        speech["languageCode"] = options.language_code
    if speech:
        config["speechConfig"] = speech
    limits = {"temperature": options.temperature, "maxOutputTokens": options.max_output_tokens}
    return {**config, **only_set(limits)}


def _realtime_input_config(options: GeminiLiveOptions) -> dict[str, Any]:
    config: dict[str, Any] = {}
    vad = options.activity_detection
    if isinstance(vad, AutomaticActivityDetection):
        auto = only_set(
            {
                "startOfSpeechSensitivity": vad.start_of_speech_sensitivity,
                "endOfSpeechSensitivity": vad.end_of_speech_sensitivity,
                "prefixPaddingMs": vad.prefix_padding_ms,
                "silenceDurationMs": vad.silence_duration_ms,
            }
        )
        if auto:
            config["automaticActivityDetection"] = auto
    else:
        config["automaticActivityDetection"] = {"disabled": True}
    handling = {
        "activityHandling": options.activity_handling,
        "turnCoverage": options.turn_coverage,
    }
    return {**config, **only_set(handling)}


def function_declaration(tool: Tool) -> dict[str, Any]:
    """A provider-neutral :class:`~rtws.tools.Tool` as a Live API ``FunctionDeclaration``."""
    out: dict[str, Any] = {"name": tool.name, "parameters": gemini_schema(tool.parameters)}
    if tool.description:
        out["description"] = tool.description
    return out


def _function(decl: FunctionDeclaration | Tool) -> dict[str, Any]:
    if isinstance(decl, Tool):
        return function_declaration(decl)
    out: dict[str, Any] = {"name": decl.name}
    if decl.description:
        out["description"] = decl.description
    if decl.parameters is not None:
        out["parameters"] = gemini_schema(decl.parameters)
    if decl.behavior is not None:
        out["behavior"] = decl.behavior
    return out


def gemini_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema reduced to the OpenAPI subset the Live API accepts.

    ``"type": ["string", "null"]`` and ``anyOf: [X, {"type": "null"}]`` (what
    pydantic makes of ``X | None``) become ``X`` with ``"nullable": true``;
    ``const`` and enum values become a string enum (the Live API's enums are
    string-only, and it has no ``const``); unknown keywords are dropped (the
    server would close the session over them).
    """
    schema = _collapse_optional(schema)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in SCHEMA_KEYWORDS:
            continue
        if key == "type" and isinstance(value, list):
            kinds = [str(v) for v in cast(list[Any], value)]
            named = [k for k in kinds if k != "null"]
            if len(named) != len(kinds):
                out["nullable"] = True
            value = named[0] if named else "null"
        elif key == "properties":
            value = {name: gemini_schema(wire.obj(sub)) for name, sub in wire.obj(value).items()}
        elif key == "items" and isinstance(value, dict):
            value = gemini_schema(wire.obj(value))
        elif key == "anyOf":
            value = [gemini_schema(sub) for sub in wire.objects(value)]
        out[key] = value
    if "const" in schema and "enum" not in out:  # Literal["x"]: Gemini has no const
        out["enum"] = [schema["const"]]
    enum = out.get("enum")
    if isinstance(enum, list) and not all(isinstance(v, str) for v in cast(list[Any], enum)):
        out["enum"] = [v if isinstance(v, str) else json.dumps(v) for v in cast(list[Any], enum)]
        out["type"] = "string"
    return out


def _collapse_optional(schema: dict[str, Any]) -> dict[str, Any]:
    variants = schema.get("anyOf")
    if not isinstance(variants, list):
        return schema
    subs = wire.objects(variants)
    named = [s for s in subs if s.get("type") != "null"]
    if len(named) != 1 or len(subs) != 2:
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**named[0], **rest, "nullable": True}
