"""A local fake of the Gemini Live API, for tests, demos and benchmarks without a key.

``python -m rtws_gemini.testing`` runs it; :func:`running_fake` starts one
in-process together with options that point at it.
"""

from .harness import FAST_RECONNECT, options_for, running_fake
from .schema import InvalidMessage, parse_client_message
from .server import ConnectionRecord, FakeGeminiServer
from .turns import Conversation, Reply, ToolCall, speech_like_tone
from .vad import EnergyVAD, VadEvent

__all__ = [
    "FAST_RECONNECT",
    "ConnectionRecord",
    "Conversation",
    "EnergyVAD",
    "FakeGeminiServer",
    "InvalidMessage",
    "Reply",
    "ToolCall",
    "VadEvent",
    "options_for",
    "parse_client_message",
    "running_fake",
    "speech_like_tone",
]
