"""Turning any failure into one line a user can act on, a hint, and an exit code.

A command-line user should never have to read a traceback to learn that a
key is wrong or a device is missing: every exception that reaches ``main``
goes through :func:`describe`, and only ``--debug`` shows the stack.
"""

from __future__ import annotations

import errno

from ..errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailed,
    ConnectTimeout,
    DeviceError,
    ProviderError,
    RTWSError,
)
from ..redact import redact
from .text import printable

#: A failure at run time (connection, device, provider).
EXIT_ERROR = 1
#: The command line or the configuration is wrong (argparse uses 2 as well).
EXIT_USAGE = 2
#: Stopped by Ctrl-C (128 + SIGINT), the shell convention.
EXIT_INTERRUPTED = 130
#: Stopped by SIGTERM (128 + 15).
EXIT_TERMINATED = 143

DEVICE_HINT = (
    "list devices with `rtws devices`, pick them with --mic/--speaker, "
    "or run without a sound card using --input/--output WAV files"
)


class CLIError(Exception):
    """A failure already phrased for the user: ``message`` is one line, ``hint`` what to try."""

    def __init__(self, message: str, *, hint: str | None = None, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = one_line(message)
        self.hint = one_line(hint) if hint else None
        self.code = code


def one_line(text: str) -> str:
    """Secrets masked, control characters escaped and line breaks folded: one readable line.

    The text often quotes a server (a refusal body, a close reason), so it goes
    through :func:`~rtws.cli.text.printable` before it reaches the terminal.
    """
    return " ".join(printable(redact(text)).split())


def describe(exc: BaseException) -> CLIError:
    """The user-facing form of any exception."""
    if isinstance(exc, CLIError):
        return exc
    text = str(exc) or type(exc).__name__
    if isinstance(exc, AuthenticationError):
        return CLIError(
            text,
            hint="check the API key: --option api_key=..., a --config file, or the provider's "
            "environment variable (e.g. OPENAI_API_KEY, GEMINI_API_KEY)",
        )
    if isinstance(exc, ConnectTimeout):
        return CLIError(
            text, hint="is the server reachable? a slow network needs --option connect_timeout=30"
        )
    if isinstance(exc, ConnectionFailed):
        return CLIError(text, hint="check the network and the server URL (--url)")
    if isinstance(exc, DeviceError):
        return CLIError(text, hint=DEVICE_HINT)
    if isinstance(exc, ConfigurationError):
        return CLIError(
            text,
            hint="check the options (--option, --config) and the provider's environment variables",
            code=EXIT_USAGE,
        )
    if isinstance(exc, ProviderError):
        return CLIError(text, hint="the provider refused the request; check the options")
    if isinstance(exc, RTWSError):
        return CLIError(text)
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return CLIError(
            f"the address is already in use ({exc.strerror or exc})",
            hint="choose another --port, or leave it out to use a free one",
        )
    if isinstance(exc, OSError):
        return CLIError(f"{type(exc).__name__}: {text}")
    return CLIError(
        f"unexpected {type(exc).__name__}: {text}",
        hint="this is probably a bug in rtws; run again with --debug for the traceback",
    )
