"""What one OpenAI session remembers about responses, audio items and function calls.

The transport's handlers stay one-liners because the bookkeeping lives here:
how much audio each assistant item delivered (the upper bound for a
truncate), which responses were interrupted (their late audio must not
play), which function calls still wait for a result, and the text of the
conversation (replayed into a new session after a reconnect).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field

#: Bytes per millisecond of PCM16 mono at 24 kHz.
BYTES_PER_MS = 48
#: Items whose audio bookkeeping is kept (older ones cannot be interrupted any more).
ITEMS_KEPT = 64
#: Conversation turns kept for replay after a reconnect.
HISTORY_KEPT = 40

#: Where a sentence ends: whitespace after . ! ? or an ellipsis (a closing quote or bracket
#: may come between), or right after a CJK full stop, exclamation or question mark.
_SENTENCE_END = re.compile(
    r"(?:(?<=[.!?\u2026])|(?<=[.!?\u2026][\"')\]\u201d\u2019]))\s+|(?<=[\u3002\uff01\uff1f])\s*"
)


@dataclass
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


@dataclass
class Call:
    call_id: str
    name: str
    response_id: str | None
    arguments_done: bool = False


@dataclass
class Response:
    id: str | None
    started_at: float = field(default_factory=time.perf_counter)
    tts_started: bool = False
    interrupted: bool = False

    @property
    def age(self) -> float:
        """Seconds since ``response.created`` (the ``processing`` metric)."""
        return round(time.perf_counter() - self.started_at, 4)


class Sentences:
    """Streaming text → whole sentences, so ``bot-output`` comes per sentence as RTVI expects."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, delta: str) -> list[str]:
        self._buffer += delta
        parts = _SENTENCE_END.split(self._buffer)
        self._buffer = parts.pop()
        return [p.strip() for p in parts if p.strip()]

    def flush(self) -> str:
        rest, self._buffer = self._buffer.strip(), ""
        return rest


@dataclass
class Turn:
    """One side's words in the conversation, kept to replay into a new session."""

    role: str  # "user" | "assistant"
    text: str


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
        self.calls: dict[str, Call] = {}
        self.user_partials: dict[str, str] = {}
        self.sentences: dict[str, Sentences] = {}
        self.spoken: dict[str, str] = {}

    def abandon(self) -> tuple[Response | None, list[Call]]:
        """The session is gone: what it left open (to close in events), then a clean slate."""
        left = self.response, list(self.calls.values())
        self.reset()
        return left

    # ---- responses
    @property
    def busy(self) -> bool:
        """A response is running or was asked for: a new ``response.create`` must wait."""
        return self.response is not None or self.response_requested

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

    # ---- function calls
    def unfinished_calls(self, response_id: str | None) -> list[Call]:
        """Calls of a response that ended before their arguments were complete."""
        lost = [
            c for c in self.calls.values() if c.response_id == response_id and not c.arguments_done
        ]
        for call in lost:
            del self.calls[call.call_id]
        return lost

    def call_answered(self, call_id: str) -> bool:
        """Forget an answered call; True when no call waits any more (time to respond)."""
        self.calls.pop(call_id, None)
        return not any(c.arguments_done for c in self.calls.values())

    # ---- conversation text
    def user_delta(self, item_id: str, delta: str) -> str:
        text = self.user_partials.get(item_id, "") + delta
        self.user_partials[item_id] = text
        return text

    def user_final(self, item_id: str, text: str) -> None:
        self.user_partials.pop(item_id, None)
        self.remember("user", text)

    def bot_delta(self, item_id: str, delta: str) -> list[str]:
        self.spoken[item_id] = self.spoken.get(item_id, "") + delta
        return self.sentences.setdefault(item_id, Sentences()).feed(delta)

    def bot_done(self, item_id: str, full_text: str, interrupted: bool) -> str:
        """The last sentence still buffered (to emit), and the item's heard text kept for replay."""
        rest = self.sentences.pop(item_id, Sentences()).flush()
        text = full_text or self.spoken.get(item_id, "")
        self.spoken.pop(item_id, None)
        item = self.audio.get(item_id)
        if item is not None and item.truncated_at_ms is not None:
            # Only what the user heard stays in the model's memory; keep the same here.
            words = text.split()
            heard = item.truncated_at_ms / item.received_ms if item.received_ms else 0.0
            text = " ".join(words[: round(len(words) * heard)])
        elif interrupted:
            text = ""  # cut off before any of it was played
        self.remember("assistant", text)
        return "" if interrupted else rest

    def remember(self, role: str, text: str) -> None:
        if text.strip():
            self.history.append(Turn(role, text.strip()))
            del self.history[:-HISTORY_KEPT]
