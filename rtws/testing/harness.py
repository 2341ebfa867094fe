"""What a provider package supplies to run the conformance kit: its fake server and four actions.

The kit knows the transport contract but not the provider's protocol. A
harness is the thin adapter between the two: it starts the provider's
local fake server, builds a transport pointed at it, and performs the
handful of server-side actions the checks need (speak, barge in, report
what audio arrived). Everything else the kit drives through the public
transport API, exactly as a user would.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Self

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

    The optional actions below (late audio, typed text, function calls, server
    errors, bad credentials) each unlock one check of the kit; a check whose
    action is not implemented is skipped, and says which action it needs.
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

    # ------------------------------------------------------------------ optional actions
    async def server_late_audio(self, pcm: Int16Array) -> None:
        """Send ``pcm`` as more of the reply the user just interrupted: audio that was in
        flight when the barge-in happened (with the same reply id, where the wire has ids)."""
        raise NotImplementedError("server_late_audio")

    def received_texts(self) -> list[str]:
        """The typed user messages (``send-text``) the server received, in order."""
        raise NotImplementedError("received_texts")

    async def server_call_function(self, name: str, arguments: dict[str, Any]) -> None:
        """Make the server ask for a function call (its VAD or a script: the harness's choice)."""
        raise NotImplementedError("server_call_function")

    def function_results(self) -> list[tuple[str, Any]]:
        """``(call id, result)`` for each function result the server received."""
        raise NotImplementedError("function_results")

    async def server_error(self, message: str) -> None:
        """Make the server report a non-fatal error (the session goes on)."""
        raise NotImplementedError("server_error")

    def make_transport_with_bad_credentials(
        self, media: MediaManager
    ) -> RealTimeWebsocketTransport:
        """Like :meth:`make_transport`, with credentials the server refuses."""
        raise NotImplementedError("make_transport_with_bad_credentials")
