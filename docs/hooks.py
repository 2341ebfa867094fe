"""mkdocs hook: the RTVI event table is generated from ``rtws.rtvi`` at build time.

A hand-written table drifts the day someone adds a message model; generating
it from :func:`rtws.rtvi.message_types` makes the reference exactly what the
code parses and emits. A page asks for it with the marker below.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel

from rtws import rtvi

MARKER = "<!-- rtvi-event-table -->"

_DIRECTION = {
    "server": "transport → you (and server → client on an RTVI wire)",
    "client": "you → transport (`send_message`)",
    "local": "transport → you, never on a wire",
}
_ORDER = {"server": 0, "client": 1, "local": 2}


def _type_name(annotation: Any) -> str:
    if annotation is None or annotation is type(None):
        return "null"
    if annotation is Any:
        return "any"
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(annotation, "__name__", str(annotation))


def data_fields(model: type[rtvi.RTVIMessage]) -> str:
    """The ``data`` payload's fields as ``name: type``; optional ones end in ``?``."""
    annotation = model.model_fields["data"].annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        parts = [
            f"`{name}{'' if field.is_required() else '?'}: {_type_name(field.annotation)}`"
            for name, field in annotation.model_fields.items()
        ]
        return ", ".join(parts) or "`{}`"
    if annotation is None or annotation is type(None):
        return "—"
    return f"`{_type_name(annotation)}`"


def event_table() -> str:
    """A markdown table of every RTVI message type rtws knows."""
    known = rtvi.message_types()
    rows = sorted(known.items(), key=lambda kv: (_ORDER[kv[1].direction], kv[0]))
    lines = [
        "| type | direction | model | data |",
        "| --- | --- | --- | --- |",
    ]
    for kind, model in rows:
        lines.append(
            f"| `{kind}` | {_DIRECTION[model.direction]} | `rtvi.{model.__name__}` "
            f"| {data_fields(model)} |"
        )
    return "\n".join(lines)


def on_page_markdown(markdown: str, **_: Any) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, event_table())
    return markdown
