"""Make the fake call the session's declared tools, with arguments drawn from their schemas.

The Gemini fake answers unscripted turns through ``server.reply_for``; this
installs one that, for each new user turn, calls the named functions (all in
one ``toolCall``, so several names are parallel calls) with arguments drawn
from the ``functionDeclarations`` the client sent in its ``setup`` — the
declaration the provider really sent — and then says ``text`` with
``{results}`` replaced by the tool results.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from rtws.tools import sample_arguments

from .server import FakeGeminiServer
from .turns import Conversation, Reply, ToolCall, default_reply


def declared_functions(setup: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``name -> functionDeclaration`` of a setup message body (camelCase or snake_case)."""
    found: dict[str, dict[str, Any]] = {}
    tools: list[dict[str, Any]] = setup.get("tools") or []
    for tool in tools:
        decls: list[dict[str, Any]] = (
            tool.get("functionDeclarations") or tool.get("function_declarations") or []
        )
        for decl in decls:
            found[str(decl.get("name"))] = decl
    return found


def call_declared_tools(
    server: FakeGeminiServer,
    names: Sequence[str],
    *,
    text: str = "Results: {results}",
    seed: int = 0,
    turns: int | None = None,
) -> list[ToolCall]:
    """The next ``turns`` user turns (all: ``None``) call ``names``; returns the calls' log.

    Later turns get the fake's default reply.
    """
    rng = random.Random(seed)
    made: list[ToolCall] = []
    left = [turns]

    def reply(conversation: Conversation, heard: str) -> Reply:
        if left[0] is not None:
            if left[0] <= 0:
                return default_reply(conversation, heard)
            left[0] -= 1
        declared = declared_functions(server.latest.setup or {})
        calls: list[ToolCall] = []
        for name in names:
            if name not in declared:
                raise LookupError(f"the client declared no function {name!r}: {sorted(declared)}")
            schema = dict(declared[name].get("parameters") or {"type": "object"})
            calls.append(ToolCall(name, sample_arguments(schema, rng)))
        made.extend(calls)
        return Reply(text=text, heard=heard, tool_calls=calls)

    server.reply_for = reply
    return made
