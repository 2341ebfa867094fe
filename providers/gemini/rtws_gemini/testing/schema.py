"""The client messages the fake accepts, checked the way Google's protobuf-JSON parser checks them.

Every field of ``BidiGenerateContentClientMessage`` the Developer API knows
is listed here; a name the parser would not know fails with Google's
wording (``Unknown name "x" at 'setup.generation_config': Cannot find
field.``), which the server sends as the reason of a 1007 close. Field names
may be camelCase or snake_case and ``bytes`` standard or URL-safe base64, as
the real parser allows; the result is normalised to camelCase with bytes
decoded, so the fake's logic reads one spelling only.
"""

from __future__ import annotations

import re
from typing import Any

from rtws.errors import ProtocolError

from ..wire import b64decode, camel, obj

#: A field's type: a scalar tag, a nested message (dict), ``[t]`` for repeated,
#: ("enum", names), ("map", t) for map<string, t>, "struct" for google.protobuf.Struct.
Spec = Any

BLOB: dict[str, Spec] = {"mimeType": "str", "data": "bytes", "displayName": "str"}
FUNCTION_CALL: dict[str, Spec] = {"id": "str", "name": "str", "args": "struct"}
FUNCTION_RESPONSE: dict[str, Spec] = {
    "id": "str",
    "name": "str",
    "response": "struct",
    "willContinue": "bool",
    "scheduling": ("enum", {"SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE", "INTERRUPT"}),
}
PART: dict[str, Spec] = {
    "text": "str",
    "thought": "bool",
    "thoughtSignature": "bytes",
    "inlineData": BLOB,
    "fileData": {"mimeType": "str", "fileUri": "str", "displayName": "str"},
    "functionCall": FUNCTION_CALL,
    "functionResponse": FUNCTION_RESPONSE,
    "executableCode": {"language": "str", "code": "str"},
    "codeExecutionResult": {"outcome": "str", "output": "str"},
}
CONTENT: dict[str, Spec] = {"role": "str", "parts": [PART]}
TYPES = (
    "enum",
    {"TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"},
)
SCHEMA: dict[str, Spec] = {
    "type": TYPES,
    "format": "str",
    "title": "str",
    "description": "str",
    "nullable": "bool",
    "enum": ["str"],
    "minItems": "int",
    "maxItems": "int",
    "required": ["str"],
    "minProperties": "int",
    "maxProperties": "int",
    "minLength": "int",
    "maxLength": "int",
    "pattern": "str",
    "minimum": "float",
    "maximum": "float",
    "propertyOrdering": ["str"],
    "default": "any",
    "example": "any",
}
SCHEMA["items"] = SCHEMA
SCHEMA["properties"] = ("map", SCHEMA)
SCHEMA["anyOf"] = [SCHEMA]
FUNCTION_DECLARATION: dict[str, Spec] = {
    "name": "str",
    "description": "str",
    "parameters": SCHEMA,
    "parametersJsonSchema": "any",
    "response": SCHEMA,
    "responseJsonSchema": "any",
    "behavior": ("enum", {"UNSPECIFIED", "BLOCKING", "NON_BLOCKING"}),
}
TOOL: dict[str, Spec] = {
    "functionDeclarations": [FUNCTION_DECLARATION],
    "googleSearch": "struct",
    "codeExecution": "struct",
    "urlContext": "struct",
}
GENERATION_CONFIG: dict[str, Spec] = {
    "candidateCount": "int",
    "maxOutputTokens": "int",
    "temperature": "float",
    "topP": "float",
    "topK": "int",
    "presencePenalty": "float",
    "frequencyPenalty": "float",
    "seed": "int",
    "responseModalities": [("enum", {"MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO"})],
    "speechConfig": {
        "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "str"}},
        "languageCode": "str",
    },
    "mediaResolution": (
        "enum",
        {
            "MEDIA_RESOLUTION_UNSPECIFIED",
            "MEDIA_RESOLUTION_LOW",
            "MEDIA_RESOLUTION_MEDIUM",
            "MEDIA_RESOLUTION_HIGH",
        },
    ),
    "thinkingConfig": {"includeThoughts": "bool", "thinkingBudget": "int", "thinkingLevel": "str"},
    "enableAffectiveDialog": "bool",
}
REALTIME_INPUT_CONFIG: dict[str, Spec] = {
    "automaticActivityDetection": {
        "disabled": "bool",
        "startOfSpeechSensitivity": (
            "enum",
            {"START_SENSITIVITY_UNSPECIFIED", "START_SENSITIVITY_HIGH", "START_SENSITIVITY_LOW"},
        ),
        "endOfSpeechSensitivity": (
            "enum",
            {"END_SENSITIVITY_UNSPECIFIED", "END_SENSITIVITY_HIGH", "END_SENSITIVITY_LOW"},
        ),
        "prefixPaddingMs": "int",
        "silenceDurationMs": "int",
    },
    "activityHandling": (
        "enum",
        {"ACTIVITY_HANDLING_UNSPECIFIED", "START_OF_ACTIVITY_INTERRUPTS", "NO_INTERRUPTION"},
    ),
    "turnCoverage": (
        "enum",
        {"TURN_COVERAGE_UNSPECIFIED", "TURN_INCLUDES_ONLY_ACTIVITY", "TURN_INCLUDES_ALL_INPUT"},
    ),
}
TRANSCRIPTION_CONFIG: dict[str, Spec] = {"languageCodes": ["str"]}
SETUP: dict[str, Spec] = {
    "model": "str",
    "generationConfig": GENERATION_CONFIG,
    "systemInstruction": CONTENT,
    "tools": [TOOL],
    "realtimeInputConfig": REALTIME_INPUT_CONFIG,
    "sessionResumption": {"handle": "str"},
    "contextWindowCompression": {"triggerTokens": "int", "slidingWindow": {"targetTokens": "int"}},
    "inputAudioTranscription": TRANSCRIPTION_CONFIG,
    "outputAudioTranscription": TRANSCRIPTION_CONFIG,
    "proactivity": {"proactiveAudio": "bool"},
    "historyConfig": {"initialHistoryInClientContent": "bool"},
}
CLIENT_MESSAGE: dict[str, Spec] = {
    "setup": SETUP,
    "clientContent": {"turns": [CONTENT], "turnComplete": "bool"},
    "realtimeInput": {
        "mediaChunks": [BLOB],
        "audio": BLOB,
        "video": BLOB,
        "text": "str",
        "activityStart": {},
        "activityEnd": {},
        "audioStreamEnd": "bool",
    },
    "toolResponse": {"functionResponses": [FUNCTION_RESPONSE]},
}


class InvalidMessage(ProtocolError):
    """A client message the real parser would refuse; ``str()`` is the close reason."""


def parse_client_message(message: Any) -> tuple[str, dict[str, Any]]:
    """Check one decoded client message; return its (camelCase) kind and normalised body."""
    if not isinstance(message, dict):
        raise InvalidMessage("Invalid JSON payload received. Expected an object.")
    normal = _message(message, CLIENT_MESSAGE, "")  # pyright: ignore[reportUnknownArgumentType]
    kinds = list(normal)
    if len(kinds) != 1:
        raise InvalidMessage(
            "Invalid JSON payload received. A client message must set exactly one of setup, "
            f"clientContent, realtimeInput, toolResponse (got {len(kinds)})."
        )
    return kinds[0], obj(normal[kinds[0]])


def _message(obj: dict[str, Any], spec: dict[str, Spec], path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = camel(key)
        if name not in spec:
            where = f" at '{_snake_path(path)}'" if path else ""
            raise InvalidMessage(
                f'Invalid JSON payload received. Unknown name "{key}"{where}: Cannot find field.'
            )
        if value is None:
            continue
        out[name] = _value(value, spec[name], _join(path, name))
    return out


def _value(value: Any, spec: Spec, path: str) -> Any:
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise _invalid(path, value, "message")
        return _message(value, spec, path)  # pyright: ignore[reportUnknownArgumentType]
    if isinstance(spec, list):
        if not isinstance(value, list):
            raise _invalid(path, value, "repeated")
        return [_value(item, spec[0], f"{path}[{i}]") for i, item in enumerate(value)]  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]
    if isinstance(spec, tuple):
        kind, arg = spec  # pyright: ignore[reportUnknownVariableType]
        if kind == "enum":
            if not isinstance(value, str) or value.upper() not in arg:
                raise _invalid(path, value, "TYPE_ENUM")
            return value.upper()
        if not isinstance(value, dict):
            raise _invalid(path, value, "map")
        return {k: _value(v, arg, f"{path}[{k}]") for k, v in obj(value).items()}
    return _scalar(value, spec, path)


def _scalar(value: Any, tag: str, path: str) -> Any:
    if tag == "str" and isinstance(value, str):
        return value
    if tag == "bool" and isinstance(value, bool):
        return value
    if tag == "int" and not isinstance(value, bool):
        if isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"-?\d+", value)):
            return int(value)  # int64 may be a JSON string
        if isinstance(value, float) and value.is_integer():
            return int(value)
    if tag == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tag == "bytes" and isinstance(value, str):
        try:
            return b64decode(value)
        except ProtocolError:
            raise _invalid(path, value, "TYPE_BYTES") from None
    if tag == "struct" and isinstance(value, dict):
        return value  # pyright: ignore[reportUnknownVariableType]
    if tag == "any":
        return value
    raise _invalid(path, value, f"TYPE_{tag.upper()}")


def _invalid(path: str, value: Any, kind: str) -> InvalidMessage:
    shown = repr(value)[:40]
    return InvalidMessage(f"Invalid value at '{_snake_path(path)}' ({kind}), {shown}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _snake_path(path: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), path)
