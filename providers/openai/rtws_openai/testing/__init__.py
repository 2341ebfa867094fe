"""A faithful local fake of the OpenAI Realtime GA websocket API, and a no-key demo bot.

Tests and demos talk to :class:`FakeRealtimeServer` exactly as to
``wss://api.openai.com/v1/realtime``: same handshake, same events and fields
(checked against the ``openai`` SDK's models), same error shapes. What the
"model" says comes from a :class:`Bot`: :class:`ScriptedBot` for tests,
:class:`DemoBot` (offline ASR + espeak-ng) for ``python -m rtws_openai.testing``.

    async with FakeRealtimeServer(bot=ScriptedBot([Reply.say("Hello!")])) as server:
        ...  # connect to server.url with "Authorization: Bearer " + DEFAULT_API_KEY
"""

from .bots import (
    Bot,
    ErrorSpec,
    FunctionCall,
    FunctionOutput,
    Reply,
    ScriptedBot,
    Transcriber,
    Turn,
    stand_in_speech,
)
from .demo import DemoBot
from .pacing import Streaming
from .records import ConnectionRecord, Truncation
from .server import DEFAULT_API_KEY, FakeRealtimeServer, Handshake, mask_secret
from .vad import EnergyVAD

__all__ = [
    "DEFAULT_API_KEY",
    "Bot",
    "ConnectionRecord",
    "DemoBot",
    "EnergyVAD",
    "ErrorSpec",
    "FakeRealtimeServer",
    "FunctionCall",
    "FunctionOutput",
    "Handshake",
    "Reply",
    "ScriptedBot",
    "Streaming",
    "Transcriber",
    "Truncation",
    "Turn",
    "mask_secret",
    "stand_in_speech",
]
