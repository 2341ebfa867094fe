"""What one OpenAI session remembers that the conversation core does not: the wire's items.

The core (:mod:`rtws.conversation`) owns replies, interruption, speaking,
transcripts and tool calls for every provider. What stays here is OpenAI's
own: how much audio each assistant item delivered (the upper bound for a
``conversation.item.truncate``), the response in flight (one at a time, so a
``response.create`` may have to wait), and the text of the conversation,
replayed into a new session after a reconnect.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field

from . import wire

#: Bytes per millisecond of PCM16 mono at 24 kHz.
BYTES_PER_MS = 48
#: Items whose audio bookkeeping is kept (older ones cannot be interrupted any more).
ITEMS_KEPT = 64
#: Conversation turns kept for replay after a reconnect.
HISTORY_KEPT = 40
#: Transcript deltas of one item kept for replay (a reply, not a book).
DELTAS_KEPT = 4096


@dataclass(slots=True)
class ItemAudio:
    """One assistant audio item as received (not as played: the player knows that)."""

    response_id: str | None
    content_index: int = 0
    received_bytes: int = 0
    done: bool = False
    truncated_at_ms: int | None = None

    @property
    def received_ms(self) -> int:
        """Whole milliseconds received: never more than the server has, so safe for a truncate."""
        return self.received_bytes // BYTES_PER_MS


@dataclass(slots=True)
class Response:
    id: str | None
    started_at: float = field(default_factory=time.perf_counter)
    interrupted: bool = False

    @property
    def age(self) -> float:
        """Seconds since ``response.created`` (the ``processing`` metric)."""
        return round(time.perf_counter() - self.started_at, 4)


@dataclass(slots=True)
class Turn:
    """One conversation item, kept to replay into a new session.

    ``role``: "user" | "assistant" (``text``), "function_call" (``name``, ``call_id``,
    ``text`` = its JSON arguments) or "function_call_output" (``call_id``, ``text``).
    ``item_id``: the user's audio item, whose transcript may complete after the reply.
    """

    role: str
    text: str
    name: str = ""
    call_id: str = ""
    item_id: str | None = None


class SessionBook:
    """Per-session state; :meth:`reset` on every (re)connect."""

    def __init__(self) -> None:
        self.history: list[Turn] = []
        self.reset()

    def reset(self) -> None:
        """A new session: everything but the conversation history is void."""
        self.response: Response | None = None
        self.response_requested = False
        self.pending_create: bool | None = None  # a deferred response.create (text_only flag)
        self.audio: OrderedDict[str, ItemAudio] = OrderedDict()
        self.interrupted: set[str] = set()
        self.spoken: dict[str, list[str]] = {}

    # ---- responses
    @property
    def busy(self) -> bool:
        """A response is running or was asked for: a new ``response.create`` must wait."""
        return self.response is not None or self.response_requested

    def request_response(self, text_only: bool) -> wire.Event | None:
        """The ``response.create`` to send now, or None when it waits for ``response.done``
        (one response at a time; the last request waiting wins)."""
        if self.busy:
            self.pending_create = text_only
            return None
        self.response_requested = True
        return wire.response_create(text_only)

    def create_refused(self, code: object) -> None:
        """The server refused our ``response.create``; one already running needs no retry."""
        self.response_requested = False
        if code == "conversation_already_has_active_response":
            self.pending_create = False

    def response_started(self, response_id: str | None) -> Response:
        self.response_requested = False
        self.response = Response(response_id)
        return self.response

    def response_finished(self, response_id: str | None) -> Response | None:
        response = self.response
        if response is not None and (response_id is None or response.id == response_id):
            self.response = None
            return response
        return None

    def is_interrupted(self, response_id: str | None) -> bool:
        return response_id is not None and response_id in self.interrupted

    # ---- audio items
    def audio_received(
        self, item_id: str, response_id: str | None, content_index: int, size: int
    ) -> None:
        item = self.audio.get(item_id)
        if item is None:
            item = self.audio[item_id] = ItemAudio(response_id, content_index)
            while len(self.audio) > ITEMS_KEPT:
                self.audio.popitem(last=False)
        item.received_bytes += size

    def audio_done(self, item_id: str) -> None:
        item = self.audio.get(item_id)
        if item is not None:
            item.done = True

    def barge_in(self, item_id: str | None, played_ms: int, *, cancel: bool) -> list[wire.Event]:
        """The client events that tell the server what the user heard of the reply they cut
        off (``played_ms`` of ``item_id``), and mark its response interrupted.

        ``cancel``: also stop the response, unless the server's VAD already did
        (``interrupt_response``: it cancels on speech_started by itself).
        """
        events: list[wire.Event] = []
        response = self.response
        if response is not None and not response.interrupted:
            response.interrupted = True
            if response.id is not None:
                self.interrupted.add(response.id)
            if cancel:
                events.append(wire.cancel(response.id))
        cut = self.truncate_point(item_id, played_ms)
        if cut is not None and item_id is not None:
            item, end_ms = cut
            if item.response_id is not None:
                self.interrupted.add(item.response_id)
            events.append(wire.truncate(item_id, end_ms, item.content_index))
        return events

    def truncate_point(self, item_id: str | None, played_ms: int) -> tuple[ItemAudio, int] | None:
        """Where to truncate an interrupted item, or None when the user heard all of it."""
        item = self.audio.get(item_id) if item_id is not None else None
        if item is None or item.truncated_at_ms is not None:
            return None
        end = min(played_ms, item.received_ms)
        if item.done and end >= item.received_ms:
            return None
        item.truncated_at_ms = end
        return item, end

    # ---- conversation text (for the replay after a reconnect)
    def bot_delta(self, item_id: str, delta: str) -> None:
        parts = self.spoken.setdefault(item_id, [])
        if len(parts) < DELTAS_KEPT:
            parts.append(delta)

    def bot_done(self, item_id: str, full_text: str, interrupted: bool) -> None:
        """Keep the part of an item's text the user heard, for the replay."""
        parts = self.spoken.pop(item_id, [])
        text = full_text or "".join(parts)
        item = self.audio.get(item_id)
        if item is not None and item.truncated_at_ms is not None:
            # Only what the user heard stays in the model's memory; keep the same here.
            words = text.split()
            heard = item.truncated_at_ms / item.received_ms if item.received_ms else 0.0
            text = " ".join(words[: round(len(words) * heard)])
        elif interrupted:
            text = ""  # cut off before any of it was played
        self.remember("assistant", text)

    def remember(self, role: str, text: str) -> None:
        if text.strip():
            self._keep(Turn(role, text.strip()))

    def user_item(self, item_id: str) -> None:
        """The user's audio became an item: its place in the conversation, before the reply
        (its transcript comes from a separate model and may complete only after it)."""
        if not any(t.item_id == item_id for t in self.history):
            self._keep(Turn("user", "", item_id=item_id))

    def user_said(self, item_id: str | None, text: str) -> None:
        """A user item's transcript: into its place if it has one, else at the end."""
        for turn in self.history:
            if item_id is not None and turn.item_id == item_id:
                turn.text = text.strip()
                return
        self.remember("user", text)

    def function_call(self, call_id: str, name: str, arguments: str) -> None:
        self._keep(Turn("function_call", arguments, name=name, call_id=call_id))

    def function_output(self, call_id: str, output: str) -> None:
        self._keep(Turn("function_call_output", output, call_id=call_id))

    def replay(self) -> list[Turn]:
        """What to replay: words said, and every call with its output (a call without one,
        or an output without its call, would be refused or leave the model waiting)."""
        called = {t.call_id for t in self.history if t.role == "function_call"}
        answered = {t.call_id for t in self.history if t.role == "function_call_output"}
        paired = called & answered
        return [
            t
            for t in self.history
            if (t.role in ("user", "assistant") and t.text) or t.call_id in paired
        ]

    def _keep(self, turn: Turn) -> None:
        self.history.append(turn)
        del self.history[:-HISTORY_KEPT]
