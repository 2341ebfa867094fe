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

import numpy as np

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
        # More opening brackets than the limit (an upper bound on the depth, counted in C)
        # is rare: only then is the value walked. An audio delta is base64, no brackets.
        if isinstance(data, str):
            opens = data.count("{") + data.count("[")
        else:
            opens = data.count(b"{") + data.count(b"[")
        too_deep = opens > MAX_DEPTH and _deeper_than(value, MAX_DEPTH, data)
    if too_deep:
        raise JSONTooDeep  # outside the except: no RecursionError chained to it
    return value


def check_depth(value: Any) -> None:
    """Raise :class:`JSONTooDeep` if an already decoded value nests too deep to send back."""
    if _deeper_than(value, MAX_DEPTH):
        raise JSONTooDeep


#: Items :func:`_deeper_than` walks (at least) before it measures the raw text instead.
_WALK_BUDGET = 1000
#: Byte → depth step: +1 for ``[`` and ``{``, -1 for ``]`` and ``}``, else 0.
_STEP = np.zeros(256, np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1
#: Bytes scanned at a time by :func:`_raw_depth`.
_SCAN_CHUNK = 2**20


def _deeper_than(value: Any, limit: int, raw: str | bytes | bytearray | None = None) -> bool:
    """Whether containers nest more than ``limit`` levels (iterative: no recursion to blow).

    Cheap for the frames that matter: an audio delta is one object of a few
    scalars, so this looks at a handful of values. A frame of millions of
    items would make a walk in Python cost several times what decoding it
    did, so past a budget the raw text is measured instead, in C.
    """
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    # One item per 16 bytes: a frame of long strings is walked (a scan would cost
    # more), one of millions of tiny items is scanned.
    budget = max(_WALK_BUDGET, len(raw) // 16) if raw is not None else -1
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        budget -= len(node)
        if budget < 0 and raw is not None:
            return _raw_depth(raw) > limit
        children: Iterable[Any] = (
            cast("dict[str, Any]", node).values() if isinstance(node, dict) else node
        )
        for child in children:
            if isinstance(child, dict | list):
                if child:
                    stack.append((cast(Any, child), depth + 1))
                elif depth + 1 > limit:
                    return True
    return False


def _raw_depth(raw: str | bytes | bytearray) -> int:
    """The nesting depth of valid JSON text, in C: a running count of brackets outside strings.

    Brackets and quotes are ASCII, and UTF-8 never uses ASCII bytes inside a
    multi-byte character, so the UTF-8 bytes are scanned as they are. With
    escaped backslashes and then escaped quotes removed, every ``"`` left opens
    or closes a string. About 10 ms a megabyte, whatever the number of items
    (a walk of the decoded value costs a microsecond per item).
    """
    if isinstance(raw, str):
        data = raw.encode("utf-8", "surrogatepass")
    else:
        encoding = json.detect_encoding(raw)
        data = bytes(raw) if encoding == "utf-8" else bytes(raw).decode(encoding).encode()
    plain = np.frombuffer(data.replace(b"\\\\", b"").replace(b'\\"', b""), np.uint8)
    depth = deepest = quotes = 0
    for start in range(0, len(plain), _SCAN_CHUNK):  # in slices: a few MB of temporaries
        part = plain[start : start + _SCAN_CHUNK]
        seen = np.cumsum(part == ord('"'), dtype=np.int32) + quotes
        steps = _STEP[part]
        steps[(seen & 1).astype(bool)] = 0  # inside a string
        running = np.cumsum(steps, dtype=np.int32) + depth
        deepest = max(deepest, int(running.max()))
        depth, quotes = int(running[-1]), int(seen[-1])
    return deepest
