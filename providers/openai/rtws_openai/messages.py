"""What this provider reports of the server's events (metrics, a failed response), built
in one place so handlers stay one line each.

Everything else a handler used to build here (speaking, replies, function
calls) is the conversation core's job now (:mod:`rtws.conversation`).
"""

from __future__ import annotations

from typing import Any

from rtws.redact import get_logger

from . import wire

log = get_logger("rtws.openai")


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


def response_problem(response: dict[str, Any]) -> str | None:
    """The error to report for a ``response.done`` that failed; None for any other status
    (an incomplete one is logged: it stopped early for a reason, e.g. max_output_tokens)."""
    details = wire.part(response, "status_details")
    if response.get("status") == "failed":
        return f"OpenAI could not finish a response: {wire.describe(wire.part(details, 'error'))}"
    if response.get("status") == "incomplete":
        log.info("openai: response incomplete (%s)", details.get("reason"))
    return None
