"""The RTVI envelope, message ids and timestamps, and :func:`parse` (wire JSON to a model).

Kept apart from the message catalogue because it is the protocol's grammar:
every message type subclasses :class:`RTVIMessage`, which registers it by its
``type`` so :func:`parse` finds the model without a hand-kept table.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .. import safejson
from ..errors import ProtocolError

#: The RTVI version this module speaks (pipecat 1.x).
PROTOCOL_VERSION = "2.2.0"
MESSAGE_LABEL = "rtvi-ai"


def new_id() -> str:
    """A message id: unique enough to match a reply, cheap enough for 20 events a second
    per session (``uuid4`` costs a system call each)."""
    return f"{random.getrandbits(48):012x}"


def now() -> str:
    """An ISO-8601 UTC timestamp, the format RTVI transcripts carry."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RTVIParseError(ProtocolError, ValueError):
    """Wire text that is not a valid RTVI message; the message says what is wrong."""


class Data(BaseModel):
    """Base of every ``data`` payload. Unknown fields are kept, so a newer peer round-trips."""

    model_config = ConfigDict(extra="allow")


class RTVIMessage(BaseModel):
    """The RTVI envelope. Subclasses pin ``type`` and type ``data``."""

    model_config = ConfigDict(extra="forbid")

    label: Literal["rtvi-ai"] = MESSAGE_LABEL
    type: str
    id: str = Field(default_factory=new_id)

    #: True for events that exist only inside the process (never sent or received).
    local: ClassVar[bool] = False
    #: Which way the message travels on a wire: "server" (to the client) or "client".
    direction: ClassVar[Literal["server", "client", "local"]] = "server"
    registry: ClassVar[dict[str, type[RTVIMessage]]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        field = cls.model_fields.get("type")
        default = field.default if field is not None else None
        if isinstance(default, str):
            RTVIMessage.registry[default] = cls

    def to_dict(self) -> dict[str, Any]:
        """The wire object (``None`` fields omitted)."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_json(self) -> str:
        """The exact wire JSON."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)


def message_types() -> dict[str, type[RTVIMessage]]:
    """Every known ``type`` and its model."""
    return dict(RTVIMessage.registry)


def parse(raw: str | bytes | Mapping[str, Any]) -> RTVIMessage:
    """Wire JSON (or a decoded object) → the typed model; :class:`RTVIParseError` if invalid."""
    if isinstance(raw, str | bytes):
        try:
            obj: Any = safejson.loads(raw)  # ValueError (not RecursionError) when too deep
        except (ValueError, UnicodeDecodeError) as exc:
            raise RTVIParseError(f"RTVI message is not JSON: {exc}") from None
    else:
        obj = dict(raw)
        try:
            safejson.check_depth(obj)  # what parse accepts, its own output must parse
        except ValueError as exc:
            raise RTVIParseError(f"RTVI message is not usable JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise RTVIParseError(f"RTVI message must be a JSON object, got {type(obj).__name__}")
    message: dict[str, Any] = obj  # pyright: ignore[reportUnknownVariableType]
    label = message.get("label")
    if label != MESSAGE_LABEL:
        raise RTVIParseError(f"RTVI message label must be {MESSAGE_LABEL!r}, got {label!r}")
    kind = message.get("type")
    if not isinstance(kind, str):
        raise RTVIParseError(f"RTVI message needs a string 'type', got {kind!r}")
    cls = RTVIMessage.registry.get(kind)
    if cls is None:
        raise RTVIParseError(f"unknown RTVI message type {kind!r}")
    try:
        return cls.model_validate(message)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<message>'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise RTVIParseError(f"invalid RTVI {kind!r} message: {problems}") from None
