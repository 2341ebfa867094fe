"""What the base gives a provider: the helpers its hooks and handlers call.

A mixin of :class:`~rtws.RealTimeWebsocketTransport`, kept apart from the
user-facing API so each audience reads one page. Everything here is public
and documented in ``docs/providers.md``; a provider needs nothing private.

Most helpers are one line over the :class:`~rtws.conversation.Conversation`
(replies, speaking, transcripts, tool calls) or the session (socket, tasks).
A provider may also hand typed events to :meth:`ProviderAPI.feed`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from . import rtvi
from .audio import PlaybackMark
from .connection import WebSocketConnection
from .conversation import Conversation, events, metrics
from .dispatch import BinaryHandler, Dispatcher, LLMHandler, TransportStats
from .errors import ConnectionFailed, ProtocolError, RTWSError
from .events import EventBus
from .latency import TurnLatency
from .media.base import MediaManager
from .monitor import SessionMonitor
from .redact import get_logger, redact
from .transport_output import NO_MARK
from .transport_output import TransportOutput as TransportOutput  # its home before the split
from .transport_part import TransportPart

if TYPE_CHECKING:
    from .options import TransportOptions

log = get_logger("rtws.provider")


class ProviderAPI(TransportPart):
    """The provider helpers (see the module docstring)."""

    options: TransportOptions
    stats: TransportStats
    conversation: Conversation
    _bus: EventBus
    _dispatcher: Dispatcher
    _monitor: SessionMonitor
    _media: MediaManager | None
    _ws: WebSocketConnection | None
    #: End of the user's speech → first reply sample played (:mod:`rtws.latency`). A
    #: provider that learns where speech ended feeds it (``sent`` for every mic chunk,
    #: ``speech_ended``, ``reset`` for a new server timeline); the base reports it.
    turn_latency: TurnLatency

    if TYPE_CHECKING:

        @property
        def model_name(self) -> str | None: ...

        def close_error(self, code: int | None, reason: str) -> RTWSError: ...

        def _became_ready(self) -> None: ...

        async def _close_websocket(self) -> None: ...

        async def _receive_loop(self, conn: WebSocketConnection) -> None: ...

    # ================================================================ events
    def emit(self, message: rtvi.RTVIMessage) -> None:
        """Deliver an RTVI event to the user."""
        self._bus.emit(message)

    def wants(self, event_type: str) -> bool:
        """Whether an event of this type would reach anyone (a handler or an iterator).

        For chatty events (a transcript delta every few words, per session):
        building a model nobody receives is most of what they cost.
        """
        return self._bus.has_listeners(event_type)

    def emit_bot_ready(self, about: Mapping[str, Any] | None = None) -> None:
        """``bot-ready``: the session is usable; the transport becomes ``ready``."""
        self._became_ready()
        self.emit(
            rtvi.BotReady(
                data=rtvi.BotReadyData(
                    version=rtvi.PROTOCOL_VERSION,
                    about=dict(about or {"provider": self.provider_name}),
                )
            )
        )

    def emit_error(self, message: str, *, fatal: bool = False) -> None:
        self.emit(rtvi.Error(data=rtvi.ErrorData(error=redact(message), fatal=fatal)))

    def emit_metrics(
        self,
        *,
        ttfb: list[dict[str, Any]] | None = None,
        processing: list[dict[str, Any]] | None = None,
        tokens: list[dict[str, Any]] | None = None,
    ) -> None:
        """A ``metrics`` event. Each list holds ``{"processor": str, "model": str (optional),
        "value": ...}``; ``ttfb`` and ``processing`` values are seconds (float), a ``tokens``
        value is ``{"prompt_tokens", "completion_tokens", "total_tokens"}`` (ints, plus
        optional ``cache_read_input_tokens``). Empty lists are left out."""
        self.emit(metrics(ttfb=ttfb, processing=processing, tokens=tokens))

    # ================================================================ frames
    def on_llm_message(self, message_type: str, handler: LLMHandler) -> None:
        """Register the handler for one provider message type (the dispatch table)."""
        self._dispatcher.register(message_type, handler)

    def on_llm_messages(self, table: Mapping[str, LLMHandler]) -> None:
        """Register a whole dispatch table: ``{message type: handler}``."""
        for message_type, handler in table.items():
            self.on_llm_message(message_type, handler)

    def ignore_llm_messages(self, message_types: Iterable[str]) -> None:
        """Known messages with nothing to translate: not counted or reported as unknown."""
        for message_type in message_types:
            self._dispatcher.register(message_type, _nothing_to_translate)

    def on_binary_message(self, handler: BinaryHandler | None) -> None:
        """Binary frames go to ``handler(data: bytes)`` as they are, never JSON-decoded.

        For protocols whose wire carries raw audio (Deepgram's linear16). Without
        one, a binary frame is decoded like a text frame (JSON in UTF-8).
        """
        self._dispatcher.register_binary(handler)

    async def dispatch_frame(self, frame: str | bytes) -> None:
        """Run one frame through the dispatch table: for a provider that reads its own
        connection (an SDK client) but still wants the table. Never raises."""
        await self._dispatcher.dispatch(frame)

    async def open_websocket(
        self, url: str, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> WebSocketConnection:
        """Open the provider socket and start the receive loop that feeds the dispatch table."""
        await self._close_websocket()
        conn = WebSocketConnection(
            url,
            provider=self.provider_name,
            headers=headers,
            open_timeout=self.options.connect_timeout,
            ping_interval=self.options.ping_interval,
            ping_timeout=self.options.ping_timeout,
            close_error=self.close_error,
            **kwargs,
        )
        await conn.open()
        self._ws = conn
        self._dispatcher.new_connection()
        self._sessions.connection_opened()
        self.spawn(self._receive_loop(conn), "receive")
        return conn

    @property
    def ws(self) -> WebSocketConnection:
        if self._ws is None:
            raise ConnectionFailed(f"{self.provider_name} is not connected", retryable=False)
        return self._ws

    def send_json(self, message: Mapping[str, Any]) -> Awaitable[None]:
        """Send one JSON message (await it). Hands back the socket's own awaitable
        rather than wrapping it in a coroutine: the mic sends 50 of these a second."""
        return self.ws.send_json(message)

    def send_raw(self, text: str) -> Awaitable[None]:
        """Send JSON text the provider serialized itself (await it).

        For the one message sent 50 times a second: a mic chunk is a constant
        prefix, base64 (which never needs escaping) and a constant suffix, and
        pasting those is 30 times cheaper than running the JSON encoder over
        the base64 text. Everything else should use :meth:`send_json`.
        """
        return self.ws.write(text)

    def send_bytes(self, data: bytes | bytearray | memoryview) -> Awaitable[None]:
        """Send one binary frame (raw PCM for protocols that carry it); await it."""
        return self.ws.send_bytes(data)

    # ================================================================ the conversation
    def feed(self, event: events.ProviderEvent) -> Any:
        """Hand one typed provider event to the conversation core (see :mod:`rtws.conversation`)."""
        return self.conversation.handle(event)

    def play_bot_audio(self, pcm: bytes, item_id: str | None = None) -> None:
        """Queue bot audio (PCM16 mono at ``output_sample_rate``) for the speaker.

        ``item_id`` is the reply's id on the wire; with None the base tracks
        replies itself (a reply ends at :meth:`bot_audio_done`,
        :meth:`bot_reply_started`, :meth:`bot_reply_done` or the user's turn
        ending): audio for a reply the user interrupted is never played, and
        the next reply always is.
        """
        if item_id is not None and not isinstance(item_id, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            # The id is hashed on the audio thread: a bad one must fail here, in the handler.
            raise ProtocolError(
                f"{self.provider_name} sent an audio item id that is not a string: "
                f"{type(item_id).__name__}"
            )
        self.conversation.audio(pcm, item_id, item_id)

    def bot_reply_started(self, reply_id: str | None = None) -> str:
        """A new reply begins (``bot-llm-started``); returns its id (minted when None)."""
        return self.conversation.reply_started(reply_id)

    def bot_audio_done(self, item_id: str | None = None) -> None:
        """The reply sent all its audio: its tail (shorter than the prebuffer) plays out,
        and id-less audio after this belongs to the next reply."""
        self.conversation.audio_done(item_id, item_id)

    def bot_reply_done(self, reply_id: str | None = None) -> None:
        """The reply is over: ``bot-tts-stopped``, the last ``bot-output``, ``bot-llm-stopped``."""
        self.conversation.reply_done(reply_id)

    def user_started_speaking(self, *, interrupt: bool = True) -> PlaybackMark:
        """The user spoke: by default a barge-in that silences the speaker at once.

        Returns what of the bot's audio was really heard (the mark a provider
        truncates its model's memory at). ``interrupt=False`` is for sessions
        where the user may talk over the bot: events only, the bot plays on.
        """
        return self.conversation.user_started(interrupt=interrupt)

    def user_stopped_speaking(self, *, start_ttfb_clock: bool = True) -> None:
        """End of the user's turn: starts the time-to-first-audio clock.

        Pass ``start_ttfb_clock=False`` when the provider learns of the end of
        the turn only from the reply itself: a clock started then measures nothing.
        """
        self.conversation.user_stopped(start_clock=start_ttfb_clock)

    def interrupt_bot(self) -> PlaybackMark:
        """Silence the bot now, for any reason (barge-in, typed text, a stop button).

        The reply is cut (its late audio never plays); emits ``bot-interrupted`` and
        ``bot-stopped-speaking`` when it was speaking.
        """
        return self.conversation.interrupt_bot()

    def media_mark(self) -> PlaybackMark:
        """What of the bot's audio was heard so far, without stopping it."""
        return self.media.mark() if self.media.is_running else NO_MARK

    def bot_started_speaking(self) -> None:
        self.conversation.bot_started()

    def bot_stopped_speaking(self) -> None:
        self.conversation.bot_stopped()

    @property
    def is_bot_speaking(self) -> bool:
        return self.conversation.bot_speaking

    @property
    def is_user_speaking(self) -> bool:
        return self.conversation.user_speaking

    def user_transcript(self, text: str, *, final: bool, item_id: str | None = None) -> None:
        """The user's words: a delta (``final=False``) or the whole utterance (``final=True``,
        "" meaning "what the deltas said"). One final per utterance (``item_id`` keys it)."""
        self.conversation.user_transcript(text, final, item_id)

    def bot_transcript(
        self, text: str, *, spoken: bool = True, reply_id: str | None = None
    ) -> None:
        """A delta of the bot's words: ``bot-tts-text`` (or ``bot-llm-text``), and
        ``bot-output`` per complete sentence."""
        self.conversation.bot_text(text, spoken, reply_id)

    # ---- function calls: started → in-progress → stopped
    def function_call_started(self, call_id: str, name: str) -> None:
        """``llm-function-call-started`` (once per call; its arguments may still stream)."""
        self.conversation.calls.started(call_id, name)

    def function_call_arguments(
        self, call_id: str, name: str, arguments: dict[str, Any] | None
    ) -> None:
        """The arguments are complete: ``llm-function-call-in-progress`` (after started)."""
        self.conversation.calls.arguments(call_id, name, arguments)

    def function_call_result(self, call_id: str, result: Any, name: str | None = None) -> bool:
        """The user's result was sent: ``llm-function-call-stopped``. False when the call
        was cancelled (then do not send the result)."""
        return self.conversation.calls.result(call_id, result, name)

    def function_call_cancelled(self, call_id: str) -> None:
        """The server withdrew the call: ``llm-function-call-stopped`` with ``cancelled``."""
        self.conversation.calls.cancel(call_id)

    # ================================================================ tasks and failures
    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run ``coro`` for this session only: cancelled at the session's end (disconnect,
        error, a reconnect). If it raises, the session fails with an ``error`` event."""
        return self._sessions.spawn(coro, name)

    def keepalive(
        self, interval_s: float, send: Callable[[], Awaitable[None]], name: str = "keepalive"
    ) -> asyncio.Task[None]:
        """Call ``await send()`` every ``interval_s`` seconds while this session lasts."""
        if interval_s <= 0:
            raise ValueError(f"keepalive interval must be positive, got {interval_s}")

        async def beat() -> None:
            while True:
                await asyncio.sleep(interval_s)
                try:
                    await send()
                except ConnectionFailed as exc:  # the connection's own loss is reported there
                    log.debug("%s keepalive not sent: %s", self.provider_name, exc)

        return self.spawn(beat(), name)

    def connection_error(self, exc: BaseException) -> None:
        """A fatal session error from a provider handler: report it and tear down."""
        self._sessions.fail(exc)

    def connection_lost(self, exc: RTWSError) -> None:
        """The provider's own connection died: reconnect per policy (or fail when not retryable)."""
        self._sessions.lost_connection(exc)

    def schedule_reconnect(self, reason: str) -> None:
        """Reconnect now, on the provider's request (e.g. Gemini's ``goAway``).

        Not an error: the session moves through ``connecting`` again, calls
        :meth:`connect_llm` (which resumes where the protocol allows), and
        ``reconnecting``/``reconnected`` events tell the user. If that fails,
        the ordinary retry policy takes over.
        """
        self._sessions.planned(reason)


def _nothing_to_translate(message: dict[str, Any]) -> None:
    """The handler of an ignored message type: it was expected, and says nothing new."""
