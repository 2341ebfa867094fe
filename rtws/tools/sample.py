"""Arguments drawn from a tool's JSON schema: what the fake servers "call" tools with.

A fake model that calls a declared tool should send what a real model could:
arguments that fit the declared schema, but not always the same ones. This
covers the JSON schema that :mod:`rtws.tools.schema` produces (types, enums,
``const``, ``anyOf``, bounds, nested objects and arrays), which is all a
provider's tool declaration may hold.
"""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Callable
from typing import Any, cast


def sample_arguments(schema: dict[str, Any], rng: random.Random | None = None) -> dict[str, Any]:
    """A valid arguments object for ``schema`` (an ``"object"`` schema)."""
    value = sample_value(schema, rng or random.Random())
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def sample_value(schema: dict[str, Any], rng: random.Random) -> Any:
    """One value valid against ``schema``; optional properties are sent half the time."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(cast(list[Any], schema["enum"]))
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return sample_value(rng.choice(cast(list[dict[str, Any]], schema[key])), rng)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = rng.choice(cast(list[str], kind))
    if kind == "object" or "properties" in schema:
        return _object(schema, rng)
    if kind == "array":
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", low + 3))
        items = cast(dict[str, Any], schema.get("items") or {"type": "string"})
        return [sample_value(items, rng) for _ in range(rng.randint(low, high))]
    if kind == "integer":
        low, high = _bounds(schema, -100, 100)
        return rng.randint(int(low), int(high))
    if kind == "number":
        low, high = _bounds(schema, -100.0, 100.0)
        return round(rng.uniform(low, high), 3)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return _string(schema, rng)


def _object(schema: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    properties = cast(dict[str, dict[str, Any]], schema.get("properties") or {})
    required = set(cast(list[str], schema.get("required") or []))
    return {
        name: sample_value(sub, rng)
        for name, sub in properties.items()
        if name in required or rng.random() < 0.5
    }


def _bounds(schema: dict[str, Any], low: float, high: float) -> tuple[float, float]:
    lo = float(schema.get("minimum", schema.get("exclusiveMinimum", low - 1) + 1))
    hi = float(schema.get("maximum", schema.get("exclusiveMaximum", high + 1) - 1))
    return lo, max(lo, hi)


#: Values for the string formats pydantic emits for dates, times and ids.
_FORMATS: dict[str, Callable[[random.Random], str]] = {
    "date": lambda rng: f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    "date-time": lambda rng: f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00Z",
    "time": lambda rng: f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00",
    "uuid": lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
}


def _string(schema: dict[str, Any], rng: random.Random) -> str:
    make = _FORMATS.get(str(schema.get("format")))
    if make is not None:
        return make(rng)
    low = int(schema.get("minLength", 1))
    high = max(low, int(schema.get("maxLength", low + 8)))
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(low, high)))
