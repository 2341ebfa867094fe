"""The metrics this provider emits, built in one place so handlers stay one line each.

Everything else a handler used to build here (speaking, replies, function
calls) is the conversation core's job now (:mod:`rtws.conversation`).
"""

from __future__ import annotations

from typing import Any

from . import wire


def tokens(processor: str, model: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {"processor": processor, "model": model, "value": wire.token_usage(usage)}


def response_metrics(model: str, usage: dict[str, Any], seconds: float | None) -> dict[str, Any]:
    """``emit_metrics`` arguments for one ``response.done``: token usage and generation time."""
    return {
        "tokens": [tokens("openai", model, usage)] if usage else None,
        "processing": [{"processor": "openai", "model": model, "value": seconds}]
        if seconds is not None
        else None,
    }
