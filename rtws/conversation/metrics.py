"""The ``metrics`` events the conversation core builds, in RTVI's (pipecat's) vocabulary.

Kept apart from the core because this is formatting, not a rule: the core
decides *when* a metric is due (the first audio after the user's turn, a
reply's token usage); how an entry is spelled on the wire is decided here,
once, for the core and for providers (``emit_metrics``) alike.
"""

from __future__ import annotations

from typing import Any

from .. import rtvi
from .events import Usage


def metrics(
    *,
    ttfb: list[dict[str, Any]] | None = None,
    processing: list[dict[str, Any]] | None = None,
    tokens: list[dict[str, Any]] | None = None,
) -> rtvi.Metrics:
    """A ``metrics`` event; each list holds ``{"processor", "model"?, "value"}`` entries."""
    data: dict[str, Any] = {}
    if ttfb:
        data["ttfb"] = ttfb
    if processing:
        data["processing"] = processing
    if tokens:
        data["tokens"] = tokens
    return rtvi.Metrics.model_validate({"data": data})


def metric_entry(processor: str, model: str | None, value: Any) -> dict[str, Any]:
    """One entry of a metric's list; an unknown model is left out rather than sent empty."""
    entry: dict[str, Any] = {"processor": processor, "value": value}
    if model:
        entry["model"] = model
    return entry


def token_counts(usage: Usage) -> dict[str, int]:
    """A ``tokens`` value; the total is the sum when the provider does not report one."""
    total = usage.total_tokens
    counts = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": total
        if total is not None
        else usage.prompt_tokens + usage.completion_tokens,
    }
    if usage.cache_read_input_tokens:
        counts["cache_read_input_tokens"] = usage.cache_read_input_tokens
    return counts
