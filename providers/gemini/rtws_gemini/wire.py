"""Protobuf-JSON details the Live API inherits: bytes, durations, field-name spellings.

Google's JSON parser takes ``bytes`` in standard or URL-safe base64, padded or
not, and field names in lowerCamelCase or their proto snake_case; its
``Duration`` is a decimal number of seconds with an ``s`` suffix. Both the
provider and the fake server lean on these helpers.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, cast

from rtws.errors import ConfigurationError, ProtocolError

_DURATION = re.compile(r"^(-?\d+(?:\.\d{0,9})?)s$")


def b64decode(data: str) -> bytes:
    """Decode protobuf-JSON bytes: standard or URL-safe alphabet, padding optional."""
    text = data.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"invalid base64 in a Gemini message: {exc}") from None


def pcm16(data: str) -> bytes:
    """Base64 audio → PCM16 bytes; an odd byte count cannot be whole samples.

    Refused here, with the same words as OpenAI's provider, rather than deep in
    the playout path as numpy's "buffer size must be a multiple of element size".
    """
    pcm = b64decode(data)
    if len(pcm) % 2:
        raise ProtocolError("Gemini sent audio that is not whole PCM16 samples")
    return pcm


def b64encode(data: bytes) -> str:
    """Standard base64, which is what Google's servers send."""
    return base64.b64encode(data).decode("ascii")


def audio_input(pcm: bytes, mime_type: str) -> dict[str, Any]:
    """One mic chunk as a ``realtimeInput`` message."""
    return {"realtimeInput": {"audio": {"mimeType": mime_type, "data": b64encode(pcm)}}}


def audio_input_json(pcm: bytes, mime_type: str) -> str:
    """:func:`audio_input` as JSON text, pasted rather than encoded (the mic's hot path:
    base64 needs no JSON escaping, and the encoder would scan every character).
    ``mime_type`` is a constant of ours with nothing to escape either."""
    return (
        '{"realtimeInput":{"audio":{"mimeType":"'
        + mime_type
        + '","data":"'
        + b64encode(pcm)
        + '"}}}'
    )


def video_input(jpeg: bytes, mime_type: str = "image/jpeg") -> dict[str, Any]:
    """One camera frame as a ``realtimeInput.video`` message (a JPEG ``Blob``)."""
    return {"realtimeInput": {"video": {"mimeType": mime_type, "data": b64encode(jpeg)}}}


def user_text(text: str, *, turn_complete: bool) -> dict[str, Any]:
    """A typed user turn as ``clientContent`` (``turnComplete``: the model answers now)."""
    return {
        "clientContent": {
            "turns": [{"role": "user", "parts": [{"text": text}]}],
            "turnComplete": turn_complete,
        }
    }


def takes_realtime_text(model: str) -> bool:
    """Gemini 3 models take typed text as ``realtimeInput.text`` and refuse ``clientContent``
    turns after the first model turn; 2.5 models take ``clientContent``."""
    match = re.match(r"(?:models/)?gemini-(\d+)", model)
    return match is not None and int(match.group(1)) >= 3


def realtime_text(text: str) -> dict[str, Any]:
    """A typed user turn as ``realtimeInput.text`` (Gemini 3): answered like speech."""
    return {"realtimeInput": {"text": text}}


def text_input(model: str, text: str, *, run: bool) -> dict[str, Any]:
    """A typed user turn in the form ``model`` takes (``run``: the model answers now)."""
    if not takes_realtime_text(model):
        return user_text(text, turn_complete=run)
    if not run:
        raise ConfigurationError(
            f"{model} answers every typed text: Gemini 3 models take text as "
            "realtimeInput.text, which cannot wait for more (run_immediately=False)"
        )
    return realtime_text(text)


def inline_audio(inline: dict[str, Any], rate: int) -> bytes | None:
    """A ``modelTurn`` part's ``inlineData`` as PCM16 at ``rate``; None when it is not audio."""
    mime = get(inline, "mimeType") or ""
    if not mime.startswith("audio/"):
        return None
    sent_rate = pcm_rate(mime, rate)
    if sent_rate != rate:
        raise ProtocolError(f"Gemini sent audio at {sent_rate} Hz; rtws_gemini expects {rate} Hz")
    return pcm16(inline.get("data") or "")


def tool_response(call_id: str, name: str | None, result: Any) -> dict[str, Any]:
    """A function's result as ``toolResponse``; a result that is not an object is wrapped."""
    response: Any = cast(Any, result) if isinstance(result, dict) else {"output": result}
    call = {"id": call_id, "name": name, "response": response}
    return {"toolResponse": {"functionResponses": [call]}}


def parse_duration(value: str | float | int | None, default: float = 0.0) -> float:
    """``"10s"`` / ``"1.500s"`` → seconds; a bare number is taken as seconds."""
    if value is None:
        return default
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(value.strip())
    if match is None:
        raise ProtocolError(f"invalid protobuf Duration {value!r} (expected e.g. '10s')")
    return float(match.group(1))


def format_duration(seconds: float) -> str:
    """Seconds → protobuf Duration JSON (``"10s"``, ``"0.5s"``)."""
    text = f"{seconds:.9f}".rstrip("0").rstrip(".")
    return f"{text}s"


def camel(name: str) -> str:
    """``turn_complete`` → ``turnComplete`` (already camel names pass through)."""
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def pcm_rate(mime_type: str | None, default: int) -> int:
    """The ``rate=`` parameter of an ``audio/pcm`` MIME type."""
    if not mime_type:
        return default
    for param in mime_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "rate" and value.strip().isdigit():
            return int(value.strip())
    return default


def obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (missing or malformed fields)."""
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def objects(value: Any) -> list[dict[str, Any]]:
    """The JSON objects of a list field, skipping anything else."""
    items = cast(list[Any], value) if isinstance(value, list) else []
    return [cast(dict[str, Any], item) for item in items if isinstance(item, dict)]


def strings(value: Any) -> list[str]:
    """The items of a list field as strings (an absent field is an empty list)."""
    items = cast(list[Any], value) if isinstance(value, list) else []
    return [str(item) for item in items]


def get(obj: dict[str, Any], name: str, default: Any = None) -> Any:
    """A field by its camelCase name, also found under its snake_case spelling."""
    if name in obj:
        return obj[name]
    snake = re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
    return obj.get(snake, default)


def token_counts(usage: dict[str, Any]) -> tuple[int, int, int]:
    """``usageMetadata`` → (prompt, completion, total) that add up.

    The total counts tool-use prompts and thinking too: they go to prompt and
    completion, so prompt + completion is still the total.
    """

    def count(key: str) -> int:
        value = usage.get(key)
        return value if isinstance(value, int) and value > 0 else 0

    prompt = count("promptTokenCount") + count("toolUsePromptTokenCount")
    completion = (count("responseTokenCount") or count("candidatesTokenCount")) + count(
        "thoughtsTokenCount"
    )
    return prompt, completion, count("totalTokenCount") or prompt + completion
