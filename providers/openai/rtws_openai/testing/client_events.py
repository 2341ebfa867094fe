"""The GA client events the fake understands, as validators.

Field sets follow ``openai.types.realtime`` (``RealtimeClientEvent``). Parts
the fake does not implement (MCP tools, image input, ``response.input``
references, G.711 audio) are refused with an error that says so, never
silently ignored.
"""

from __future__ import annotations

from typing import Any

from .schema import (
    InvalidRequest,
    Validator,
    anything,
    array,
    enum,
    integer,
    nullable,
    obj,
    string,
    tagged,
)
from .session import MAX_OUTPUT_TOKENS, OUTPUT_MODALITIES, SESSION, TOOL_CHOICE, pcm_format

_ITEM_COMMON: dict[str, Validator] = {
    "id": string(),
    "type": string(),
    "object": enum("realtime.item"),
    "status": enum("completed", "incomplete", "in_progress"),
}


def _unsupported(what: str) -> Validator:
    def check(value: Any, path: str) -> Any:
        raise InvalidRequest(
            f"The rtws fake server does not support {what} ('{path}').",
            code="unsupported_by_fake_server",
            param=path,
        )

    return check


CONTENT: Validator = tagged(
    "type",
    {
        "input_text": obj({"type": string(), "text": string()}, required=["text"]),
        "input_audio": obj(
            {"type": string(), "audio": string(), "transcript": nullable(string())},
            required=["audio"],
        ),
        "output_text": obj({"type": string(), "text": string()}, required=["text"]),
        "output_audio": obj(
            {"type": string(), "audio": string(), "transcript": nullable(string())}
        ),
        "input_image": obj(
            {"type": string(), "image_url": string(), "detail": enum("auto", "low", "high")},
            required=["image_url"],
        ),
    },
)

ITEM: Validator = tagged(
    "type",
    {
        "message": obj(
            {
                **_ITEM_COMMON,
                "role": enum("user", "assistant", "system"),
                "content": array(CONTENT),
            },
            required=["role", "content"],
        ),
        "function_call": obj(
            {**_ITEM_COMMON, "call_id": string(), "name": string(), "arguments": string()},
            required=["name", "arguments"],
        ),
        "function_call_output": obj(
            {**_ITEM_COMMON, "call_id": string(), "output": string()},
            required=["call_id", "output"],
        ),
        "mcp_call": _unsupported("MCP items"),
        "mcp_list_tools": _unsupported("MCP items"),
        "mcp_approval_request": _unsupported("MCP items"),
        "mcp_approval_response": _unsupported("MCP items"),
    },
)

RESPONSE: Validator = obj(
    {
        "output_modalities": OUTPUT_MODALITIES,
        "instructions": string(),
        "conversation": string(),
        "metadata": nullable(anything()),
        "max_output_tokens": MAX_OUTPUT_TOKENS,
        "tools": array(
            tagged(
                "type",
                {
                    "function": obj(
                        {
                            "type": string(),
                            "name": string(),
                            "description": string(),
                            "parameters": anything(),
                        },
                        required=["name"],
                    ),
                    "mcp": _unsupported("MCP tools"),
                },
            )
        ),
        "tool_choice": TOOL_CHOICE,
        "audio": obj({"output": obj({"format": pcm_format, "voice": string()})}),
        "input": _unsupported("response.input (out-of-band input items)"),
        "prompt": anything(),
    }
)

_BASE: dict[str, Validator] = {"type": string(), "event_id": string()}

CLIENT_EVENTS: dict[str, Validator] = {
    "session.update": obj({**_BASE, "session": SESSION}, required=["session"]),
    "input_audio_buffer.append": obj({**_BASE, "audio": string()}, required=["audio"]),
    "input_audio_buffer.commit": obj(_BASE),
    "input_audio_buffer.clear": obj(_BASE),
    "output_audio_buffer.clear": obj(_BASE),
    "conversation.item.create": obj(
        {**_BASE, "previous_item_id": nullable(string()), "item": ITEM}, required=["item"]
    ),
    "conversation.item.truncate": obj(
        {**_BASE, "item_id": string(), "content_index": integer(0), "audio_end_ms": integer(0)},
        required=["item_id", "content_index", "audio_end_ms"],
    ),
    "conversation.item.delete": obj({**_BASE, "item_id": string()}, required=["item_id"]),
    "conversation.item.retrieve": obj({**_BASE, "item_id": string()}, required=["item_id"]),
    "response.create": obj({**_BASE, "response": RESPONSE}),
    "response.cancel": obj({**_BASE, "response_id": string()}),
}
