"""The conversation core: provider events in, RTVI events and speaker commands out. No I/O.

Every provider used to keep its own copy of "which reply is playing, which
one the user cut off, is the user speaking, when did the turn end": three
copies that had already drifted apart. This class is the one copy. It owns

* bot replies: ids (minted when the wire has none), ``bot-llm-started`` …
  ``bot-tts-started`` … ``bot-tts-stopped`` … ``bot-llm-stopped``;
* cut replies and late audio: audio for a reply the user interrupted is never
  played, and the next reply always is — with wire ids (the cut ids are
  remembered) or without (id-less audio after a cut is dropped until a reply
  boundary: a new reply, the end of its audio, its end, or the user's turn
  ending);
* user and bot speaking state, de-duplicated, and ``bot-interrupted``;
* the time-to-first-audio clock (``ttfb`` metric);
* transcripts: user deltas → one final per utterance (:mod:`.utterances`); bot
  deltas → ``bot-tts-text``/``bot-llm-text`` and ``bot-output`` per sentence (linear);
* the tool-call ledger (:mod:`.calls`), and when a metric is due (:mod:`.metrics`).

It talks to the world only through an :class:`Output` (the transport in
production, a recorder in tests), so every rule here is tested without a
socket or a sound card.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .. import rtvi
from ..audio import PlaybackMark
from . import events as ev
from .calls import CallLedger
from .metrics import metric_entry, metrics, token_counts
from .output import Output, Stats
from .replies import CutSet, Reply
from .text import SentenceSplitter, TextBuffer
from .utterances import UserTranscripts


class Conversation:
    """The state of one conversation across its sessions; see the module docstring."""

    def __init__(
        self,
        output: Output,
        stats: Stats,
        *,
        provider: str,
        model: Callable[[], str | None] = lambda: None,
        output_rate: Callable[[], int] = lambda: 24000,
        clock: Callable[[], float] = time.perf_counter,
        bot_output: str = "reply",
        announced_replies: bool = False,
    ) -> None:
        self._out = output
        self._emit = output.emit
        self._stats = stats
        self._provider = provider
        self._model = model
        self._output_rate = output_rate
        self._by_sentence = bot_output == "sentence"
        #: The provider starts every reply with ``reply_started`` (Deepgram's
        #: AgentStartedSpeaking): after a cut, only that ends the cut reply's late audio.
        self._announced = announced_replies
        self._clock = clock
        self.calls = CallLedger(output.emit)
        self.user_speaking = False
        self.bot_speaking = False
        self._reply: Reply | None = None
        self._after_cut = False  # the last reply ended cut off (its late words are unheard)
        self._replies = 0
        self._cut_replies = CutSet()
        self._cut_items = CutSet()
        self._turn_ended_at: float | None = None
        self._transcripts = UserTranscripts(output)
        self._handlers: dict[type[Any], Callable[[Any], Any]] = {
            ev.UserSpeechStarted: lambda e: self.user_started(interrupt=e.interrupt),
            ev.UserSpeechStopped: lambda e: self.user_stopped(start_clock=e.start_clock),
            ev.UserTranscript: lambda e: self._transcripts.add(e.text, e.final, e.item_id),
            ev.ReplyStarted: lambda e: self.reply_started(e.reply_id),
            ev.BotAudio: lambda e: self.audio(e.pcm, e.reply_id, e.item_id),
            ev.AudioDone: lambda e: self.audio_done(e.reply_id, e.item_id),
            ev.BotText: lambda e: self.bot_text(e.text, e.spoken, e.reply_id),
            ev.BotTextDone: lambda e: self.bot_text_done(e.text, e.spoken, e.reply_id),
            ev.ReplyDone: lambda e: self.reply_done(e.reply_id),
            ev.FunctionCallStarted: lambda e: self.calls.started(e.call_id, e.name, e.reply_id),
            ev.FunctionCallArguments: lambda e: self.calls.arguments(
                e.call_id, e.name, e.arguments, e.reply_id
            ),
            ev.FunctionCallCancelled: lambda e: self.calls.cancel(e.call_id),
            ev.Usage: self.usage,
            ev.ServerError: self.server_error,
        }

    def handle(self, event: ev.ProviderEvent) -> Any:
        """Apply one provider event (returns what its method returns, e.g. a PlaybackMark)."""
        return self._handlers[type(event)](event)

    @property
    def user_transcript_pending(self) -> bool:
        """Whether user words were received that no final transcript has covered yet."""
        return self._transcripts.pending

    @property
    def reply(self) -> Reply | None:
        """The reply in progress (possibly cut off), or None between replies."""
        return self._reply

    # ------------------------------------------------------------------ the user
    def user_started(self, *, interrupt: bool = True) -> PlaybackMark:
        """The user spoke: silence the bot first (unless ``interrupt=False``), then the events."""
        mark = self._out.flush() if interrupt else self._out.mark()
        self._turn_ended_at = None
        self._transcripts.finish(None)  # an id-less transcript belongs to the previous utterance
        if not self.user_speaking:
            self.user_speaking = True
            self._emit(rtvi.UserStartedSpeaking())
        if interrupt:
            self._interrupted(mark)
        return mark

    def interrupt_bot(self) -> PlaybackMark:
        """Silence the bot for any reason (typed text, a stop button): the reply is cut."""
        mark = self._out.flush()
        self._interrupted(mark)
        return mark

    def user_stopped(self, *, start_clock: bool = True) -> None:
        if start_clock:
            self._turn_ended_at = self._clock()
        if self.user_speaking:
            self.user_speaking = False
            self._emit(rtvi.UserStoppedSpeaking())
        reply = self._reply
        if reply is not None and reply.cut and not reply.wire and not self._announced:
            self._close(reply)  # the user's turn is over: what comes next answers it

    def user_transcript(self, text: str, final: bool = False, item_id: str | None = None) -> None:
        self._transcripts.add(text, final, item_id)

    # ------------------------------------------------------------------ the bot's replies
    def reply_started(self, reply_id: str | None = None) -> str:
        """A new reply begins (the previous one, if still open, ends first); returns its id."""
        reply = self._reply
        if reply is not None:
            if reply_id is not None and reply.id == reply_id:
                return reply.id
            self._close(reply)
        return self._start(reply_id).id

    def audio(self, pcm: bytes, reply_id: str | None = None, item_id: str | None = None) -> None:
        """Play one piece of a reply's audio, unless the user cut that reply off."""
        if not pcm:
            return
        reply = self._reply
        if reply_id is None:
            if (reply is not None and reply.cut) or (reply is None and self._waits_for_reply()):
                self._stats.late_audio_dropped += 1
                return
            if reply is None or reply.audio_done:
                if reply is not None:
                    self._close(reply)
                reply = self._start(None)
        elif reply is None or reply.id != reply_id:
            if reply_id in self._cut_replies:
                self._stats.late_audio_dropped += 1
                return
            if reply is not None:
                self._close(reply)
            reply = self._start(reply_id)
        elif reply.cut:
            self._stats.late_audio_dropped += 1
            return
        if item_id is not None:
            if item_id in self._cut_items:
                self._stats.late_audio_dropped += 1
                return
            reply.last_item = item_id
        if not self._out.play(pcm, reply.last_item or reply.id):
            return
        reply.audio_bytes += len(pcm)
        started = self._turn_ended_at
        if started is not None:
            self._turn_ended_at = None
            self._ttfb(self._clock() - started)
        if not reply.tts_started:
            reply.tts_started = True
            self._emit(rtvi.BotTTSStarted())
        if not self.bot_speaking:
            self.bot_started()

    def _waits_for_reply(self) -> bool:
        """Announced replies: after a cut, id-less audio waits for the next reply's start."""
        return self._announced and self._after_cut

    def audio_done(self, reply_id: str | None = None, item_id: str | None = None) -> None:
        """All of a reply's audio was sent: let its tail (shorter than the prebuffer) play."""
        reply = self._reply
        if reply is not None and (reply_id is None or reply.id == reply_id):
            if reply.cut:
                if not reply.wire and not self._announced:
                    self._close(reply)  # the server finished the cut reply: what follows is new
                return
            reply.audio_done = True
            self._out.end_of_stream(item_id or reply.item)
        elif reply_id is None or reply_id not in self._cut_replies:
            self._out.end_of_stream(item_id or reply_id)

    def reply_done(self, reply_id: str | None = None) -> None:
        reply = self._reply
        if reply is not None and (reply_id is None or reply.id == reply_id):
            self._close(reply)
        elif reply_id is not None:
            self.calls.reply_ended(reply_id)

    def bot_text(self, text: str, spoken: bool = True, reply_id: str | None = None) -> None:
        """A delta of the bot's words (``bot-tts-text``/``bot-llm-text``), gathered for its
        ``bot-output``. Late words of an ended reply are deltas only: no new reply opens
        and the ended one keeps its single ``bot-output``."""
        reply = self._reply
        if reply is None or (reply_id is not None and reply.id != reply_id):
            if reply_id in self._cut_replies or (reply_id is None and self._after_cut):
                return  # the words of a reply the user cut off: never heard
            self._text_delta(text, spoken)
            return
        if reply.cut:
            if spoken:
                reply.unheard = reply.unheard or TextBuffer()
                reply.unheard.add(text)
            return
        self._text_delta(text, spoken)
        pending = reply.spoken if spoken else reply.written
        if pending is None:
            pending = SentenceSplitter() if self._by_sentence else TextBuffer()
            if spoken:
                reply.spoken = pending
            else:
                reply.written = pending
        if isinstance(pending, TextBuffer):
            pending.add(text)
            return
        for sentence in pending.feed(text):
            self._emit(rtvi.bot_output(sentence, spoken=spoken))

    def bot_text_done(self, text: str, spoken: bool = True, reply_id: str | None = None) -> None:
        """A reply's text part is complete; ``text`` is used only if no delta carried it.

        A reply of several parts (OpenAI's spoken preamble item, then the answer item)
        still gives one ``bot-output`` per reply (issue 17's invariant), its parts joined
        with a space, never glued together.
        """
        reply = self._reply
        if reply is None or (reply_id is not None and reply.id != reply_id) or reply.cut:
            return
        pending = reply.spoken if spoken else reply.written
        if pending is None or (isinstance(pending, TextBuffer) and not pending):
            self.bot_text(text, spoken, reply_id)  # no delta carried this part's words
            pending = reply.spoken if spoken else reply.written
        if isinstance(pending, SentenceSplitter):
            rest = pending.flush()
            if rest:
                self._emit(rtvi.bot_output(rest, spoken=spoken))
        elif pending is not None:
            pending.end_part()  # a reply of several items (a preamble, then the answer)

    def _start(self, reply_id: str | None) -> Reply:
        self._replies += 1
        reply = self._reply = Reply(reply_id or f"reply-{self._replies}", reply_id is not None)
        self._after_cut = False
        self._emit(rtvi.BotLLMStarted())
        return reply

    def _close(self, reply: Reply) -> None:
        self._reply = None
        if reply.audio_bytes and not reply.cut and not reply.audio_done:
            self._out.end_of_stream(reply.item)
        for pending, spoken in ((reply.spoken, True), (reply.written, False)):
            rest = pending.flush() if pending is not None else ""
            if rest:
                self._emit(rtvi.bot_output(rest, spoken=spoken))
        unheard = reply.unheard.flush() if reply.unheard is not None else ""
        if unheard:
            heard = (
                min(1.0, reply.heard_ms / self._ms(reply.audio_bytes)) if reply.audio_bytes else 0.0
            )
            self._emit(
                rtvi.bot_output(
                    unheard,
                    spoken=True,
                    spoken_status="interrupted",
                    spoken_progress=round(heard, 3),
                )
            )
        if reply.tts_started and not reply.tts_stopped:
            reply.tts_stopped = True
            self._emit(rtvi.BotTTSStopped())
        self._emit(rtvi.BotLLMStopped())
        self.calls.reply_ended(reply.id)
        self._after_cut = reply.cut

    def _interrupted(self, mark: PlaybackMark) -> None:
        if mark.item_id is not None:
            self._cut_items.add(mark.item_id)
        reply = self._reply
        if reply is not None and not reply.cut and (not reply.audio_done or mark.dropped_ms):
            reply.cut = True
            reply.heard_ms = mark.played_ms if mark.item_id == reply.item else 0
            if reply.wire:
                self._cut_replies.add(reply.id)
            if reply.tts_started:
                reply.tts_stopped = True
                self._emit(rtvi.BotTTSStopped())
            if reply.spoken is not None:  # words not in a bot-output yet: maybe unheard
                reply.unheard = TextBuffer()
                reply.unheard.add(reply.spoken.flush())
        elif reply is None and self._announced:
            # The reply ended on the wire but its audio may still be playing, and more of
            # it in flight: until the next reply announces itself, audio is that reply's.
            self._after_cut = True
        if self.bot_speaking:
            self._emit(rtvi.BotInterrupted())
            self.bot_stopped()

    def _text_delta(self, text: str, spoken: bool) -> None:
        if text and self._out.wants("bot-tts-text" if spoken else "bot-llm-text"):
            data = rtvi.TextData(text=text)
            self._emit(rtvi.BotTTSText(data=data) if spoken else rtvi.BotLLMText(data=data))

    # ------------------------------------------------------------------ speaking, metrics
    def bot_started(self) -> None:
        if not self.bot_speaking:
            self.bot_speaking = True
            self._out.bot_started()
            self._emit(rtvi.BotStartedSpeaking())

    def bot_stopped(self) -> None:
        if self.bot_speaking:
            self.bot_speaking = False
            self._out.bot_stopped()
            self._emit(rtvi.BotStoppedSpeaking())

    def _ttfb(self, seconds: float) -> None:
        entry = metric_entry(self._provider, self._model(), round(seconds, 4))
        self._emit(metrics(ttfb=[entry]))

    def usage(self, usage: ev.Usage) -> None:
        processor = usage.processor or self._provider
        entry = metric_entry(processor, usage.model or self._model(), token_counts(usage))
        self._emit(metrics(tokens=[entry]))

    def server_error(self, error: ev.ServerError) -> None:
        if error.fatal:
            self._out.fail(error.message)
        else:
            self._emit(rtvi.error(error.message, fatal=False))

    def _ms(self, size: int) -> float:
        """Milliseconds of PCM16 mono audio at the provider's output rate."""
        return size * 500 / self._output_rate()

    # ------------------------------------------------------------------ sessions
    def end_session(self) -> None:
        """The connection is gone: what it left open ends in events; the next one starts clean."""
        reply = self._reply
        if reply is not None:
            reply.cut = reply.cut or not reply.audio_done
            self._close(reply)
        self.calls.cancel_all()
        self._transcripts.clear()
        self._cut_replies.clear()
        self._cut_items.clear()
        self._turn_ended_at = None
        self._after_cut = False

    def reset_speaking(self) -> None:
        """Speaking flags off without events (the media stopped: nobody is heard any more)."""
        self.user_speaking = self.bot_speaking = False
        self._turn_ended_at = None
