"""A :class:`~rtws.tools.Tool` as a Deepgram Voice Agent function declaration.

Deepgram's ``Settings`` message declares client-side functions in
``agent.think.functions``: ``{name, description, parameters}`` with a JSON
schema, and no ``endpoint`` (an endpoint would make Deepgram call an HTTP
URL itself instead of sending ``FunctionCallRequest`` to the client). It lives
in the core, next to the declaration, so the Deepgram provider only has to
call it; the inlined schema suits every think provider Deepgram forwards to.
"""

from __future__ import annotations

from typing import Any

from .declare import Tool


def deepgram_function(tool: Tool) -> dict[str, Any]:
    """One entry of ``Settings.agent.think.functions`` (a client-side function)."""
    return {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
