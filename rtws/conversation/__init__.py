"""The conversation core (no I/O): provider events in, RTVI events and speaker commands out.

See :class:`Conversation`; the events a provider feeds it are in :mod:`.events`.
"""

from . import events
from .calls import Call, CallLedger
from .core import Conversation
from .metrics import metrics
from .output import Output
from .replies import Reply
from .text import MAX_SENTENCE, SentenceSplitter, TextBuffer, Utterance

__all__ = [
    "MAX_SENTENCE",
    "Call",
    "CallLedger",
    "Conversation",
    "Output",
    "Reply",
    "SentenceSplitter",
    "TextBuffer",
    "Utterance",
    "events",
    "metrics",
]
