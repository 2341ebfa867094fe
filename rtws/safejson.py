"""JSON from a server, decoded with a bound on nesting.

Python's decoder recurses once per ``[`` or ``{``: a 2 kB frame nested a
thousand deep raises :class:`RecursionError`, which is not a ``ValueError``
and so slipped past every ``except ValueError`` around ``json.loads`` and
killed the task that read the frame. Even a frame that decodes can blow the
stack later, in whatever walks it (validation, redaction, printing). No
provider message nests more than a dozen levels, so anything deeper than
:data:`MAX_DEPTH` is refused here, with a :class:`JSONTooDeep` (a
``ValueError``, so existing handlers treat it as "not usable JSON").
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

#: Deepest nesting accepted (the default of Google's protobuf JSON parser, too).
MAX_DEPTH = 100


class JSONTooDeep(ValueError):
    """The JSON nests deeper than :data:`MAX_DEPTH` levels."""

    def __init__(self) -> None:
        super().__init__(f"JSON nested deeper than {MAX_DEPTH} levels")


def loads(data: str | bytes | bytearray) -> Any:
    """``json.loads`` that raises ``ValueError`` (never ``RecursionError``) on deep nesting."""
    try:
        value: Any = json.loads(data)
    except RecursionError:
        value, too_deep = None, True
    else:
        too_deep = _deeper_than(value, MAX_DEPTH)
    if too_deep:
        raise JSONTooDeep  # outside the except: no RecursionError chained to it
    return value


def check_depth(value: Any) -> None:
    """Raise :class:`JSONTooDeep` if an already decoded value nests too deep to send back."""
    if _deeper_than(value, MAX_DEPTH):
        raise JSONTooDeep


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest more than ``limit`` levels (iterative: no recursion to blow).

    Cheap for the frames that matter: an audio delta is one object of a few
    scalars, so this looks at a handful of values.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[Any] = cast("dict[str, Any]", node).values()
        elif isinstance(node, list):
            children = cast("list[Any]", node)
        else:
            continue
        if depth > limit:
            return True
        for child in children:
            if isinstance(child, dict | list):
                stack.append((cast(Any, child), depth + 1))
    return False
