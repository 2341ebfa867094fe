"""``Tool``: one plain Python function, declared once for every provider.

The name comes from the function, the description from its docstring, the
parameter schema from its type hints (see :mod:`.schema`). Providers only
translate a :class:`Tool`'s ``name``/``description``/``parameters`` into
their wire format; the runner (:mod:`.runner`) validates the model's
arguments with :attr:`Tool.arguments` and calls the function.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any, overload

from pydantic import BaseModel, GetCoreSchemaHandler, ValidationError
from pydantic_core import core_schema

from ..errors import ConfigurationError
from .schema import arguments_model, describe, json_schema, keyword_arguments

#: Names every provider accepts (OpenAI's rule is the strictest: letters, digits, _ and -).
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
#: Seconds a call may take by default before the model is told it timed out.
DEFAULT_TIMEOUT = 30.0


class InvalidArguments(ValueError):
    """The model's arguments do not match the tool's parameters (the model is told why)."""


class Tool:
    """A function the model may call, with everything each provider needs to declare it.

    Build one with :func:`tool` (or pass the bare function wherever tools are
    accepted). Calling a ``Tool`` calls the function, so decorating one keeps
    it usable as before.
    """

    __slots__ = (
        "arguments",
        "cancel_on_interruption",
        "description",
        "fn",
        "name",
        "parameters",
        "timeout",
    )

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        cancel_on_interruption: bool = True,
    ) -> None:
        if not callable(fn):
            raise ConfigurationError(f"a tool must be a function, not {type(fn).__name__}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "")
        if not _NAME.match(self.name):
            raise ConfigurationError(
                f"tool name {self.name!r} is not valid for every provider: use 1-64 letters, "
                "digits, _ or -, starting with a letter or _"
            )
        if timeout is not None and not timeout > 0:
            raise ConfigurationError(f"tool {self.name!r}: timeout must be > 0 s or None")
        doc, _ = describe(fn)
        self.description = description if description is not None else doc
        #: The pydantic model the model's arguments are validated with.
        self.arguments: type[BaseModel] = arguments_model(fn, self.name)
        #: JSON schema of the arguments (``"type": "object"``, self-contained).
        self.parameters: dict[str, Any] = json_schema(self.arguments, self.name)
        #: Seconds before a running call counts as failed; ``None`` waits for ever.
        self.timeout = timeout
        #: Whether the user talking over a running call cancels it (see docs/tools.md).
        self.cancel_on_interruption = cancel_on_interruption

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.fn)

    def validate(self, arguments: Mapping[str, Any] | None) -> dict[str, Any]:
        """The model's arguments as the function's keyword arguments, or :exc:`InvalidArguments`.

        Values keep their declared Python types (an ``Enum`` member, a nested
        ``BaseModel``), not the JSON they came as.
        """
        try:
            model = self.arguments.model_validate(dict(arguments or {}))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors()
            )
            raise InvalidArguments(f"invalid arguments for {self.name}: {problems}") from None
        return keyword_arguments(model)

    def declaration(self) -> dict[str, Any]:
        """Provider-neutral ``{name, description, parameters}`` (JSON schema)."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Tool({self.name!r}, timeout={self.timeout})"

    @classmethod
    def coerce(cls, value: Any) -> Tool:
        """A ``Tool`` as is; a plain function becomes one with the defaults."""
        if isinstance(value, Tool):
            return value
        if callable(value) and not isinstance(value, type):
            return cls(value)
        raise ValueError(
            f"expected a function or rtws.tools.Tool, got {type(value).__name__} "
            "(declarations for a single provider go in its own tool type)"
        )

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """So option models can hold tools: functions are converted, dumps give the declaration."""
        return core_schema.no_info_plain_validator_function(
            cls.coerce,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda t: t.declaration()  # pyright: ignore[reportUnknownLambdaType, reportUnknownMemberType]
            ),
        )


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    cancel_on_interruption: bool = True,
) -> Callable[[Callable[..., Any]], Tool]: ...
def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    cancel_on_interruption: bool = True,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """``@tool`` or ``@tool(timeout=5)``: declare a function as a tool (it stays callable)."""

    def make(f: Callable[..., Any]) -> Tool:
        return Tool(
            f,
            name=name,
            description=description,
            timeout=timeout,
            cancel_on_interruption=cancel_on_interruption,
        )

    return make(fn) if fn is not None else make
