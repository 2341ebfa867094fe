"""OpenAI Realtime (GA protocol) provider for rtws.

    from rtws_openai import OpenAIRealtimeTransport, OpenAIRealtimeOptions

    async with OpenAIRealtimeTransport(OpenAIRealtimeOptions(voice="marin")) as t:
        ...

Azure OpenAI: ``OpenAIRealtimeOptions.azure(endpoint, deployment)``.
``rtws_openai.testing`` holds a faithful local fake of the protocol and the
no-key demo bot.
"""

from .auth import ClientSecret, fetch_client_secret
from .options import (
    CustomVoice,
    EphemeralToken,
    ForcedFunction,
    FunctionTool,
    InputTranscription,
    NoiseReduction,
    OpenAIRealtimeOptions,
    RetentionRatio,
    SemanticVAD,
    ServerVAD,
)
from .session import client_secret_request, session_config
from .transport import OpenAIRealtimeTransport

__all__ = [
    "ClientSecret",
    "CustomVoice",
    "EphemeralToken",
    "ForcedFunction",
    "FunctionTool",
    "InputTranscription",
    "NoiseReduction",
    "OpenAIRealtimeOptions",
    "OpenAIRealtimeTransport",
    "RetentionRatio",
    "SemanticVAD",
    "ServerVAD",
    "client_secret_request",
    "fetch_client_secret",
    "session_config",
]
