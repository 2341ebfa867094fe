"""The abstract transport: everything a voice-to-voice provider shares.

A provider subclass implements six hooks and ``send_message``; this class
runs them in the documented order and owns what every provider needs and
none should rewrite: the state machine, devices and the PCM pipeline (via a
:class:`~rtws.media.MediaManager`), the websocket receive loop and dispatch
table, interruption with the really-played position, deduplicated speaking
events, audio levels, reconnection with backoff, and RTVI event delivery.

Concurrency model: everything runs on one asyncio loop. Per session there are
two background tasks (mic pump, receive loop), tracked and cancelled on
disconnect, and the :class:`~rtws.monitor.SessionMonitor`'s timer; the
PortAudio threads only touch the media manager's lock-light buffers.
"""

from __future__ import annotations

import asyncio
import collections
import random
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any, ClassVar, Self, TypeVar

from . import rtvi
from .audio import PlaybackMark, level
from .connection import WebSocketConnection
from .connection import close_error as default_close_error
from .dispatch import Dispatcher, LLMHandler, TransportStats, decode_json_object
from .errors import (
    ConnectionFailed,
    ConnectTimeout,
    InvalidStateError,
    ProtocolError,
    RateLimited,
    RTWSError,
    UnsupportedMessage,
)
from .events import EventBus
from .media.base import AudioChunk, AudioDevice, MediaFormat, MediaManager
from .monitor import SessionMonitor
from .options import TransportOptions
from .redact import get_logger, redact
from .state import StateMachine, TransportState

S = TransportState
log = get_logger("rtws.transport")

#: While a session is being opened, mic audio is held for it rather than dropped.
_OPENING = frozenset({S.AUTHENTICATING, S.AUTHENTICATED, S.CONNECTING, S.CONNECTED})

H = TypeVar("H", bound=Callable[..., Any])

HOOKS = (
    "initialize_llm",
    "attach_llm_listeners",
    "connect_llm",
    "disconnect_llm",
    "handle_user_audio_stream",
    "send_ready_message",
    "send_message",
)


class RealTimeWebsocketTransport(ABC):
    """Base class of every provider transport. See ``docs/providers.md`` for a walk-through.

    Subclasses set ``provider_name``, ``input_sample_rate`` and
    ``output_sample_rate`` and implement the hooks listed in :data:`HOOKS`.
    """

    provider_name: ClassVar[str] = "provider"
    #: PCM16 mono rate the provider wants mic audio at.
    input_sample_rate: ClassVar[int] = 24000
    #: PCM16 mono rate of the audio the provider sends.
    output_sample_rate: ClassVar[int] = 24000
    #: The provider's options model, so tools (the CLI) can build options from flags and files.
    options_class: ClassVar[type[TransportOptions]] = TransportOptions

    @property
    def model_name(self) -> str | None:
        """The model in use, for metrics; providers with a ``model`` option get it for free."""
        model = getattr(self.options, "model", None)
        return model if isinstance(model, str) else None

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        missing = sorted(getattr(cls, "__abstractmethods__", ()))
        if missing:
            raise TypeError(
                f"{cls.__name__} cannot be instantiated: it must implement the provider "
                f"hook{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                "(see rtws.RealTimeWebsocketTransport)"
            )
        return super().__new__(cls)

    def __init__(self, options: TransportOptions, media: MediaManager | None = None) -> None:
        if not isinstance(options, TransportOptions):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(
                f"{type(self).__name__} options must be a TransportOptions model, "
                f"got {type(options).__name__}"
            )
        self.options = options
        self._media = media
        self._bus = EventBus()
        self._machine = StateMachine(self._on_state_change)
        self._llm_initialized = False
        self._devices_initialized = False
        self._ws: WebSocketConnection | None = None
        self._session_tasks: set[asyncio.Task[Any]] = set()
        self._monitor = SessionMonitor(
            self._bus, options, lambda: self._bot_speaking, self.bot_stopped_speaking
        )
        self._connect_task: asyncio.Task[None] | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._failure_task: asyncio.Task[None] | None = None
        self._detached: set[asyncio.Future[None]] = set()
        self._disconnect_done: asyncio.Event | None = None
        self._ready = asyncio.Event()
        self._session_lost: asyncio.Future[RTWSError] | None = None
        self._held_chunks: collections.deque[AudioChunk] = collections.deque()
        self._cut_items: collections.deque[str] = collections.deque(maxlen=32)
        self._bot_speaking = False
        self._user_speaking = False
        self._turn_started_at: float | None = None
        self._reconnecting = False
        # Attempts used by the last unplanned reconnect, and when it succeeded: a
        # session lost again within ``reconnect.stable_after`` keeps counting.
        self._recent_attempts = 0
        self._reconnected_at = -float("inf")
        self.stats = TransportStats()
        self._dispatcher = Dispatcher(
            self.provider_name,
            self.stats,
            decode=self.decode_message,
            kinds=self.message_types,
            report=lambda text: self.emit_error(text, fatal=False),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self.provider_name} state={self.state}>"

    # ================================================================ provider hooks
    @abstractmethod
    async def initialize_llm(self) -> None:
        """Build the provider client/config from ``self.options`` (once per object)."""

    @abstractmethod
    async def attach_llm_listeners(self) -> None:
        """Register a handler per provider event type with :meth:`on_llm_message` (once)."""

    @abstractmethod
    async def connect_llm(self) -> None:
        """Open the websocket (:meth:`open_websocket`) and configure the session."""

    @abstractmethod
    async def disconnect_llm(self) -> None:
        """Close the session politely; the base closes the socket afterwards regardless."""

    @abstractmethod
    async def handle_user_audio_stream(self, chunk: AudioChunk) -> None:
        """Send one mic chunk (PCM16 mono at ``input_sample_rate``) to the LLM."""

    @abstractmethod
    async def send_ready_message(self) -> None:
        """Emit ``bot-ready`` (:meth:`emit_bot_ready`) once the session is usable."""

    @abstractmethod
    async def send_message(self, message: rtvi.RTVIMessage) -> None:
        """Translate a client→server RTVI message into the provider protocol.

        Providers handle what they can and ``await super().send_message(msg)``
        for the rest: the base understands ``disconnect-bot`` and
        ``client-ready`` and raises :class:`UnsupportedMessage` otherwise.
        """
        if message.type == "disconnect-bot":
            self._spawn_detached(self.disconnect())
            return
        if message.type == "client-ready":
            return
        raise UnsupportedMessage(message.type, self.provider_name)

    # ---- optional hooks
    def wants_authentication(self) -> bool:
        """True when :meth:`authenticate` has work to do (e.g. minting an ephemeral token)."""
        return False

    async def authenticate(self) -> None:  # noqa: B027 - optional hook, most providers need none
        """Fetch credentials before connecting; runs in the ``authenticating`` state."""

    def message_types(self, message: dict[str, Any]) -> Iterable[str]:
        """The dispatch keys of one decoded message; default: its ``"type"`` field."""
        kind = message.get("type")
        return (kind,) if isinstance(kind, str) else ()

    def decode_message(self, frame: str | bytes) -> dict[str, Any]:
        """Decode one websocket frame (text or binary UTF-8 JSON) into a dict."""
        return decode_json_object(frame, self.provider_name)

    def can_resume(self) -> bool:
        """Whether the connection just opened continued the earlier conversation.

        Read after a reconnect for ``reconnected.data.resumed``: True when the
        provider resumed the session (Gemini's handles) or restored it (replaying
        the transcript), False when the user starts over with the model.
        """
        return False

    def close_error(self, code: int | None, reason: str) -> RTWSError:
        """The error an unexpected close stands for. Override to read provider close codes
        (e.g. a code that means "bad API key" must become a non-retryable
        :class:`~rtws.errors.AuthenticationError`)."""
        return default_close_error(code, reason, self.provider_name)

    # ================================================================ public API
    @property
    def state(self) -> TransportState:
        return self._machine.state

    @property
    def media(self) -> MediaManager:
        """The media manager; created on first use so constructing a transport never opens audio."""
        if self._media is None:
            from .media.sounddevice import SoundDeviceMediaManager

            self._media = SoundDeviceMediaManager()
            self._media.set_device_error_callback(self._on_device_error)
        return self._media

    def media_format(self) -> MediaFormat:
        return MediaFormat(
            input_sample_rate=self.input_sample_rate,
            output_sample_rate=self.output_sample_rate,
            chunk_ms=self.options.chunk_ms,
            prebuffer_ms=self.options.prebuffer_ms,
            resample_quality=self.options.resample_quality,
            echo_cancellation=self.options.echo_cancellation,
            noise_suppression=self.options.noise_suppression,
        )

    async def init_devices(self) -> None:
        """Enumerate devices before connecting (``initializing`` → ``initialized``)."""
        await self._ensure_llm_initialized()
        if self.state not in (S.DISCONNECTED, S.ERROR):
            if self._devices_initialized:
                return
            raise InvalidStateError(
                f"init_devices() needs a disconnected transport, not {self.state}"
            )
        self._move(S.INITIALIZING)
        try:
            await self._init_media()
            self.emit(rtvi.AvailableMicsUpdated(data=_devices(await self.media.get_all_mics())))
            self.emit(
                rtvi.AvailableSpeakersUpdated(data=_devices(await self.media.get_all_speakers()))
            )
        except BaseException as exc:
            self._fail_now(exc)
            raise
        self._move(S.INITIALIZED)

    async def connect(self) -> None:
        """Open the session; returns once ``ready`` (bot-ready emitted) or raises."""
        if self.state is S.READY:
            return
        if self._connect_task is not None and not self._connect_task.done():
            raise InvalidStateError("connect() is already running on this transport")
        if self.state not in (S.DISCONNECTED, S.INITIALIZED, S.ERROR):
            raise InvalidStateError(f"connect() needs a disconnected transport, not {self.state}")
        self._ready = asyncio.Event()
        self._connect_task = asyncio.create_task(
            self._connect(), name=f"rtws-connect-{self.provider_name}"
        )
        try:
            await asyncio.shield(self._connect_task)
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if me is None or not me.cancelling():
                # Not our caller's cancellation: disconnect() stopped the connect.
                raise ConnectionFailed(
                    f"connect() to {self.provider_name} was stopped by disconnect()",
                    retryable=False,
                ) from None
            # Our caller was cancelled: take the half-open session down with it.
            if not self._connect_task.done():
                self._connect_task.cancel()
                await asyncio.gather(self._connect_task, return_exceptions=True)
            if self._disconnect_done is None and self.state is not S.DISCONNECTED:
                if self.state is not S.DISCONNECTING:
                    self._move(S.DISCONNECTING)
                await self._cleanup()
                self._move(S.DISCONNECTED)
            raise
        finally:
            self._connect_task = None

    async def disconnect(self) -> None:
        """Release every socket, stream, thread and task. Idempotent; safe from any state."""
        if self._disconnect_done is not None:
            await self._disconnect_done.wait()
            return
        if self.state is S.DISCONNECTED and not self._session_tasks:
            self._bus.end_iterators()
            return
        self._disconnect_done = asyncio.Event()
        try:
            connecting = self._connect_task
            if connecting is not None and not connecting.done():
                connecting.cancel()
                await asyncio.gather(connecting, return_exceptions=True)
            await self._cancel_task(self._reconnect_task)
            if self.state is not S.DISCONNECTED:
                if self.state is not S.DISCONNECTING:
                    self._move(S.DISCONNECTING)
                await self._cleanup()
                self._move(S.DISCONNECTED)
            await self._bus.drain()
            self._bus.end_iterators()
        finally:
            done, self._disconnect_done = self._disconnect_done, None
            done.set()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()

    # ---- events
    def on(self, event_type: str, handler: Callable[[Any], Any]) -> Callable[[], None]:
        """Call ``handler(msg)`` on each ``event_type`` event ("*": all); returns an unsubscribe."""
        return self._bus.on(event_type, handler)

    def event_handler(self, event_type: str) -> Callable[[H], H]:
        """Decorator: ``@transport.event_handler("bot-ready")``."""
        return self._bus.event_handler(event_type)

    def events(
        self, types: Iterable[str] | None = None, maxsize: int = 1000
    ) -> AsyncIterator[rtvi.RTVIMessage]:
        """``async for msg in transport.events():`` until the transport disconnects."""
        return self._bus.events(types, maxsize)

    # ---- devices
    async def get_all_mics(self) -> list[AudioDevice]:
        return await self.media.get_all_mics()

    async def get_all_speakers(self) -> list[AudioDevice]:
        return await self.media.get_all_speakers()

    async def get_all_cams(self) -> list[AudioDevice]:
        return await self.media.get_all_cams()

    async def update_mic(self, device_id: str) -> None:
        device = await self.media.update_mic(device_id)
        self.emit(rtvi.MicUpdated(data=rtvi.DeviceData(device=device.model_dump())))

    async def update_speaker(self, device_id: str) -> None:
        device = await self.media.update_speaker(device_id)
        self.emit(rtvi.SpeakerUpdated(data=rtvi.DeviceData(device=device.model_dump())))

    async def update_cam(self, device_id: str) -> None:
        await self.media.update_cam(device_id)

    def enable_mic(self, enabled: bool) -> None:
        self.media.enable_mic(enabled)

    def enable_cam(self, enabled: bool) -> None:
        self.media.enable_cam(enabled)

    @property
    def selected_mic(self) -> AudioDevice | None:
        return self.media.selected_mic

    @property
    def selected_speaker(self) -> AudioDevice | None:
        return self.media.selected_speaker

    @property
    def is_mic_enabled(self) -> bool:
        return self.media.is_mic_enabled

    @property
    def is_cam_enabled(self) -> bool:
        return self.media.is_cam_enabled

    # ================================================================ provider helpers
    def emit(self, message: rtvi.RTVIMessage) -> None:
        """Deliver an RTVI event to the user. ``bot-ready`` completes ``connect()``."""
        if message.type == "bot-ready" and self.state is S.CONNECTED:
            self._move(S.READY)
            self._ready.set()
        self._bus.emit(message)

    def wants(self, event_type: str) -> bool:
        """Whether an event of this type would reach anyone (a handler or an iterator).

        For chatty events (a transcript delta every few words, per session):
        building a model nobody receives is most of what they cost.
        """
        return self._bus.has_listeners(event_type)

    def emit_bot_ready(self, about: Mapping[str, Any] | None = None) -> None:
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

    def on_llm_message(self, message_type: str, handler: LLMHandler) -> None:
        """Register the handler for one provider message type (the dispatch table)."""
        self._dispatcher.register(message_type, handler)

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
        self._spawn(self._receive_loop(conn), "receive")
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

    def play_bot_audio(self, pcm: bytes, item_id: str | None = None) -> None:
        """Queue bot audio (PCM16 mono at ``output_sample_rate``) for the speaker."""
        if item_id is not None and not isinstance(item_id, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            # The id is hashed on the audio thread: a bad one must fail here, in the handler.
            raise ProtocolError(
                f"{self.provider_name} sent an audio item id that is not a string: "
                f"{type(item_id).__name__}"
            )
        if not pcm:
            return
        media = self.media
        if not media.is_running:
            return
        if item_id is not None and item_id in self._cut_items:
            # The server was still streaming a reply the user already cut off.
            self.stats.late_audio_dropped += 1
            return
        if self._turn_started_at is not None:
            ttfb = time.perf_counter() - self._turn_started_at
            self._turn_started_at = None
            metric: dict[str, Any] = {"processor": self.provider_name, "value": round(ttfb, 4)}
            if self.model_name:
                metric["model"] = self.model_name
            self.emit_metrics(ttfb=[metric])
        media.play(pcm, item_id)
        self.bot_started_speaking()

    def bot_audio_done(self, item_id: str | None = None) -> None:
        """No more audio for now: let a tail shorter than the prebuffer play out."""
        if self.media.is_running:
            self.media.end_of_stream(item_id)

    def user_started_speaking(self, *, interrupt: bool = True) -> PlaybackMark:
        """The user spoke: by default a barge-in that silences the speaker at once.

        Returns what of the bot's audio was really heard (the mark a provider
        truncates its model's memory at). ``interrupt=False`` is for sessions
        where the user may talk over the bot: events only, the bot plays on.
        """
        # Silence first (the user must not hear one more block), then the events.
        mark = self._flush_speaker() if interrupt else self.media_mark()
        self._turn_started_at = None
        if not self._user_speaking:
            self._user_speaking = True
            self.emit(rtvi.UserStartedSpeaking())
        if interrupt:
            self._bot_interrupted()
        return mark

    def interrupt_bot(self) -> PlaybackMark:
        """Silence the bot now, for any reason (barge-in, typed text, a stop button).

        Emits ``bot-interrupted`` and ``bot-stopped-speaking`` when it was speaking.
        """
        mark = self._flush_speaker()
        self._bot_interrupted()
        return mark

    def _flush_speaker(self) -> PlaybackMark:
        """Silence now; the interrupted item never plays again, whatever still arrives for it."""
        if not self.media.is_running:
            return PlaybackMark(None, 0, 0, 0)
        mark = self.media.flush()
        if mark.item_id is not None:
            self._cut_items.append(mark.item_id)
        return mark

    def _bot_interrupted(self) -> None:
        if self._bot_speaking:
            self.emit(rtvi.BotInterrupted())
            self.bot_stopped_speaking()

    def media_mark(self) -> PlaybackMark:
        """What of the bot's audio was heard so far, without stopping it."""
        return self.media.mark() if self.media.is_running else PlaybackMark(None, 0, 0, 0)

    def user_stopped_speaking(self, *, start_ttfb_clock: bool = True) -> None:
        """End of the user's turn: starts the time-to-first-audio clock.

        Pass ``start_ttfb_clock=False`` when the provider learns of the end of
        the turn only from the reply itself: a clock started then measures nothing.
        """
        if start_ttfb_clock:
            self._turn_started_at = time.perf_counter()
        if self._user_speaking:
            self._user_speaking = False
            self.emit(rtvi.UserStoppedSpeaking())

    def bot_started_speaking(self) -> None:
        if not self._bot_speaking:
            self._bot_speaking = True
            self._monitor.watch_bot()
            self.emit(rtvi.BotStartedSpeaking())

    def bot_stopped_speaking(self) -> None:
        if self._bot_speaking:
            self._bot_speaking = False
            self.emit(rtvi.BotStoppedSpeaking())

    @property
    def is_bot_speaking(self) -> bool:
        return self._bot_speaking

    def emit_metrics(
        self,
        *,
        ttfb: list[dict[str, Any]] | None = None,
        processing: list[dict[str, Any]] | None = None,
        tokens: list[dict[str, Any]] | None = None,
    ) -> None:
        data: dict[str, Any] = {}
        if ttfb:
            data["ttfb"] = ttfb
        if processing:
            data["processing"] = processing
        if tokens:
            data["tokens"] = tokens
        self.emit(rtvi.Metrics.model_validate({"data": data}))

    def connection_error(self, exc: BaseException) -> None:
        """A fatal session error from a provider handler: report it and tear down."""
        if self._failure_task is not None and not self._failure_task.done():
            return
        if self.state in (S.DISCONNECTING, S.DISCONNECTED, S.ERROR):
            return
        self._failure_task = asyncio.ensure_future(self._fail_session(exc))

    # ================================================================ internals
    def _on_state_change(self, new: TransportState, previous: TransportState) -> None:
        log.debug("%s: %s -> %s", self.provider_name, previous, new)
        self._bus.emit(
            rtvi.TransportStateChanged(
                data=rtvi.TransportStateChangedData(state=new.value, previous=previous.value)
            )
        )

    def _move(self, new: TransportState) -> None:
        if self.state is not new:
            self._machine.move_to(new)

    async def _ensure_llm_initialized(self) -> None:
        if not self._llm_initialized:
            await self.initialize_llm()
            await self.attach_llm_listeners()
            self._llm_initialized = True

    async def _init_media(self) -> None:
        media = self.media
        media.set_device_error_callback(self._on_device_error)
        await media.initialize()
        self._devices_initialized = True

    async def _connect(self) -> None:
        try:
            async with asyncio.timeout(self.options.connect_timeout):
                await self._ensure_llm_initialized()
                if not self._devices_initialized:
                    await self._init_media()
                await self._open_session()
        except TimeoutError:
            exc = ConnectTimeout(
                f"connecting to {self.provider_name} took longer than "
                f"{self.options.connect_timeout:g} s (options.connect_timeout)"
            )
            await self._fail_session(exc)
            raise exc from None
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            await self._fail_session(exc)
            raise

    async def _open_session(self) -> None:
        """authenticate → connect_llm → media → connected → bot-ready → ready."""
        self._session_lost = asyncio.get_running_loop().create_future()
        if self.wants_authentication():
            self._move(S.AUTHENTICATING)
            await self.authenticate()
            self._move(S.AUTHENTICATED)
        self._move(S.CONNECTING)
        await self._unless_lost(self.connect_llm())
        if not self.media.is_running:
            await self.media.start(self.media_format())
            self._spawn(self._mic_pump(), "mic-pump")
            self._monitor.start(self.media)
        self._move(S.CONNECTED)
        await self._unless_lost(self.send_ready_message())
        if self.state is not S.READY:
            await self._unless_lost(self._ready.wait())

    async def _unless_lost(self, step: Coroutine[Any, Any, Any]) -> None:
        """Run a connect step, but fail it at once if the socket dies meanwhile.

        A provider's ``connect_llm`` typically waits for a "session ready" message;
        when the server closes instead (bad key as a close code, refused setup),
        waiting for the timeout would hide the real reason.
        """
        lost = self._session_lost
        assert lost is not None, "_unless_lost outside _open_session"
        task = asyncio.ensure_future(step)
        try:
            await asyncio.wait({task, lost}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise
        if task.done():
            task.result()
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise lost.result()

    async def _fail_session(self, exc: BaseException) -> None:
        """Any failure: error event, ``error`` state, and every resource released."""
        if isinstance(exc, asyncio.CancelledError):
            return
        message = redact(str(exc)) or type(exc).__name__
        log.warning("%s session failed: %s", self.provider_name, message)
        self._fail_now(exc)
        await self._cleanup()

    def _fail_now(self, exc: BaseException) -> None:
        if self.state not in (S.ERROR, S.DISCONNECTING):
            self.emit_error(str(exc) or type(exc).__name__, fatal=True)
            self._move(S.ERROR)

    async def _cleanup(self) -> None:
        """Stop media, say goodbye to the LLM, close the socket, cancel session tasks."""
        current = asyncio.current_task()
        self._ready.set()
        media = self._media
        if media is not None:
            try:
                await media.stop()
            except Exception as exc:
                log.warning("error stopping media: %s", redact(str(exc)))
        if self._ws is not None:
            try:
                async with asyncio.timeout(2.0):
                    await self.disconnect_llm()
            except Exception as exc:
                log.warning(
                    "%s disconnect_llm failed: %s",
                    self.provider_name,
                    redact(str(exc)) or type(exc).__name__,
                )
        await self._close_websocket()
        self._monitor.stop()
        tasks = [t for t in self._session_tasks if t is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._bot_speaking = False
        self._user_speaking = False
        self._turn_started_at = None
        self._drop_held()
        self._cut_items.clear()

    async def _close_websocket(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=f"rtws-{self.provider_name}-{name}")
        self._session_tasks.add(task)
        task.add_done_callback(self._session_tasks.discard)
        return task

    def _spawn_detached(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run work that must outlive the task that asked for it (e.g. disconnect-bot)."""
        task = asyncio.ensure_future(coro)
        self._detached.add(task)
        task.add_done_callback(self._detached.discard)

    @staticmethod
    async def _cancel_task(task: asyncio.Task[Any] | None) -> None:
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # ---- the two session tasks
    async def _mic_pump(self) -> None:
        """Mic chunks → ``handle_user_audio_stream``, in order, each exactly once.

        Devices start before the session is ``ready`` and keep capturing
        through a reconnect. Chunks captured meanwhile are held (up to
        ``options.reconnect_hold_ms``) and sent once the session is ready, so
        the first words and words spoken through a connection reset are not
        lost; beyond that bound the oldest are dropped and counted in ``stats``.
        """
        hold_max = max(1, round(self.options.reconnect_hold_ms / self.options.chunk_ms))
        held = self._held_chunks
        media, stats = self.media, self.stats
        machine = self._machine
        ready = S.READY
        while True:
            chunks = media.take_mic_chunks()
            if not chunks:
                if not media.is_running:
                    return
                await media.mic_wakeup()
                continue
            gated = self.options.echo_gate_level is not None
            for chunk in chunks:
                state = machine.state
                if state is ready and not held and not self._reconnecting:
                    # The steady state, once per chunk: _send_chunk inlined (a
                    # coroutine less). A socket that closed under a ready session
                    # fails this send, which counts the chunk as dropped: cheaper
                    # than asking the socket first.
                    try:
                        await self.handle_user_audio_stream(
                            self._echo_gate(chunk) if gated else chunk
                        )
                    except RTWSError as exc:
                        stats.chunks_dropped_not_ready += 1
                        log.debug("mic chunk not sent: %s", exc)
                    else:
                        stats.chunks_sent += 1
                    continue
                if self._reconnecting or state in _OPENING:
                    if len(held) >= hold_max:
                        held.popleft()
                        stats.chunks_dropped_reconnecting += 1
                    held.append(chunk)
                    continue
                if state is not ready or self._ws is None:
                    stats.chunks_dropped_not_ready += 1
                    continue
                if not await self._send_held():
                    # The socket failed under the backlog: the new chunk waits behind it,
                    # in order, for the next resume (the hold bound applies next time).
                    held.append(chunk)
                    continue
                await self._send_chunk(self._echo_gate(chunk))

    async def _send_held(self) -> bool:
        """Send the chunks held while the session opened, oldest first; False if one fails."""
        held = self._held_chunks
        while held:
            if not await self._send_chunk(self._echo_gate(held[0]), held=True):
                return False
            held.popleft()
        return True

    def _drop_held(self) -> None:
        """Held mic audio the session ended before it could send: counted, never silent."""
        self.stats.chunks_dropped_reconnecting += len(self._held_chunks)
        self._held_chunks.clear()

    async def _send_chunk(self, chunk: AudioChunk, *, held: bool = False) -> bool:
        try:
            await self.handle_user_audio_stream(chunk)
        except RTWSError as exc:
            # A closed socket shows up here first; the receive loop owns recovery.
            # A held chunk stays held (sent after the resume), so it is not a drop.
            if not held:
                self.stats.chunks_dropped_not_ready += 1
            log.debug("mic chunk not sent: %s", exc)
            return False
        self.stats.chunks_sent += 1
        return True

    def _echo_gate(self, chunk: AudioChunk) -> AudioChunk:
        """Half-duplex gate against laptop-speaker echo (``options.echo_gate_level``).

        While the bot is audible, mic chunks quieter than the gate level are sent
        as silence: the bot's own voice leaking into the mic cannot trigger the
        server's barge-in, a user speaking up still can. Silence rather than
        nothing keeps the server's audio clock and VAD timing intact.
        """
        gate = self.options.echo_gate_level
        if gate is None or not self._bot_speaking or level(chunk.samples) >= gate:
            return chunk
        self.stats.chunks_gated += 1
        return AudioChunk(bytes(len(chunk.pcm)), chunk.sample_rate, chunk.captured_at, chunk.seq)

    async def _receive_loop(self, conn: WebSocketConnection) -> None:
        try:
            dispatch = self._dispatcher.dispatch
            while batch := await conn.next_messages():
                for frame in batch:
                    await dispatch(frame)
        except RTWSError as exc:
            if self._ws is conn:
                lost = self._session_lost
                if lost is not None and not lost.done():
                    lost.set_result(exc)
                self._on_connection_lost(exc)

    def _on_device_error(self, error: RTWSError) -> None:
        self.emit(rtvi.DeviceErrorEvent(data=rtvi.DeviceErrorData(message=redact(str(error)))))

    # ---- reconnection
    def schedule_reconnect(self, reason: str) -> None:
        """Reconnect now, on the provider's request (e.g. Gemini's ``goAway``).

        Not an error: the session moves through ``connecting`` again, calls
        :meth:`connect_llm` (which resumes where the protocol allows), and
        ``reconnecting``/``reconnected`` events tell the user. If that fails,
        the ordinary retry policy takes over.
        """
        if self._reconnecting or self.state not in (S.CONNECTED, S.READY):
            return
        self._reconnecting = True
        self._reconnect_task = asyncio.ensure_future(self._reconnect(None, planned=reason))

    def _on_connection_lost(self, exc: RTWSError) -> None:
        if self.state not in (S.CONNECTED, S.READY) or self._reconnecting:
            return
        policy = self.options.reconnect
        if not exc.retryable or policy.max_attempts == 0:
            self.connection_error(exc)
            return
        self._reconnecting = True
        self._reconnect_task = asyncio.ensure_future(self._reconnect(exc))

    async def _reconnect(self, exc: RTWSError | None, planned: str | None = None) -> None:
        """Retry with backoff and jitter; a ``planned`` reconnect starts at once, with no error."""
        policy = self.options.reconnect
        attempts = max(1, policy.max_attempts) if planned else policy.max_attempts
        last: RTWSError | None = exc
        first = 1
        if not planned and time.monotonic() - self._reconnected_at < policy.stable_after:
            first = self._recent_attempts + 1  # the last resume did not hold
        try:
            for attempt in range(first, attempts + 1):
                if planned and attempt == 1:
                    delay, reason = 0.0, planned
                else:
                    delay = policy.delay(attempt, random.random())
                    if isinstance(last, RateLimited) and last.retry_after is not None:
                        delay = max(delay, last.retry_after)
                    reason = redact(str(last)) if last is not None else "reconnecting"
                    self.emit_error(
                        f"{reason}; reconnecting (attempt {attempt} of {attempts})", fatal=False
                    )
                self.emit(
                    rtvi.Reconnecting(
                        data=rtvi.ReconnectingData(
                            attempt=attempt,
                            max_attempts=attempts,
                            delay_s=round(delay, 3),
                            reason=reason,
                        )
                    )
                )
                # What was queued for the speaker belongs to a reply the new
                # session may not continue: stop it rather than play it late.
                self.media.flush()
                self.bot_stopped_speaking()
                if self.state is not S.CONNECTING:
                    self._move(S.CONNECTING)
                await self._close_websocket()
                await asyncio.sleep(delay)
                try:
                    async with asyncio.timeout(self.options.connect_timeout):
                        self._ready = asyncio.Event()
                        await self._open_session()
                except TimeoutError:
                    last = ConnectTimeout(f"reconnecting to {self.provider_name} timed out")
                    continue
                except RTWSError as err:
                    last = err
                    if not err.retryable:
                        break
                    continue
                self.stats.reconnects += 1
                self._recent_attempts = 0 if planned else attempt
                self._reconnected_at = time.monotonic()
                self._reconnecting = False
                self.emit(
                    rtvi.Reconnected(
                        data=rtvi.ReconnectedData(attempt=attempt, resumed=self.can_resume())
                    )
                )
                return
            self._drop_held()
            await self._fail_session(
                last or ConnectionFailed(f"could not reconnect to {self.provider_name}")
            )
        finally:
            self._reconnecting = False


def _devices(devices: list[AudioDevice]) -> rtvi.DevicesData:
    return rtvi.DevicesData(devices=[d.model_dump() for d in devices])
