"""Finding installed providers through the ``rtws.providers`` entry-point group.

Providers register ``name = "package:TransportClass"``; looking them up by
name keeps the core free of provider imports until one is actually used.
"""

from __future__ import annotations

import difflib
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
    installed = available_providers()
    known = ", ".join(installed) or "none"
    message = f"no rtws provider named {name!r} is installed (installed: {known})"
    suggestion = closest_provider(name)
    if suggestion in installed:
        message += f"; did you mean {suggestion!r}?"
    elif suggestion is not None:
        message += f"; did you mean {suggestion!r}? pip install 'rtws[{suggestion}]'"
    raise ConfigurationError(message)


#: The providers this project publishes, as ``rtws[<name>]`` extras: the only package
#: names worth suggesting. A name typed by a user is never turned into a package name,
#: which would invite installing whatever squats on a typo (``rtws-opneai``).
FIRST_PARTY = ("openai", "gemini")


def closest_provider(name: str) -> str | None:
    """The installed or first-party provider ``name`` most likely meant, if any is close."""
    candidates = sorted(set(available_providers()) | set(FIRST_PARTY))
    if name in candidates:
        return name
    matches = difflib.get_close_matches(name.lower(), candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None
