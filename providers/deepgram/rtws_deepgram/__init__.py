"""Deepgram Voice Agent API v1 provider for rtws.

    from rtws_deepgram import DeepgramVoiceAgentOptions, DeepgramVoiceAgentTransport

    async with DeepgramVoiceAgentTransport(DeepgramVoiceAgentOptions(prompt="Be brief.")) as t:
        ...

``rtws_deepgram.testing`` holds a faithful local fake of the protocol.
"""

from .options import DEFAULT_URL, AgentFunction, DeepgramVoiceAgentOptions
from .settings import settings_message
from .transport import DeepgramVoiceAgentTransport

__all__ = [
    "DEFAULT_URL",
    "AgentFunction",
    "DeepgramVoiceAgentOptions",
    "DeepgramVoiceAgentTransport",
    "settings_message",
]
