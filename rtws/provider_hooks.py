"""The hooks a provider implements, and the optional ones with their defaults.

A mixin of :class:`~rtws.RealTimeWebsocketTransport`, kept apart from the
user-facing API and the session machinery so a provider author finds on one
page what to write: the abstract hooks (``initialize_llm`` ... ``send_ready_message``;
``send_message`` stays on the transport, whose base version handles the
client messages every provider shares) and the optional ones.
``docs/providers.md`` tells when each runs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar

from .connection import close_error as default_close_error
from .dispatch import decode_json_object
from .errors import RTWSError, UnsupportedMessage
from .media.base import AudioChunk
from .video import VideoFrame


class ProviderHooks(ABC):
    """What :class:`~rtws.RealTimeWebsocketTransport` calls on its provider."""

    provider_name: ClassVar[str]

    @abstractmethod
    async def initialize_llm(self) -> None:
        """Build the provider client/config from ``self.options`` (once per object)."""

    @abstractmethod
    async def attach_llm_listeners(self) -> None:
        """Register a handler per provider event type with :meth:`on_llm_message` (once)."""

    @abstractmethod
    async def connect_llm(self) -> None:
        """Open the websocket (:meth:`open_websocket`) or the provider's own connection,
        and configure the session."""

    @abstractmethod
    async def disconnect_llm(self) -> None:
        """Close the session politely; the base closes its socket afterwards regardless."""

    @abstractmethod
    async def handle_user_audio_stream(self, chunk: AudioChunk) -> None:
        """Send one mic chunk (PCM16 mono at ``input_sample_rate``) to the LLM."""

    @abstractmethod
    async def send_ready_message(self) -> None:
        """Emit ``bot-ready`` (:meth:`emit_bot_ready`) once the session is usable."""

    # ---- optional hooks
    async def handle_user_video_frame(self, frame: VideoFrame) -> None:
        """Send one camera frame (a JPEG, see :class:`rtws.video.VideoFrame`) to the LLM.

        Optional: a provider that carries video overrides it. Without it,
        ``enable_cam(True)`` raises :class:`UnsupportedMessage` naming the provider.
        """
        raise UnsupportedMessage("video", self.provider_name)

    @property
    def supports_video(self) -> bool:
        """Whether this provider implements :meth:`handle_user_video_frame`."""
        hook = type(self).handle_user_video_frame
        return hook is not ProviderHooks.handle_user_video_frame

    def wants_authentication(self) -> bool:
        """True when :meth:`authenticate` has work to do (e.g. minting an ephemeral token)."""
        return False

    async def authenticate(self) -> None:  # noqa: B027 - optional hook, most need nothing
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
