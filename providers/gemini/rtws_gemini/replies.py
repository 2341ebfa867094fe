"""Where a Gemini reply begins and ends: the wire has no reply ids and three kinds of end.

A reply's audio ends at ``generationComplete``; the server's turn runs on to
``turnComplete`` (or ``interrupted``), which it may hold back; and the output
transcription is an independent stream whose tail may come after both. So a
reply ends once its generation is complete and the transcript's tail had
:data:`TRANSCRIPT_GRACE_S` to arrive, or at the first sign of the user's next
turn, whichever comes first; words after that are a delta of the ended reply,
never a phantom new one. The transport calls one method per server signal;
this class keeps the timing, apart from the translation table, and tells the
base where replies start and end.
"""

from __future__ import annotations

import asyncio

from rtws.provider import ProviderAPI

#: After generationComplete, how long a reply waits for the tail of its transcript (an
#: independent stream) before it ends without the turnComplete the server holds back.
TRANSCRIPT_GRACE_S = 0.25


class Replies:
    """The reply in progress as Gemini's signals say (see the module docstring)."""

    def __init__(self, api: ProviderAPI) -> None:
        self._api = api
        #: The server's turn runs from its first modelTurn to turnComplete (or interrupted):
        #: longer than the reply, which ends at generationComplete.
        self.turn_open = False
        #: A turn ended and the user has not taken the next one: an ``outputTranscription``
        #: now is the ended turn's late tail (the streams are independent), not a new reply.
        self._after_turn = False
        self._end_timer: asyncio.TimerHandle | None = None

    # ---- the server's signals
    def model_turn(self) -> None:
        """Model output: it belongs to the open reply, or opens the next one."""
        if self._end_timer is not None:
            self.end()  # the generation had ended: this is the next turn's reply
        if self._api.conversation.reply is None:
            self._open()
        self.turn_open = True
        self._after_turn = False

    def bot_words(self) -> None:
        """An output transcript: a reply's words may come before its audio and start it.

        After a turn ended, until the user's next turn, they are that turn's tail
        instead: a delta only (no phantom reply; the ended reply kept its one bot-output).
        """
        if self._api.conversation.reply is None and not self._after_turn:
            self._open()

    def user_words(self) -> None:
        """An input transcript: the user's next turn, unless their words belong to the
        reply that is still open."""
        if self._api.conversation.reply is None or self._end_timer is not None:
            self.user_turn_begins()

    def interrupted(self) -> None:
        """The server stopped the generation: whatever comes next is a new reply,
        whether or not a turnComplete closes this one."""
        self.end()
        self.turn_open = False
        self._after_turn = True

    def turn_complete(self) -> None:
        if self._end_timer is None:  # no generationComplete came: its wait starts now
            self.end_soon()
        self.turn_open = False

    def end_soon(self) -> None:
        """The turn's generation is over: end its reply once the transcript's tail had
        :data:`TRANSCRIPT_GRACE_S` to arrive (or when the user's next turn shows first).
        A tail later than that is a ``bot-tts-text`` delta of the ended reply only."""
        self._after_turn = True
        reply = self._api.conversation.reply
        if reply is None:
            return
        self.cancel()
        loop = asyncio.get_running_loop()
        self._end_timer = loop.call_later(TRANSCRIPT_GRACE_S, self.end, reply)

    def user_turn_begins(self) -> None:
        """A sign of the user's next turn: the ended reply stops waiting for its tail, and
        a transcript from now on belongs to the answer."""
        if self._end_timer is not None:
            self.end()
        self._after_turn = False

    def end(self, reply: object = None) -> None:
        """End the reply (``reply``: only if it is still the one in progress)."""
        self.cancel()
        if reply is None or self._api.conversation.reply is reply:
            self._api.bot_reply_done()

    def cancel(self) -> None:
        """Stop waiting for a transcript's tail (the session ends)."""
        if self._end_timer is not None:
            self._end_timer.cancel()
            self._end_timer = None

    def reset(self) -> None:
        """A new connection: the previous one's turn cannot continue."""
        self.cancel()
        self.turn_open = False
        self._after_turn = False

    def _open(self) -> None:
        api = self._api
        if api.is_user_speaking:
            # No end-of-speech signal without voiceActivity: the model answering is the
            # best one (too late to start the time-to-first-audio clock).
            api.user_stopped_speaking(start_ttfb_clock=False)
        api.bot_reply_started()
        self._after_turn = False
