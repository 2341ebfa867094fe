"""What a fake server keeps of each handshake and connection, for tests to inspect.

Records are what tests assert on and what a failing test prints, so a
credential never reaches one: the headers that carry keys are masked the
way the services show a key back (a few characters at each end).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from websockets.datastructures import Headers

#: Who ended a connection: the fake (``server``; ``deadline`` when a time limit did),
#: the client, or the network (``drop``: no close frame).
ClosedBy = Literal["server", "client", "drop", "deadline"]
#: Headers whose whole value is a key.
KEY_HEADERS = frozenset({"api-key", "x-goog-api-key"})


def mask_secret(secret: str) -> str:
    """As OpenAI shows a key back: a few characters at each end, never the whole."""
    if len(secret) <= 10:
        return "*" * len(secret)
    return secret[:3] + "*" * (len(secret) - 7) + secret[-4:]


def masked_headers(headers: Headers) -> dict[str, str]:
    """The request's headers (names lower-cased) with every credential masked.

    ``Authorization`` keeps its scheme; of the offered websocket subprotocols
    only the first (``token``, ``realtime``...) is kept as is, since browsers
    pass the key itself as a subprotocol after it.
    """
    out: dict[str, str] = {}
    first_protocol = True
    for name, value in headers.raw_items():
        key = name.lower()
        if key == "authorization":
            scheme, _, secret = value.partition(" ")
            value = f"{scheme} {mask_secret(secret)}"
        elif key == "sec-websocket-protocol":
            offered: list[str] = []
            for protocol in value.split(","):
                offered.append(protocol if first_protocol else mask_secret(protocol.strip()))
                first_protocol = False
            value = ", ".join(offered)
        elif key in KEY_HEADERS:
            value = mask_secret(value)
        out[key] = value
    return out


@dataclass(frozen=True)
class Handshake:
    """One opening handshake: 101 when accepted, else the refusal's status."""

    path: str
    status: int
    headers: dict[str, str]


@dataclass(kw_only=True, eq=False)
class ConnectionRecord:
    """What every fake keeps of one connection; each provider's record adds its protocol's part.

    ``headers`` are masked (:func:`masked_headers`); ``sent`` holds the
    messages the fake sent, decoded.
    """

    index: int
    path: str
    headers: dict[str, str]
    sent: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    close_code: int | None = None
    close_reason: str = ""
    closed_by: ClosedBy | None = None

    def closing(self, code: int | None, reason: str, by: ClosedBy) -> None:
        """Record how the connection ended; the first end recorded is the one that counts."""
        if self.closed_by is None:
            self.close_code, self.close_reason, self.closed_by = code, reason, by
