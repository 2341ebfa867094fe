"""Finding installed providers through the ``rtws.providers`` entry-point group.

Providers register ``name = "package:TransportClass"``; looking them up by
name keeps the core free of provider imports until one is actually used.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .transport import RealTimeWebsocketTransport

GROUP = "rtws.providers"


def available_providers() -> list[str]:
    """Names of the installed providers, sorted."""
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def load_provider(name: str) -> type[RealTimeWebsocketTransport]:
    """The transport class registered as ``name``; a clear error lists the installed ones."""
    from .transport import RealTimeWebsocketTransport

    for ep in entry_points(group=GROUP, name=name):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, RealTimeWebsocketTransport)):
            raise ConfigurationError(
                f"entry point {name!r} ({ep.value}) is not a RealTimeWebsocketTransport subclass"
            )
        return cls
    known = ", ".join(available_providers()) or "none"
    raise ConfigurationError(
        f"no rtws provider named {name!r} is installed (installed: {known}); "
        f"try: pip install rtws-{name}"
    )
