"""The exceptions rtws raises.

Every failure a user can meet is one of these, with a message that says what
to do next. ``retryable`` is what the reconnection policy reads: a bad key or
a malformed request will fail the same way again, so retrying only hides it.
"""

from __future__ import annotations


class RTWSError(Exception):
    """Base class of every rtws error."""

    retryable: bool = False


class InvalidStateError(RTWSError):
    """An operation was called in a state that does not allow it (a bug in the caller)."""


class IllegalTransition(InvalidStateError):
    """A state change the state machine forbids: a bug in rtws or in a provider."""


class ConfigurationError(RTWSError, ValueError):
    """Options that cannot work (missing API key, bad URL, ...), found before any I/O."""


class ConnectionFailed(RTWSError):
    """The session could not be opened or was lost; ``retryable``: may trying again help?"""

    retryable = True

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class ConnectTimeout(ConnectionFailed):
    """Connecting took longer than ``connect_timeout``."""


class AuthenticationError(ConnectionFailed):
    """The provider refused the credentials (HTTP 401/403 or an auth close code). Never retried."""

    retryable = False


class RateLimited(ConnectionFailed):
    """The provider said "too many requests" (HTTP 429); ``retry_after`` is its hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConnectionLost(ConnectionFailed):
    """An open session closed without being asked to (network drop, server close, ping timeout)."""

    def __init__(
        self, message: str, *, code: int | None = None, reason: str = "", retryable: bool = True
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.code = code
        self.reason = reason


class ProviderError(RTWSError):
    """The provider reported an error in a session (an ``error`` event, not a dropped socket)."""

    def __init__(self, message: str, *, code: str | None = None, fatal: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.fatal = fatal


class DeviceError(RTWSError):
    """A sound device is missing, busy, or refused the requested format."""

    def __init__(
        self, message: str, *, device_id: str | None = None, kind: str | None = None
    ) -> None:
        super().__init__(message)
        self.device_id = device_id
        self.kind = kind


class UnsupportedMessage(RTWSError):
    """A client message type the provider has no way to carry over its protocol."""

    def __init__(self, message_type: str, provider: str) -> None:
        super().__init__(
            f"{provider} cannot send RTVI messages of type {message_type!r}; "
            "see the provider's docs for the messages it supports"
        )
        self.message_type = message_type
        self.provider = provider


class ProtocolError(RTWSError):
    """A server message that could not be understood (bad JSON, wrong types, invalid base64)."""
