"""Gemini Live provider for rtws.

    from rtws_gemini import GeminiLiveTransport, GeminiLiveOptions

    async with GeminiLiveTransport(GeminiLiveOptions(voice="Kore")) as t:
        ...

``rtws_gemini.testing`` holds a local fake of the Live API (run it with
``python -m rtws_gemini.testing``).
"""

from .options import (
    AutomaticActivityDetection,
    ContextWindowCompression,
    EphemeralToken,
    FunctionDeclaration,
    GeminiLiveOptions,
    ManualActivity,
)
from .setup import setup_message
from .transport import GeminiLiveTransport

__all__ = [
    "AutomaticActivityDetection",
    "ContextWindowCompression",
    "EphemeralToken",
    "FunctionDeclaration",
    "GeminiLiveOptions",
    "GeminiLiveTransport",
    "ManualActivity",
    "setup_message",
]
