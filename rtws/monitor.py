"""The session's slow clock: audio level events, and noticing that the bot went quiet.

Neither needs a steady tick. Level events are due every ``level_interval``,
but only while someone listens for them; the bot's turn can end no sooner
than the audio queued for the speaker has played, plus
``bot_stopped_after_ms`` of silence. So one timer is armed for the earliest
thing really due, and none at all while the bot is quiet and nobody reads
levels. A fleet of idle sessions then costs no wake-ups (a fixed 50 ms tick
was 20 timers a second per session), and ``bot-stopped-speaking`` comes when
the silence is long enough rather than on the next tick after.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from . import rtvi
from .events import EventBus
from .media.base import MediaManager
from .options import TransportOptions
from .redact import get_logger

log = get_logger("rtws.monitor")

USER_LEVEL = "user-audio-level"
BOT_LEVEL = "bot-audio-level"


class SessionMonitor:
    """Emits audio levels and calls ``on_bot_stopped`` once the bot's audio has played out.

    ``bot_speaking`` tells it whether there is a turn to watch; call
    :meth:`watch_bot` when the bot starts speaking. Runs on the loop thread,
    between :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        bus: EventBus,
        options: TransportOptions,
        bot_speaking: Callable[[], bool],
        on_bot_stopped: Callable[[], None],
    ) -> None:
        self._bus = bus
        self._options = options
        self._bot_speaking = bot_speaking
        self._on_bot_stopped = on_bot_stopped
        self._media: MediaManager | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0  # time.monotonic() the timer fires at
        self._levels = (False, False)  # whether anyone listens to the (user, bot) levels
        self._next_levels = 0.0
        bus.on_listeners_changed = self.listeners_changed

    @property
    def armed(self) -> bool:
        """Whether a timer is pending (none while there is nothing to watch)."""
        return self._timer is not None

    def start(self, media: MediaManager) -> None:
        self._media = media
        self._loop = asyncio.get_running_loop()
        self._next_levels = time.monotonic()
        self.listeners_changed()

    def stop(self) -> None:
        self._media = None
        self._disarm()

    def watch_bot(self) -> None:
        """The bot started speaking: tell ``on_bot_stopped`` when it has gone quiet."""
        self._arm()

    def listeners_changed(self) -> None:
        """Someone (un)subscribed: meter only what is listened to, tick only if needed."""
        bus = self._bus
        levels = (bus.has_listeners(USER_LEVEL), bus.has_listeners(BOT_LEVEL))
        if any(levels) and not any(self._levels):
            self._next_levels = time.monotonic()
        self._levels = levels
        media = self._media
        if media is not None:
            # A meter costs a few microseconds per block on each path: off unless read.
            media.set_metering(*levels)
            self._arm()

    def _due(self, media: MediaManager, now: float) -> float | None:
        """When the next thing is due (``time.monotonic()``), or None for nothing."""
        due: float | None = None
        if self._bot_speaking():
            silence = self._options.bot_stopped_after_ms / 1000
            idle = media.bot_audio_idle_since
            if idle is None:  # playing: it cannot fall quiet before the queue has played
                due = now + media.bot_audio_buffered_ms / 1000 + silence
            else:
                due = idle + silence
        if any(self._levels):
            due = self._next_levels if due is None else min(due, self._next_levels)
        return due

    def _arm(self) -> None:
        media, loop = self._media, self._loop
        if media is None or loop is None or not media.is_running:
            return
        now = time.monotonic()
        due = self._due(media, now)
        if due is None or (self._timer is not None and self._timer_due <= due):
            return  # nothing to do, or the pending tick comes first (it re-arms)
        self._disarm()
        self._timer_due = due
        self._timer = loop.call_later(max(0.0, due - now), self._tick)

    def _disarm(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _tick(self) -> None:
        self._timer = None
        media = self._media
        if media is None or not media.is_running:
            return
        now = time.monotonic()
        try:
            if self._bot_speaking():
                idle = media.bot_audio_idle_since
                if idle is not None and now - idle >= self._options.bot_stopped_after_ms / 1000:
                    self._on_bot_stopped()
            if any(self._levels) and now >= self._next_levels:
                self._next_levels = now + self._options.level_interval
                self._emit_levels(media)
        except Exception:  # a callback's exception would only reach the loop's handler
            log.exception("session monitor failed")
        self._arm()

    def _emit_levels(self, media: MediaManager) -> None:
        mic, bot = media.read_levels()
        user_on, bot_on = self._levels
        if user_on:
            self._bus.emit(rtvi.UserAudioLevel(data=rtvi.AudioLevelData(value=round(mic, 3))))
        if bot_on:
            self._bus.emit(rtvi.BotAudioLevel(data=rtvi.AudioLevelData(value=round(bot, 3))))
