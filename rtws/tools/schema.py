"""A function's signature and docstring → a pydantic model and a JSON schema for the model.

pydantic does the type work (enums, ``Optional``, nested models, lists,
constraints and ``Annotated[..., Field(description=...)]``); this module adds
what a voice model's tool declaration needs on top:

* parameter descriptions from the docstring's Args section (Google, NumPy or
  reST style, via ``docstring-parser``) when the annotation gives none;
* one self-contained schema: ``$ref``/``$defs`` inlined, because Gemini's
  OpenAPI ``Schema`` and Deepgram's think providers do not all resolve
  references, and an inlined schema means the same thing everywhere;
* no ``title`` keywords: pydantic adds one per field ("City"), which only
  costs the model tokens on every turn.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, cast, get_args, get_origin, get_type_hints

import docstring_parser
from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from ..errors import ConfigurationError


def describe(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The function's description and its per-parameter descriptions, from the docstring."""
    doc = inspect.getdoc(fn) or ""
    parsed = docstring_parser.parse(doc)
    text = "\n\n".join(p for p in (parsed.short_description, parsed.long_description) if p)
    params = {p.arg_name: " ".join(p.description.split()) for p in parsed.params if p.description}
    return text.strip(), params


def arguments_model(fn: Callable[..., Any], name: str) -> type[BaseModel]:
    """A pydantic model of the function's parameters (what the model's arguments must match).

    Fields are ``p0, p1, ...`` aliased to the parameter names (see
    :func:`keyword_arguments`).

    Every parameter must be annotated: a tool whose argument types are guessed
    would accept whatever the model invents. ``*args``/``**kwargs`` cannot be
    declared to a model, so they are refused too.
    """
    _, docs = describe(fn)
    try:
        hints = get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise ConfigurationError(
            f"tool {name!r}: cannot resolve the type hints of {fn.__qualname__}: {exc}"
        ) from exc
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ConfigurationError(
                f"tool {name!r}: *{param.name} cannot be declared to a model; name every parameter"
            )
        if param.name not in hints:
            raise ConfigurationError(
                f"tool {name!r}: parameter {param.name!r} has no type annotation "
                "(the model needs its type)"
            )
        default = ... if param.default is param.empty else param.default
        hint = hints[param.name]
        doc = docs.get(param.name)
        # ``Annotated[..., Field(description=...)]`` is more specific than the docstring.
        extra: dict[str, Any] = {}
        if doc is not None and not _annotated_description(hint):
            extra["description"] = doc
        # Stored under a safe name, aliased to the parameter's: a parameter may be called
        # ``json``, ``copy`` or ``model_config``, which a pydantic field may not.
        fields[f"p{len(fields)}"] = (hint, Field(default, alias=param.name, **extra))
    try:
        return create_model(  # pyright: ignore[reportCallIssue, reportUnknownVariableType]
            f"{name}_arguments",
            __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=False),
            **fields,
        )
    except Exception as exc:
        raise ConfigurationError(f"tool {name!r}: unsupported parameter type: {exc}") from exc


def keyword_arguments(model: BaseModel) -> dict[str, Any]:
    """A validated arguments model as the function's keyword arguments (Python values kept)."""
    fields = type(model).model_fields
    return {info.alias or name: getattr(model, name) for name, info in fields.items()}


def json_schema(model: type[BaseModel], name: str) -> dict[str, Any]:
    """The model's JSON schema, self-contained (refs inlined) and without titles."""
    try:
        raw = model.model_json_schema()
    except Exception as exc:
        raise ConfigurationError(
            f"tool {name!r}: no JSON schema for its parameters: {exc}"
        ) from exc
    defs = cast(dict[str, Any], raw.pop("$defs", {}))
    schema = cast(dict[str, Any], _inline(raw, defs, (), name))
    schema.setdefault("properties", {})
    schema.pop("additionalProperties", None)
    return schema


def _inline(node: Any, defs: dict[str, Any], seen: tuple[str, ...], tool: str) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs, seen, tool) for item in cast(list[Any], node)]
    if not isinstance(node, dict):
        return node
    node = cast(dict[str, Any], node)
    ref = node.get("$ref")
    if isinstance(ref, str):
        key = ref.rsplit("/", 1)[-1]
        if key in seen:
            raise ConfigurationError(
                f"tool {tool!r}: {key} refers to itself; recursive types cannot be "
                "declared to every provider"
            )
        target = dict(cast(dict[str, Any], defs[key]))
        # A field's own description (from the docstring) beats the referenced type's.
        target.update({k: v for k, v in node.items() if k != "$ref"})
        return _inline(target, defs, (*seen, key), tool)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title":
            continue
        if key == "properties":
            props = cast(dict[str, Any], value)
            out[key] = {p: _inline(v, defs, seen, tool) for p, v in props.items()}
        else:
            out[key] = _inline(value, defs, seen, tool)
    return out


def _annotated_description(hint: Any) -> bool:
    if get_origin(hint) is not Annotated:
        return False
    return any(isinstance(m, FieldInfo) and m.description for m in get_args(hint)[1:])
