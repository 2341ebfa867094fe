"""A provider's options from a TOML file, ``--option`` flags and ``--url``.

Every source ends up in one dict that the provider's own pydantic model
validates, so the CLI needs no per-provider code: a wrong value fails with
the model's message and the field's name, and fields left out get the
model's defaults (which is where API keys come from the environment).

Precedence, lowest first: environment (through the model's defaults), the
``--config`` file, ``--option`` flags, dedicated flags such as ``--url``.
"""

from __future__ import annotations

import copy
import json
import tomllib
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from ..options import TransportOptions
from ..providers import available_providers
from ..transport import RealTimeWebsocketTransport
from .errors import EXIT_USAGE, CLIError

Path_ = tuple[str, ...]

OPTION_HINT = "e.g. --option voice=marin --option turn_detection.silence_duration_ms=400"


def options_model(cls: type[RealTimeWebsocketTransport]) -> type[TransportOptions]:
    """The options model a transport class takes: ``options_class`` or its ``__init__`` hint.

    The more specific of the two wins, so a provider that only annotates its
    constructor works as well as one that sets the class attribute.
    """
    best: type[TransportOptions] = TransportOptions
    for candidate in (cls.options_class, _init_hint(cls)):
        if candidate is not None and issubclass(candidate, best):
            best = candidate
    return best


def _init_hint(cls: type[RealTimeWebsocketTransport]) -> type[TransportOptions] | None:
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # an unresolvable annotation only means "no hint"
        return None
    hint = hints.get("options")
    for candidate in (hint, *typing.get_args(hint)):
        if isinstance(candidate, type) and issubclass(candidate, TransportOptions):
            return candidate
    return None


#: Where ``--url`` goes when the options model does not name its field (``url_field``).
URL_FIELDS = ("url", "base_url", "host")


def url_field(model: type[TransportOptions]) -> str | None:
    """The options field that holds the provider's endpoint, for ``--url``.

    A model may say which with a ``url_field`` class attribute; otherwise the
    first of :data:`URL_FIELDS` it has (OpenAI: ``base_url``, Gemini: ``host``).
    """
    declared = getattr(model, "url_field", None)
    if isinstance(declared, str) and declared in model.model_fields:
        return declared
    return next((name for name in URL_FIELDS if name in model.model_fields), None)


def load_config(path: Path, provider: str) -> dict[str, Any]:
    """A TOML file's options for ``provider``.

    Top-level keys apply to every provider; a ``[provider]`` table (e.g.
    ``[openai]``) overrides them for that provider, so one file can hold the
    settings of several.
    """
    try:
        with path.open("rb") as file:
            doc = tomllib.load(file)
    except FileNotFoundError:
        raise CLIError(f"no such config file: {path}", code=EXIT_USAGE) from None
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}", code=EXIT_USAGE) from None
    except tomllib.TOMLDecodeError as exc:
        raise CLIError(
            f"{path} is not valid TOML: {exc}",
            hint='see https://toml.io; strings need quotes: voice = "marin"',
            code=EXIT_USAGE,
        ) from None
    providers = set(available_providers()) | {provider}
    shared = {k: v for k, v in doc.items() if not (k in providers and isinstance(v, dict))}
    section = doc.get(provider)
    if isinstance(section, dict):
        shared.update(typing.cast(dict[str, Any], section))
    return shared


def parse_assignment(text: str) -> tuple[Path_, str]:
    """``a.b=value`` → (("a", "b"), "value"); dashes in keys are read as underscores."""
    key, sep, value = text.partition("=")
    path = tuple(part.strip().replace("-", "_") for part in key.split("."))
    if not sep or not all(path):
        # The argument may be a bare secret pasted without its key: never echo it.
        raise CLIError(
            "--option needs KEY=VALUE (dotted keys for nested settings)",
            hint=OPTION_HINT,
            code=EXIT_USAGE,
        )
    return path, value


def parse_value(raw: str) -> Any:
    """JSON when the text is JSON (numbers, true/false, null, lists, objects), else the text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def build_options(
    model: type[TransportOptions],
    provider: str,
    *,
    config: Mapping[str, Any] | None = None,
    assignments: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
) -> TransportOptions:
    """Validate every source merged; a :class:`CLIError` naming the field if it fails.

    Two readings are retried when the literal one is refused, each only for
    the fields the error is about: a nested setting given alone
    (``turn_detection.silence_duration_ms=400``) is laid over the field's
    default, and a value that reads as JSON but was meant as text
    (``instructions=true``) is taken as the text it was typed as.
    """
    data: dict[str, Any] = copy.deepcopy(dict(config or {}))
    as_text: dict[Path_, str] = {}
    for text in assignments:
        path, raw = parse_assignment(text)
        value = parse_value(raw)
        if not isinstance(value, str | list | dict):
            as_text[path] = raw
        _set(data, path, value)
    for key, value in (overrides or {}).items():
        if key not in model.model_fields:
            raise CLIError(f"{provider} has no {key!r} option to set", code=EXIT_USAGE)
        data[key] = value
    result = _validate(model, data)
    if isinstance(result, TransportOptions):
        return result
    # The error reported is the literal reading's, or the one over defaults when that
    # applied; never the as-text retry's (a typed value's complaint says more).
    if _over_defaults(model, data, {_clean_loc(e["loc"], model)[:1] for e in result.errors()}):
        result = _validate(model, data)
        if isinstance(result, TransportOptions):
            return result
    paths = [p for p in as_text if any(_within(e["loc"], p, model) for e in result.errors())]
    if paths:
        for path in paths:
            _set(data, path, as_text[path])
        retried = _validate(model, data)
        if isinstance(retried, TransportOptions):
            return retried
    raise options_error(result, model, provider) from None


def _validate(
    model: type[TransportOptions], data: dict[str, Any]
) -> TransportOptions | ValidationError:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return exc


def _over_defaults(model: type[BaseModel], data: dict[str, Any], failed: set[Path_]) -> bool:
    """Lay partial nested settings over the field's default model; True if any changed."""
    changed = False
    for (key,) in (p for p in failed if p):
        given = data.get(key)
        field = model.model_fields.get(key)
        if not isinstance(given, dict) or field is None:
            continue
        default = field.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            data[key] = {**default.model_dump(), **typing.cast(dict[str, Any], given)}
            changed = True
    return changed


def options_error(exc: ValidationError, model: type[BaseModel], provider: str) -> CLIError:
    """One line naming the first bad field; the hint lists the fields or describes the one."""
    errors = exc.errors()
    first = errors[0]
    path = _clean_loc(first["loc"], model)
    name = ".".join(path) or "<options>"
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    more = more if len(errors) > 1 else ""
    owner = _model_at(model, path[:-1])
    if first["type"] == "extra_forbidden":
        known = ", ".join(sorted(owner.model_fields)) if owner is not None else ""
        return CLIError(
            f"{provider} has no option {name!r}{more}",
            hint=f"known options: {known}" if known else f"rtws talk {provider} --list-options",
            code=EXIT_USAGE,
        )
    message = f"bad value for option {name!r}: {first['msg']}"
    if not _is_secret(owner, path):
        shown = repr(first.get("input"))
        message += f" (got {shown[:60]}{'...' if len(shown) > 60 else ''})"
    field = owner.model_fields.get(path[-1]) if owner is not None and path else None
    hint = f"{path[-1]}: {field.description}" if field is not None and field.description else None
    listing = f"rtws talk {provider} --list-options shows every option and its default"
    return CLIError(message + more, hint=hint or listing, code=EXIT_USAGE)


def _set(data: dict[str, Any], path: Path_, value: Any) -> None:
    node = data
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = typing.cast(dict[str, Any], child)
    node[path[-1]] = value


def _within(loc: tuple[int | str, ...], path: Path_, model: type[BaseModel]) -> bool:
    return _clean_loc(loc, model)[: len(path)] == path


def _clean_loc(loc: tuple[int | str, ...], model: type[BaseModel]) -> Path_:
    """Field names only: pydantic also puts union members and validator tags in ``loc``."""
    parts: list[str] = []
    candidates: set[type[BaseModel]] = {model}
    for index, part in enumerate(loc):
        if isinstance(part, int):
            parts.append(str(part))
            continue
        owners = [m for m in candidates if part in m.model_fields]
        if owners:
            parts.append(part)
            candidates = {
                inner for m in owners for inner in _models_in(m.model_fields[part].annotation)
            }
        elif "[" not in part and (not candidates or index == len(loc) - 1):
            parts.append(part)  # a key inside a plain dict field, or an unknown field
    return tuple(parts)


def _models_in(annotation: Any) -> set[type[BaseModel]]:
    """The models a field can hold, through unions, ``Annotated`` and containers."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {annotation}
    found: set[type[BaseModel]] = set()
    for arg in typing.get_args(annotation):
        found |= _models_in(arg)
    return found


def _model_at(model: type[BaseModel], path: Sequence[str]) -> type[BaseModel] | None:
    """The (nested) model that owns the field at ``path``; None through unions and lists."""
    current: type[BaseModel] = model
    for key in path:
        field = current.model_fields.get(key)
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        current = annotation
    return current


def _is_secret(owner: type[BaseModel] | None, path: Sequence[str]) -> bool:
    if not path:
        return False
    words = set(path[-1].lower().split("_"))
    if words & {"key", "secret", "token", "password"}:
        return True
    field = owner.model_fields.get(path[-1]) if owner is not None else None
    annotation = field.annotation if field is not None else None
    return SecretStr in (annotation, *typing.get_args(annotation))
