"""OpenAI Realtime (GA protocol) provider for rtws.

    from rtws_openai import OpenAIRealtimeTransport, OpenAIRealtimeOptions

    async with OpenAIRealtimeTransport(OpenAIRealtimeOptions(voice="marin")) as t:
        ...

``rtws_openai.testing`` holds a faithful local fake of the protocol and the
no-key demo bot.
"""

from .options import (
    EphemeralToken,
    FunctionTool,
    InputTranscription,
    OpenAIRealtimeOptions,
    SemanticVAD,
    ServerVAD,
)
from .session import session_config
from .transport import OpenAIRealtimeTransport

__all__ = [
    "EphemeralToken",
    "FunctionTool",
    "InputTranscription",
    "OpenAIRealtimeOptions",
    "OpenAIRealtimeTransport",
    "SemanticVAD",
    "ServerVAD",
    "session_config",
]
