"""Keeping secrets out of logs, reprs, exceptions and events.

API keys and ephemeral tokens travel in headers and, for some providers, in
URLs (``?key=``). Every string rtws builds for a human passes through a
:class:`Redactor` that knows the live secrets; the websocket library's own
debug log of handshake headers goes through :func:`redacting_logger`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "***"

#: Query parameters that carry credentials in the wild.
_SECRET_QUERY = re.compile(
    r"(?i)([?&](?:key|api[-_]?key|access_token|token|client_secret|sig|signature)=)[^&#\s'\"]+"
)
#: Authorization-style header values, as printed by HTTP and websocket debug logs.
#: The scheme ("Bearer") is kept: which kind of credential was sent helps debugging.
_SECRET_HEADER = re.compile(
    r"(?i)((?:authorization|api-key|x-goog-api-key|x-api-key|openai-api-key)['\"]?\s*[:=]\s*"
    r"['\"]?(?:(?:bearer|token|basic)\s+)?)[^\s,'\"}]+"
)


class Redactor:
    """Replaces known secrets and credential-looking fields in text with ``***``."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: set[str] = set()
        #: Longest first (a key containing another is masked whole); sorted once per
        #: new secret, not on every call: every log line and event goes through here.
        self._ordered: tuple[str, ...] = ()
        for s in secrets:
            self.add(s)

    def add(self, secret: str | None) -> None:
        # Very short strings would mask innocent text; real keys are long.
        if secret and len(secret) >= 6 and secret not in self._secrets:
            self._secrets.add(secret)
            self._ordered = tuple(sorted(self._secrets, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret in self._ordered:
            text = text.replace(secret, MASK)
        text = _SECRET_QUERY.sub(rf"\g<1>{MASK}", text)
        return _SECRET_HEADER.sub(rf"\g<1>{MASK}", text)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"


#: The process-wide redactor: every transport registers its secrets here, so a
#: key is masked wherever it shows up, whichever session logged it.
SECRETS = Redactor()


def register_secret(secret: str | None) -> None:
    SECRETS.add(secret)


def redact(text: str) -> str:
    return SECRETS(text)


class _RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = SECRETS(message)
        if clean != message:
            record.msg = clean
            record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            # A traceback prints the exception's message, which may quote a server's
            # reply. Handlers format ``exc_text`` when it is set; the live exception is
            # dropped so no handler can format it again unredacted.
            record.exc_text = SECRETS(_FORMATTER.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = SECRETS(record.exc_text)
        if record.stack_info:
            record.stack_info = SECRETS(record.stack_info)
        return True


_FORMATTER = logging.Formatter()


_FILTER = _RedactFilter()


def get_logger(name: str) -> logging.Logger:
    """A logger whose records are redacted before any handler sees them.

    Logger filters do not apply to records propagated from child loggers,
    so every logger rtws (or a library it drives) writes to gets its own.
    """
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


# The HTTP client logs request URLs; websockets gets rtws' logger explicitly, but
# its default loggers (used by servers and by code that opens sockets itself, as
# the fake servers do) log handshake headers at DEBUG too.
for _name in (
    "httpx",
    "httpcore.http11",
    "httpcore.connection",
    "httpcore.http2",
    "websockets",
    "websockets.client",
    "websockets.server",
):
    get_logger(_name)
