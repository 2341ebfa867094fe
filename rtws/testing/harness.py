"""What a provider package supplies to run the conformance kit: its fake server and four actions.

The kit knows the transport contract but not the provider's protocol. A
harness is the thin adapter between the two: it starts the provider's
local fake server, builds a transport pointed at it, and performs the
handful of server-side actions the checks need (speak, barge in, report
what audio arrived). Everything else the kit drives through the public
transport API, exactly as a user would.

Some checks need a server action not every protocol has (audio after a
barge-in, a non-fatal error, ...). Each such action is a small mixin here,
one concept each, that a harness inherits to opt in; the kit runs a check
only for a harness that is an instance of its mixin and otherwise skips it,
naming the mixin. An opt-in is explicit and checked by the type checker: a
harness cannot half-implement one, nor forget one it meant to offer.

Two bases save the usual plumbing: :class:`FakeServerHarness` starts and
stops a fake that is an async context manager, and :class:`TypedTurnHarness`
prompts a scripted fake through the session with a typed turn.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, Self, TypeVar

from .. import rtvi
from ..media.base import MediaManager
from ..transport import RealTimeWebsocketTransport
from .signals import Int16Array


class ProviderHarness(ABC):
    """A provider's fake server plus the actions the conformance kit cannot express generically.

    Used as ``async with harness:`` around each check, so every check gets a
    fresh server. Implement :meth:`start`, :meth:`stop`,
    :meth:`make_transport`, :meth:`server_say`, :meth:`server_interrupt` and
    :meth:`received_audio`; override :meth:`truncations` when the protocol
    tells the server how much of the bot's audio was heard.

    The optional capabilities below (late audio, typed text, function calls,
    server errors, bad credentials) each unlock one check of the kit: a harness
    opts in by inheriting the mixin, and a check whose mixin the harness lacks is
    skipped, naming it. A server that is an async context manager can start from
    :class:`FakeServerHarness` instead, which starts and stops it.
    """

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @abstractmethod
    async def start(self) -> None:
        """Start the fake server (on 127.0.0.1, any free port)."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop the fake server and close whatever connections it still holds."""

    @abstractmethod
    def make_transport(self, media: MediaManager) -> RealTimeWebsocketTransport:
        """A new, unconnected transport for the running server, using ``media``.

        Keep ``connect_timeout`` short (a few seconds) so a broken provider
        fails a check instead of hanging it, and leave ``prebuffer_ms`` and
        ``chunk_ms`` at values a real user would pick.
        """

    @abstractmethod
    async def server_say(self, pcm: Int16Array) -> None:
        """Make the server send ``pcm`` as one bot reply, then its end-of-audio signal.

        ``pcm`` is PCM16 mono at the transport's ``output_sample_rate``.
        How the server is prompted is the harness's business: a control of
        the fake server, or a client message through the transport it made
        (a typed turn the fake answers with ``pcm``, as the OpenAI and
        Gemini harnesses do). Return once the server has sent all of it
        (pace it if the protocol must, but do not return early): the checks
        measure playback from that moment on.
        """

    @abstractmethod
    async def server_interrupt(self) -> None:
        """Make the server report that the user started speaking (its VAD firing).

        The provider is expected to react as on a real barge-in: call
        ``user_started_speaking()`` and, where the protocol has one, tell the
        server how much of the reply was heard.
        """

    @abstractmethod
    def received_audio(self) -> Int16Array:
        """Every mic sample the server received since it started, in order (PCM16 mono
        at the transport's ``input_sample_rate``)."""

    def truncations(self) -> list[tuple[str, int]] | None:
        """``(item_id, audio_end_ms)`` for each "truncate to what was heard" the server got.

        None (the default) means the protocol has no such message, so the kit
        skips that part of the interruption check.
        """
        return None


Server = TypeVar("Server", bound=AbstractAsyncContextManager[Any])


class FakeServerHarness(ProviderHarness, Generic[Server]):
    """A harness around a fake server that is an async context manager (every fake in
    this repository is): :meth:`start` enters it, :meth:`stop` exits it.

    Keeps the server as ``self.server`` for the actions a subclass still writes.
    """

    def __init__(self, server: Server) -> None:
        self.server = server

    async def start(self) -> None:
        await self.server.__aenter__()

    async def stop(self) -> None:
        await self.server.__aexit__(None, None, None)


Transport = TypeVar("Transport", bound=RealTimeWebsocketTransport)


class TypedTurnHarness(FakeServerHarness[Server]):
    """A harness whose fake is prompted as a user prompts the service: by a typed turn.

    The OpenAI, Gemini and Deepgram harnesses make their fakes speak or call a
    function the same way: script the fake's answer, then send a typed user turn
    through the session, so the whole round trip is the provider's real one.
    :meth:`make_transport` passes its transport through :meth:`session`;
    :meth:`type_turn` then prompts through it.
    """

    transport: RealTimeWebsocketTransport | None = None

    def session(self, transport: Transport) -> Transport:
        """Remember ``transport`` as the session :meth:`type_turn` prompts through; return it."""
        self.transport = transport
        return transport

    async def type_turn(self, text: str) -> None:
        """Send ``text`` as the user's typed turn on the newest session."""
        assert self.transport is not None, "type_turn() needs a transport from make_transport()"
        await self.transport.send_message(rtvi.SendText(data=rtvi.SendTextData(content=text)))


# ---------------------------------------------------------------------- capabilities
class LateAudioHarness(ABC):
    """The server can keep sending a reply after the user barged into it.

    Unlocks ``test_late_audio_of_an_interrupted_reply_is_never_played``. Leave it out
    when the protocol sends nothing of a reply after its barge-in (Gemini's
    ``interrupted``): there is no late audio to send.
    """

    @abstractmethod
    async def server_late_audio(self, pcm: Int16Array) -> None:
        """Send ``pcm`` as more of the reply the user just interrupted: audio that was in
        flight when the barge-in happened (with the same reply id, where the wire has ids)."""


class TypedTextHarness(ABC):
    """The server records the typed user messages (``send-text``) it receives.

    Unlocks ``test_send_text_reaches_the_server``.
    """

    @abstractmethod
    def received_texts(self) -> list[str]:
        """The typed user messages the server received, in order."""


class FunctionCallHarness(ABC):
    """The server can ask for a function call and records the results it gets back.

    Unlocks ``test_function_call_round_trip_in_the_documented_order``. (Plain-function
    tools are :class:`~rtws.testing.tools.ToolCallingHarness`.)
    """

    @abstractmethod
    async def server_call_function(self, name: str, arguments: dict[str, Any]) -> None:
        """Make the server ask for a function call (its VAD or a script: the harness's choice)."""

    @abstractmethod
    def function_results(self) -> list[tuple[str, Any]]:
        """``(call id, result)`` for each function result the server received."""


class ServerErrorHarness(ABC):
    """The server can report an error that does not end the session.

    Unlocks ``test_a_server_error_becomes_an_error_event``. Leave it out when the
    protocol reports every error by closing the connection.
    """

    @abstractmethod
    async def server_error(self, message: str) -> None:
        """Make the server report a non-fatal error (the session goes on)."""


class BadCredentialsHarness(ABC):
    """The server refuses a wrong key at the handshake.

    Unlocks ``test_refused_credentials_are_not_retried``.
    """

    @abstractmethod
    def make_transport_with_bad_credentials(
        self, media: MediaManager
    ) -> RealTimeWebsocketTransport:
        """Like :meth:`ProviderHarness.make_transport`, with credentials the server refuses."""


class AllCapabilities(
    LateAudioHarness,
    TypedTextHarness,
    FunctionCallHarness,
    ServerErrorHarness,
    BadCredentialsHarness,
):
    """Every capability above, for a protocol that has every optional action (OpenAI's,
    Deepgram's): all of the kit's checks run. Should the kit grow a capability, such a
    harness cannot be instantiated until it implements that one too (or lists the rest)."""
