"""Whether a URL would carry credentials in cleartext, and the error that says so.

A key sent over ``ws://`` or ``http://`` can be read by anyone on the path:
café Wi-Fi, a corporate proxy, a compromised router. That is fine for a fake
server or an SSH tunnel on this machine (loopback traffic never leaves it),
and a deliberate choice anywhere else, so providers refuse cleartext to any
other host unless the user opts in (``allow_cleartext=True``).

Hosts are judged by name only, without a DNS lookup: ``localhost`` (and
``*.localhost``, which RFC 6761 reserves for loopback) and loopback IP
literals count; a name that merely resolves to 127.0.0.1 does not.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

CLEARTEXT_SCHEMES = frozenset({"http", "ws"})


def is_loopback_host(host: str | None) -> bool:
    """``localhost``, ``*.localhost``, ``127.0.0.0/8`` or ``::1`` (no DNS lookup)."""
    if not host:
        return False
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def cleartext_problem(url: str, what: str, opt_in: str = "allow_cleartext") -> str | None:
    """Why ``url`` must not carry credentials (None when it may), worded for a user."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in CLEARTEXT_SCHEMES or is_loopback_host(parts.hostname):
        return None
    secure = {"http": "https", "ws": "wss"}[parts.scheme.lower()]
    return (
        f"{what} {parts.scheme}://{parts.hostname}… would send the API key unencrypted to a host "
        f"that is not this machine; use {secure}://, or set {opt_in}=True if the network "
        "path is trusted (e.g. a proxy on your LAN)"
    )
