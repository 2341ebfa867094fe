"""Options → the GA ``session.update`` payload (pure, so tests check it against the SDK)."""

from __future__ import annotations

from typing import Any

from .options import OpenAIRealtimeOptions

#: The provider's audio format: PCM16 mono at 24 kHz, both ways.
PCM_24K = {"type": "audio/pcm", "rate": 24000}


def session_config(options: OpenAIRealtimeOptions) -> dict[str, Any]:
    """The ``session`` object for ``session.update`` (and for minting a client secret)."""
    audio_input: dict[str, Any] = {
        "format": PCM_24K,
        "turn_detection": (
            options.turn_detection.model_dump(exclude_none=True) if options.turn_detection else None
        ),
    }
    if options.input_transcription is not None:
        audio_input["transcription"] = options.input_transcription.model_dump(exclude_none=True)
    if options.noise_reduction is not None:
        audio_input["noise_reduction"] = {"type": options.noise_reduction}
    audio_output: dict[str, Any] = {"format": PCM_24K, "voice": options.voice}
    if options.speed is not None:
        audio_output["speed"] = options.speed
    session: dict[str, Any] = {
        "type": "realtime",
        "model": options.model,
        "output_modalities": list(options.output_modalities),
        "audio": {"input": audio_input, "output": audio_output},
        "tools": [tool.model_dump() for tool in options.tools],
        "tool_choice": options.tool_choice,
    }
    if options.instructions is not None:
        session["instructions"] = options.instructions
    if options.max_output_tokens is not None:
        session["max_output_tokens"] = options.max_output_tokens
    return session
