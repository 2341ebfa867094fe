"""The abstract transport: the user-facing facade every provider inherits.

A provider subclass implements six hooks and ``send_message``; this class
runs them in the documented order and puts together what every provider
needs and none should rewrite:

* :mod:`rtws.session` — opening, ending and reconnecting sessions, and the
  rule that no session task dies silently;
* :mod:`rtws.uplink` — the mic path (hold queue, echo gate);
* :mod:`rtws.conversation` — replies, interruption, speaking state,
  transcripts and tool calls, with no I/O;
* :mod:`rtws.provider` — the helpers a provider calls; :mod:`rtws.devices`
  — the device pass-throughs; :mod:`rtws.transport_output` — the
  conversation's decisions played and reported.

Concurrency model: everything runs on one asyncio loop. Per session there are
background tasks (mic pump, receive loop, the provider's own), tracked and
cancelled at the session's end, and the :class:`~rtws.monitor.SessionMonitor`'s
timer; the PortAudio threads only touch the media manager's lock-light buffers.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, ClassVar, Self, TypeVar, overload

from . import rtvi
from .connection import WebSocketConnection
from .conversation import Conversation
from .devices import DeviceControls
from .dispatch import Dispatcher, TransportStats
from .errors import (
    ConnectionFailed,
    ConnectTimeout,
    InvalidStateError,
    RTWSError,
    UnsupportedMessage,
)
from .events import EventBus
from .latency import TurnLatency
from .media.base import MediaFormat, MediaManager
from .monitor import SessionMonitor
from .options import TransportOptions
from .provider import ProviderAPI
from .provider_hooks import ProviderHooks
from .redact import get_logger
from .session import Sessions
from .state import StateMachine, TransportState
from .tools import Tool, ToolRunner
from .transport_output import TransportOutput
from .uplink import MicUplink
from .video.uplink import VideoUplink

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


class RealTimeWebsocketTransport(ProviderAPI, DeviceControls, ProviderHooks, ABC):
    """Base class of every provider transport. See ``docs/providers.md`` for a walk-through.

    Subclasses set ``provider_name``, ``input_sample_rate`` and
    ``output_sample_rate`` and implement the hooks listed in :data:`HOOKS`.
    """

    provider_name: ClassVar[str] = "provider"  # pyright: ignore[reportIncompatibleVariableOverride]
    #: PCM16 mono rate the provider wants mic audio at. A plain attribute, so a provider
    #: whose rate is an option sets ``self.input_sample_rate`` in ``__init__``.
    input_sample_rate: int = 24000
    #: PCM16 mono rate of the audio the provider sends (settable per instance, too).
    output_sample_rate: int = 24000
    #: The provider's options model, so tools (the CLI) can build options from flags and files.
    options_class: ClassVar[type[TransportOptions]] = TransportOptions
    #: True when the protocol announces every reply (``bot_reply_started()``) and has no
    #: reply ids: after a barge-in, id-less audio is the cut reply's until the next reply
    #: starts, even after its end-of-audio message or the user's turn ending.
    announces_replies: ClassVar[bool] = False

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
        self._connect_task: asyncio.Task[None] | None = None
        self._disconnect_done: asyncio.Event | None = None
        self.stats = TransportStats()
        self.turn_latency = TurnLatency()
        self.conversation = Conversation(
            TransportOutput(self),
            self.stats,
            provider=self.provider_name,
            model=lambda: self.model_name,
            output_rate=lambda: self.output_sample_rate,
            bot_output=options.bot_output,
            announced_replies=self.announces_replies,
        )
        self._monitor = SessionMonitor(
            self._bus, options, lambda: self.conversation.bot_speaking, self.bot_stopped_speaking
        )
        self._sessions = Sessions(self)
        self._uplink = MicUplink(
            options,
            self.stats,
            lambda: self.conversation.bot_speaking,
        )
        self._dispatcher = Dispatcher(
            self.provider_name,
            self.stats,
            decode=self.decode_message,
            kinds=self.message_types,
            report=lambda text: self.emit_error(text, fatal=False),
        )
        #: The camera path (rtws.video): frames to handle_user_video_frame; ``.stats``.
        self.video = VideoUplink(
            lambda: self.options.video_fps,
            lambda: self.options.video_max_size,
            lambda: self.options.video_jpeg_quality,
            lambda error: self._on_device_error(error),
        )
        #: Answers the model's calls to ``options.tools`` / ``@transport.tool`` (rtws.tools).
        self.tool_runner = ToolRunner(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self.provider_name} state={self.state}>"

    # ================================================================ provider hooks
    # The others are in ProviderHooks (rtws/provider_hooks.py).
    @abstractmethod
    async def send_message(self, message: rtvi.RTVIMessage) -> None:
        """Translate a client→server RTVI message into the provider protocol.

        Providers handle what they can and ``await super().send_message(msg)``
        for the rest: the base understands ``disconnect-bot`` and
        ``client-ready`` and raises :class:`UnsupportedMessage` otherwise.
        """
        if message.type == "disconnect-bot":
            self._sessions.detached(self.disconnect())
            return
        if message.type == "client-ready":
            return
        raise UnsupportedMessage(message.type, self.provider_name)

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
            max_playout_s=self.options.max_playout_s,
            echo_cancellation=self.options.echo_cancellation,
            noise_suppression=self.options.noise_suppression,
        )

    async def connect(self) -> None:
        """Open the session; returns once ``ready`` (bot-ready emitted) or raises."""
        if self.state is S.READY:
            return
        if self._connect_task is not None and not self._connect_task.done():
            raise InvalidStateError("connect() is already running on this transport")
        if self.state not in (S.DISCONNECTED, S.INITIALIZED, S.ERROR):
            raise InvalidStateError(f"connect() needs a disconnected transport, not {self.state}")
        self._sessions.ready = asyncio.Event()
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
                await self._end()
            raise
        finally:
            self._connect_task = None

    async def disconnect(self) -> None:
        """Release every socket, stream, thread and task. Idempotent; safe from any state."""
        if self._disconnect_done is not None:
            await self._disconnect_done.wait()
            return
        sessions = self._sessions
        if self.state is S.DISCONNECTED and not sessions.tasks:
            self._bus.end_iterators()
            return
        self._disconnect_done = asyncio.Event()
        try:
            connecting = self._connect_task
            if connecting is not None and not connecting.done():
                connecting.cancel()
                await asyncio.gather(connecting, return_exceptions=True)
            reconnect = sessions.reconnect_task
            if reconnect is not None and not reconnect.done():
                reconnect.cancel()
                await asyncio.gather(reconnect, return_exceptions=True)
            if self.state is not S.DISCONNECTED:
                await self._end()
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

    @overload
    def tool(self, fn: Callable[..., Any], /) -> Tool: ...
    @overload
    def tool(self, /, **settings: Any) -> Callable[[Callable[..., Any]], Tool]: ...
    def tool(self, fn: Callable[..., Any] | None = None, /, **settings: Any) -> Any:
        """Declare a function tool: ``@transport.tool`` or ``@transport.tool(timeout=5)``.

        ``settings`` are :class:`rtws.tools.Tool`'s (name, description, timeout,
        cancel_on_interruption). Add tools before ``connect()``. See docs/tools.md.
        """
        return self.tool_runner.register(fn, **settings)

    # ================================================================ internals
    def _on_state_change(self, new: TransportState, previous: TransportState) -> None:
        log.debug("%s: %s -> %s", self.provider_name, previous, new)
        # The mic follows the state: live when ready, held while (re)opening, else dropped.
        self.video.set_live(new is S.READY)
        if new is S.READY:
            self._uplink.open()
        elif new in _OPENING:
            self._uplink.hold()
        else:
            self._uplink.close()
        self._bus.emit(
            rtvi.TransportStateChanged(
                data=rtvi.TransportStateChangedData(state=new.value, previous=previous.value)
            )
        )

    def _move(self, new: TransportState) -> None:
        if self.state is not new:
            self._machine.move_to(new)

    def _became_ready(self) -> None:
        """``bot-ready``: ``connect()`` (or a reconnect) may return."""
        if self.state is S.CONNECTED:
            self._move(S.READY)
            self._sessions.ready.set()

    async def _ensure_llm_initialized(self) -> None:
        if not self._llm_initialized:
            await self.initialize_llm()
            await self.attach_llm_listeners()
            self._llm_initialized = True

    async def _connect(self) -> None:
        sessions = self._sessions
        try:
            async with asyncio.timeout(self.options.connect_timeout):
                await self._ensure_llm_initialized()
                if not self._devices_initialized:
                    await self._init_media()
                await sessions.open()
        except TimeoutError:
            exc = ConnectTimeout(
                f"connecting to {self.provider_name} took longer than "
                f"{self.options.connect_timeout:g} s (options.connect_timeout)"
            )
            await sessions.fail_now(exc)
            raise exc from None
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            await sessions.fail_now(exc)
            raise

    async def _end(self) -> None:
        if self.state is not S.DISCONNECTING:
            self._move(S.DISCONNECTING)
        await self._sessions.cleanup()
        self._move(S.DISCONNECTED)

    async def _close_websocket(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()

    async def _receive_loop(self, conn: WebSocketConnection) -> None:
        try:
            dispatch = self._dispatcher.dispatch
            while batch := await conn.next_messages():
                for frame in batch:
                    await dispatch(frame)
        except RTWSError as exc:
            if self._ws is conn:
                self._sessions.lost_connection(exc)
