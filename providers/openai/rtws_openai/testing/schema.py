"""Validation of client payloads, refusing them in the API's own words.

A fake that accepts anything hides client bugs the real service would catch
(a missing ``session.type``, a threshold of 2, a typo'd field), so every client
event is checked field by field. The messages, codes and ``param`` paths copy
the shapes OpenAI returns (``"Unknown parameter: 'session.foo'."``,
``missing_required_parameter``, ...), so client error handling is exercised
with realistic errors. Validators return the value, normalised where the API
normalises it (integers given for decimals stay numbers).
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Collection, Mapping
from typing import Any, cast

#: A validator checks ``value`` found at ``path`` and returns it (possibly normalised).
Validator = Callable[[Any, str], Any]


class InvalidRequest(Exception):
    """A client payload the real service would refuse with an ``error`` event."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None,
        param: str | None = None,
        type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.type = type


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def kind(value: object) -> str:
    """How OpenAI names a JSON type in its messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "an unknown type"


def _wrong_type(path: str, expected: str, value: object) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid type for '{path}': expected {expected}, but got {kind(value)} instead.",
        code="invalid_type",
        param=path,
    )


def quote_values(values: Collection[object]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def base64_audio(value: str, param: str) -> bytes:
    """Audio as the service decodes it: strict base64, or ``invalid_value`` naming ``param``."""
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(
            f"Invalid '{param}': expected base64-encoded PCM16 audio.",
            code="invalid_value",
            param=param,
        ) from None


def invalid_value(path: str, value: object, supported: Collection[object]) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid value: '{value}'. Supported values are: {quote_values(supported)}.",
        code="invalid_value",
        param=path,
    )


def anything() -> Validator:
    return lambda value, path: value


def string() -> Validator:
    def check(value: Any, path: str) -> Any:
        if not isinstance(value, str):
            raise _wrong_type(path, "a string", value)
        return value

    return check


def boolean() -> Validator:
    def check(value: Any, path: str) -> Any:
        if not isinstance(value, bool):
            raise _wrong_type(path, "a boolean", value)
        return value

    return check


def _bounded(value: float, path: str, lo: float | None, hi: float | None, what: str) -> None:
    if lo is not None and value < lo:
        raise InvalidRequest(
            f"Invalid '{path}': {what} below minimum value. "
            f"Expected a value >= {lo}, but got {value} instead.",
            code=f"{what}_below_min_value",
            param=path,
        )
    if hi is not None and value > hi:
        raise InvalidRequest(
            f"Invalid '{path}': {what} above maximum value. "
            f"Expected a value <= {hi}, but got {value} instead.",
            code=f"{what}_above_max_value",
            param=path,
        )


def integer(lo: int | None = None, hi: int | None = None) -> Validator:
    def check(value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong_type(path, "an integer", value)
        _bounded(value, path, lo, hi, "integer")
        return value

    return check


def number(lo: float | None = None, hi: float | None = None) -> Validator:
    def check(value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _wrong_type(path, "a decimal", value)
        _bounded(float(value), path, lo, hi, "decimal")
        return value

    return check


def enum(*values: str | int) -> Validator:
    def check(value: Any, path: str) -> Any:
        if isinstance(value, bool) or value not in values:
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise _wrong_type(path, "a string", value)
            raise invalid_value(path, value, values)
        return value

    return check


def nullable(inner: Validator) -> Validator:
    return lambda value, path: None if value is None else inner(value, path)


def array(item: Validator) -> Validator:
    def check(value: Any, path: str) -> Any:
        if not isinstance(value, list):
            raise _wrong_type(path, "an array", value)
        items = cast(list[Any], value)
        return [item(element, f"{path}[{i}]") for i, element in enumerate(items)]

    return check


def obj(fields: Mapping[str, Validator], required: Collection[str] = ()) -> Validator:
    """A JSON object: unknown keys are refused, as the API does."""

    def check(value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise _wrong_type(path, "an object", value)
        given = cast(dict[str, Any], value)
        for key in given:
            if key not in fields:
                raise InvalidRequest(
                    f"Unknown parameter: '{join(path, key)}'.",
                    code="unknown_parameter",
                    param=join(path, key),
                )
        for key in required:
            if key not in given:
                raise InvalidRequest(
                    f"Missing required parameter: '{join(path, key)}'.",
                    code="missing_required_parameter",
                    param=join(path, key),
                )
        return {key: fields[key](given[key], join(path, key)) for key in given}

    return check


def tagged(tag: str, variants: Mapping[str, Validator]) -> Validator:
    """An object whose ``tag`` field picks its shape (``type`` mostly)."""

    def check(value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise _wrong_type(path, "an object", value)
        given = cast(dict[str, Any], value)
        if tag not in given:
            raise InvalidRequest(
                f"Missing required parameter: '{join(path, tag)}'.",
                code="missing_required_parameter",
                param=join(path, tag),
            )
        variant = given[tag]
        if not isinstance(variant, str):
            raise _wrong_type(join(path, tag), "a string", variant)
        if variant not in variants:
            raise invalid_value(join(path, tag), variant, list(variants))
        return variants[variant](given, path)

    return check


def either(*validators: Validator) -> Validator:
    """The first shape that fits; the first shape's complaint otherwise."""

    def check(value: Any, path: str) -> Any:
        first: InvalidRequest | None = None
        for validator in validators:
            try:
                return validator(value, path)
            except InvalidRequest as exc:
                first = first or exc
        assert first is not None
        raise first

    return check
