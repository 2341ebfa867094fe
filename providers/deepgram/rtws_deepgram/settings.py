"""``Settings``: the one message that configures a Voice Agent session, built from the options.

Kept apart from the transport so tests can validate it against the
``deepgram-sdk`` model (``AgentV1Settings``) without opening a socket.
"""

from __future__ import annotations

from typing import Any

from rtws.tools import deepgram_function

from .options import DeepgramVoiceAgentOptions


def settings_message(options: DeepgramVoiceAgentOptions) -> dict[str, Any]:
    listen: dict[str, Any] = {"type": "deepgram", "model": options.listen_model}
    if options.language:
        listen["language"] = options.language
    think: dict[str, Any] = {"provider": dict(options.think_provider)}
    if options.prompt:
        think["prompt"] = options.prompt
    functions = [f.model_dump(exclude_none=True) for f in options.functions]
    # Plain functions (``tools``) are client side: rtws' tool runner answers their calls.
    functions += [deepgram_function(tool) for tool in options.tools]
    if functions:
        think["functions"] = functions
    agent: dict[str, Any] = {
        "listen": {"provider": listen},
        "think": think,
        "speak": {"provider": dict(options.speak_provider)},
    }
    if options.greeting:
        agent["greeting"] = options.greeting
    message: dict[str, Any] = {
        "type": "Settings",
        "audio": {
            "input": {"encoding": "linear16", "sample_rate": options.input_sample_rate},
            "output": {
                "encoding": "linear16",
                "sample_rate": options.output_sample_rate,
                "container": "none",
            },
        },
        "agent": agent,
    }
    if options.tags:
        message["tags"] = list(options.tags)
    if options.mip_opt_out is not None:
        message["mip_opt_out"] = options.mip_opt_out
    return message
