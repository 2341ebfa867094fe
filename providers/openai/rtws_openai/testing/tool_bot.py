"""A fake model that calls the session's declared tools, with arguments drawn from their schemas.

What a real model does with tools, reduced to what tests need: on a turn
without function results it calls the named tools (all in one response, so
several names make parallel calls), each with arguments drawn from the
``parameters`` schema the client declared in ``session.update`` — so a test
exercises the declaration the provider really sent, not a copy. On the turn
that brings the results, it says ``answer`` with ``{outputs}`` replaced by
the results (call order), which a test can then hear in the transcript.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

from rtws.tools import sample_arguments

from .bots import FunctionCall, Reply, Turn


class ToolCallingBot:
    """Calls ``names`` (declared tools) on every new user turn, then answers with the results."""

    def __init__(
        self, names: Sequence[str], *, answer: str = "Results: {outputs}", seed: int = 0
    ) -> None:
        self.names = list(names)
        self.answer = answer
        self.rng = random.Random(seed)
        #: ``(name, arguments)`` of every call made, in order.
        self.calls: list[tuple[str, dict[str, object]]] = []
        self.turns: list[Turn] = []

    async def respond(self, turn: Turn) -> Reply:
        self.turns.append(turn)
        if turn.function_outputs:
            outputs = ", ".join(o.output for o in turn.function_outputs)
            return Reply.say(self.answer.replace("{outputs}", outputs))
        declared = {str(t.get("name")): t for t in turn.tools}
        calls: list[FunctionCall] = []
        for name in self.names:
            if name not in declared:
                raise LookupError(f"the client declared no tool {name!r}: {sorted(declared)}")
            arguments = sample_arguments(dict(declared[name].get("parameters") or {}), self.rng)
            self.calls.append((name, arguments))
            calls.append(FunctionCall(name, json.dumps(arguments)))
        return Reply(calls=tuple(calls))
