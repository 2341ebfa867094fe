"""The RTVI events this provider emits, built in one place so handlers stay one line each."""

from __future__ import annotations

from typing import Any

from rtws import rtvi

from . import wire
from .turns import Call, Response


def function_started(name: str) -> rtvi.LLMFunctionCallStarted:
    return rtvi.LLMFunctionCallStarted(data=rtvi.LLMFunctionCallStartedData(function_name=name))


def function_in_progress(
    call_id: str, name: str, arguments: dict[str, Any] | None
) -> rtvi.LLMFunctionCallInProgress:
    data = rtvi.LLMFunctionCallInProgressData(
        tool_call_id=call_id, function_name=name, arguments=arguments
    )
    return rtvi.LLMFunctionCallInProgress(data=data)


def function_stopped(
    call_id: str, name: str, *, cancelled: bool, result: Any = None
) -> rtvi.LLMFunctionCallStopped:
    data = rtvi.LLMFunctionCallStoppedData(
        tool_call_id=call_id, cancelled=cancelled, function_name=name, result=result
    )
    return rtvi.LLMFunctionCallStopped(data=data)


def text_delta(text: str, *, spoken: bool) -> rtvi.RTVIMessage:
    """Spoken transcript → ``bot-tts-text``; text-only output → ``bot-llm-text`` (as pipecat)."""
    data = rtvi.TextData(text=text)
    return rtvi.BotTTSText(data=data) if spoken else rtvi.BotLLMText(data=data)


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


def closed(response: Response | None, calls: list[Call]) -> list[rtvi.RTVIMessage]:
    """What ends a response in events: TTS and LLM stopped, its unfinished calls cancelled."""
    out: list[rtvi.RTVIMessage] = []
    if response is not None:
        out += [rtvi.BotTTSStopped()] if response.tts_started else []
        out.append(rtvi.BotLLMStopped())
    out += [function_stopped(c.call_id, c.name, cancelled=True) for c in calls]
    return out
