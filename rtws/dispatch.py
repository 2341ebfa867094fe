"""The dispatch table that turns a provider's wire messages into handler calls.

A provider registers one handler per message type (``on_llm_message``) and
the receive loop hands every frame here. Everything that can go wrong with a
server message stops here too: a frame that is not JSON, a handler that
chokes on a malformed field, a type nobody handles. Each becomes a counted,
logged warning (and an ``error`` event where the user should know), never a
dead session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any

from . import safejson
from .errors import ConnectionFailed, ProtocolError
from .redact import get_logger, redact
from .safejson import JSONTooDeep

log = get_logger("rtws.dispatch")

#: A provider's handler for one incoming message type (sync or async). What a sync
#: handler returns is ignored, so a lambda around a helper that returns a value
#: (``lambda m: self.user_started_speaking()``) is fine.
LLMHandler = Callable[[dict[str, Any]], Awaitable[None] | object]
#: A provider's handler for binary frames, as raw bytes (sync or async).
BinaryHandler = Callable[[bytes], Awaitable[None] | object]


@dataclass(slots=True)
class TransportStats:
    """Counters that prove nothing was lost silently."""

    chunks_sent: int = 0
    chunks_dropped_not_ready: int = 0
    chunks_dropped_reconnecting: int = 0
    chunks_gated: int = 0  # sent as silence by the echo gate
    late_audio_dropped: int = 0  # bot audio of an item the user had already interrupted
    bot_audio_dropped_ms: int = 0  # bot audio beyond options.max_playout_s (the buffer was full)
    messages_received: int = 0
    unknown_messages: int = 0
    malformed_messages: int = 0
    #: Of them, binary frames after the first that is not JSON: logged, not each an event.
    binary_unreported: int = 0
    reconnects: int = 0


def decode_json_object(frame: str | bytes, provider: str) -> dict[str, Any]:
    """One text or binary (UTF-8) frame → a JSON object, or :class:`ProtocolError`.

    Nothing else escapes: deep nesting is refused (:mod:`rtws.safejson`), and
    the error is raised outside the ``except`` so it does not carry the
    decoder's exception, whose ``doc`` is the whole frame (maybe a key the
    server echoed).
    """
    try:
        data: Any = safejson.loads(frame)
    except JSONTooDeep as exc:
        problem = f"{provider} sent {exc}"
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(frame, bytes):
            problem = (
                f"{provider} sent a binary frame ({len(frame)} bytes) that is not JSON; a "
                "provider whose protocol sends raw binary frames registers on_binary_message()"
            )
        else:
            problem = f"{provider} sent a frame that is not JSON: {exc}"
    else:
        if isinstance(data, dict):
            return data  # pyright: ignore[reportUnknownVariableType]
        problem = f"{provider} sent JSON that is not an object"
    raise ProtocolError(problem)


#: The dispatch key of a binary frame when a binary handler is registered.
BINARY_KINDS = ("<binary frame>",)


class Dispatcher:
    """Message type → handler, with the decoding and failure policy around it."""

    def __init__(
        self,
        provider: str,
        stats: TransportStats,
        *,
        decode: Callable[[str | bytes], dict[str, Any]],
        kinds: Callable[[dict[str, Any]], Iterable[str]],
        report: Callable[[str], None],
    ) -> None:
        self.provider = provider
        self.stats = stats
        self._decode = decode
        self._kinds = kinds
        self._report = report  # surfaces a non-fatal problem to the user (an error event)
        self._handlers: dict[str, LLMHandler] = {}
        self._ignored: set[str] = set()
        self._binary: BinaryHandler | None = None
        self._binary_table: dict[str, Callable[[Any], object]] = {}
        self._binary_reported = False

    def register(self, message_type: str, handler: LLMHandler) -> None:
        self._handlers[message_type] = handler

    def register_binary(self, handler: BinaryHandler | None) -> None:
        """Binary frames go to ``handler`` undecoded (None: decode them like text frames)."""
        self._binary = handler
        self._binary_table = {BINARY_KINDS[0]: handler} if handler is not None else {}

    def new_connection(self) -> None:
        """A fresh connection: its first undecodable binary frame is reported again."""
        self._binary_reported = False

    @property
    def types(self) -> frozenset[str]:
        """The message types with a handler."""
        return frozenset(self._handlers)

    async def dispatch(self, frame: str | bytes) -> None:
        """Decode one frame and run the handler of each of its types. Never raises."""
        self.stats.messages_received += 1
        message: Any
        if self._binary is not None and type(frame) is bytes:
            # Raw bytes, undecoded, to the binary handler: the same loop below runs it.
            message, kinds, handlers = frame, BINARY_KINDS, self._binary_table
        else:
            try:
                message = self._decode(frame)
                kinds = tuple(self._kinds(message))
            except ProtocolError as exc:
                self._undecodable(frame, exc)
                return
            handlers = self._handlers
        handled = False
        for kind in kinds:
            handler = handlers.get(kind)
            if handler is None:
                continue
            handled = True
            # Inline, not a helper coroutine: this runs for every frame of every session.
            try:
                result = handler(message)
                if result is not None and isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except ConnectionFailed as exc:
                # The handler's answer (a truncate after speech_started, say) met a socket
                # that is closing: not a bad message; the receive loop owns the recovery.
                log.debug("%s handler for %r could not answer: %s", self.provider, kind, exc)
            except Exception as exc:
                self._handler_failed(kind, exc)
        if not handled:
            self.stats.unknown_messages += 1
            kind = kinds[0] if kinds else "<no type>"
            if kind not in self._ignored:  # once per type: a chatty server must not flood logs
                self._ignored.add(kind)
                log.info("%s: ignoring message type %r", self.provider, kind)

    def _undecodable(self, frame: str | bytes, exc: ProtocolError) -> None:
        self.stats.malformed_messages += 1
        if type(frame) is bytes:
            # A stream of raw frames would be ~50 identical errors a second: once is enough.
            if self._binary_reported:
                self.stats.binary_unreported += 1
                return
            self._binary_reported = True
        log.warning("%s", exc)
        self._report(str(exc))

    def _handler_failed(self, kind: str, exc: Exception) -> None:
        """A field of the wrong type or a missing key: the message is lost, the session is not."""
        self.stats.malformed_messages += 1
        detail = redact(repr(exc))
        log.warning("%s handler for %r failed: %s", self.provider, kind, detail, exc_info=exc)
        self._report(f"could not handle {self.provider} message {kind!r}: {detail}")
