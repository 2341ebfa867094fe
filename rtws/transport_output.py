"""The conversation core's output, wired to a transport's speaker, events and stats.

:class:`~rtws.conversation.Conversation` decides what happens (a reply plays,
is cut, ends) and does no I/O; this adapter is where its decisions meet the
media manager and the event bus. It also reports what only shows once audio
is really queued: the playout buffer overflowing, and the turn latency (end
of the user's speech to the first reply sample played). Kept apart from
:mod:`rtws.provider`, which is the provider's page, because no provider
calls it: the base hands it to the core once, at construction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import rtvi
from .audio import OverflowReport, PlaybackMark
from .errors import ProviderError
from .media.base import MediaManager
from .redact import get_logger

if TYPE_CHECKING:
    from .provider import ProviderAPI

log = get_logger("rtws.provider")

#: What was heard when nothing is playing (no media manager, or it is stopped).
NO_MARK = PlaybackMark(None, 0, 0, 0)


class TransportOutput:
    """The conversation core's :class:`~rtws.conversation.Output`, wired to a transport."""

    def __init__(self, api: ProviderAPI) -> None:
        self._api = api
        self._bus = api._bus  # pyright: ignore[reportPrivateUsage]
        self._overflow: OverflowReport | None = None  # see _overflowed
        self._last_item: str | None = None  # the audio item played last (turn latency)

    def emit(self, message: rtvi.RTVIMessage) -> None:
        self._bus.emit(message)

    def wants(self, event_type: str) -> bool:
        return self._bus.has_listeners(event_type)

    def play(self, pcm: bytes, item_id: str) -> bool:
        media = self._api._media  # pyright: ignore[reportPrivateUsage]
        if media is None or not media.is_running:
            return False
        stats = media.stats
        dropped_before = stats.dropped_bot_audio_ms
        media.play(pcm, item_id)
        if stats.dropped_bot_audio_ms != dropped_before:  # the playout buffer is full
            self._overflowed(stats.dropped_bot_audio_ms - dropped_before)
        self._last_item = item_id
        self._report_turn_latency(media)
        return True

    def _report_turn_latency(self, media: MediaManager) -> None:
        """``turn_latency`` once the speaker started playing the reply (once per turn).

        Checked as audio arrives and when the bot falls silent: a reply that arrived
        whole before playback began has no later audio to check it on.
        """
        api = self._api
        if not api.turn_latency.pending:
            return
        report = api.turn_latency.metrics(media, self._last_item, api.provider_name, api.model_name)
        if report is not None:
            self._bus.emit(report)

    def _overflowed(self, dropped_ms: int) -> None:
        """Counted always; reported as an ``error`` event at most every few seconds."""
        api = self._api
        api.stats.bot_audio_dropped_ms += dropped_ms
        if self._overflow is None:
            self._overflow = OverflowReport(api.provider_name, api.options.max_playout_s)
        warning = self._overflow.add(dropped_ms)
        if warning is not None:
            log.warning("%s", warning)
            api.emit_error(warning, fatal=False)

    def end_of_stream(self, item_id: str | None) -> None:
        media = self._api._media  # pyright: ignore[reportPrivateUsage]
        if media is not None and media.is_running:
            media.end_of_stream(item_id)

    def flush(self) -> PlaybackMark:
        media = self._api._media  # pyright: ignore[reportPrivateUsage]
        return media.flush() if media is not None and media.is_running else NO_MARK

    def mark(self) -> PlaybackMark:
        media = self._api._media  # pyright: ignore[reportPrivateUsage]
        return media.mark() if media is not None and media.is_running else NO_MARK

    def bot_started(self) -> None:
        self._api._monitor.watch_bot()  # pyright: ignore[reportPrivateUsage]

    def bot_stopped(self) -> None:
        media = self._api._media  # pyright: ignore[reportPrivateUsage]
        if media is not None:
            self._report_turn_latency(media)

    def fail(self, message: str) -> None:
        self._api.connection_error(ProviderError(message, fatal=True))
