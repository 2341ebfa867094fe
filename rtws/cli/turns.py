"""Whose turn it is in a CLI session, from its events: does the bot still owe an answer?

A file session (``--input`` without ``--duration``) ends once its input has been
answered. Deciding that takes the whole turn-taking picture (someone speaking,
a reply still open, a user transcript still on its way), built from events
alone; it is kept apart from :mod:`.session`, which only waits on it, so it is
read and tested on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from .. import rtvi


class TurnTracker:
    """Knows from events whether the bot still owes the user an answer."""

    def __init__(self) -> None:
        self.replies = 0
        self.awaiting_reply = False
        self.user_speaking = False
        self.bot_speaking = False
        self.open_responses = 0
        self.missing_transcripts = 0
        self.changed_at = time.monotonic()
        self._changed = asyncio.Event()

    def handle(self, msg: rtvi.RTVIMessage) -> None:
        match msg.type:
            case "user-started-speaking":
                self.user_speaking = True
            case "user-stopped-speaking":
                self.user_speaking = False
                self.awaiting_reply = True
                self.missing_transcripts += 1
            case "user-transcription" if isinstance(msg, rtvi.UserTranscription) and msg.data.final:
                self.missing_transcripts = max(0, self.missing_transcripts - 1)
            case "bot-started-speaking":
                self.bot_speaking = True
                self.awaiting_reply = False
                self.replies += 1
            case "bot-stopped-speaking":
                self.bot_speaking = False
            case "bot-llm-started":
                self.open_responses += 1
            case "bot-llm-stopped":
                self.open_responses = max(0, self.open_responses - 1)
            case _:
                return
        self.changed_at = time.monotonic()
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def quiet_for(self) -> float:
        """Seconds since the last turn event."""
        return time.monotonic() - self.changed_at

    async def wait_change(self, at_most: float | None = None) -> None:
        """Until the next turn event, or ``at_most`` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(at_most):
                await self._changed.wait()

    @property
    def answered(self) -> bool:
        """At least one reply, nothing unanswered, nobody speaking, no response still open."""
        return (
            self.replies > 0
            and not self.awaiting_reply
            and not self.user_speaking
            and not self.bot_speaking
            and self.open_responses == 0
        )
