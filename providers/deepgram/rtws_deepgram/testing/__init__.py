"""A faithful local fake of the Deepgram Voice Agent API v1, for tests and the no-key demo.

Tests talk to :class:`FakeDeepgramAgent` exactly as to
``wss://agent.deepgram.com/v1/agent/converse``: same handshake and 401,
same messages and fields (checked against the ``deepgram-sdk`` agent v1
models), binary PCM both ways, the same ``Error`` codes. What the agent
says comes from scripted :class:`Reply` objects, or "You said: ...".

    async with FakeDeepgramAgent(pace=0) as server:
        server.script(Reply(text="Hello!"))
        ...  # connect to server.url with "Authorization: Token " + DEFAULT_API_KEY
"""

from .harness import options_for, running_fake
from .replies import ConnectionRecord, FunctionCall, Reply, default_reply
from .schema import SessionConfig, SettingsError, parse_settings
from .server import DEFAULT_API_KEY, PATH, FakeDeepgramAgent, mask_secret
from .speech import speech_like_tone
from .vad import EnergyVAD

__all__ = [
    "DEFAULT_API_KEY",
    "PATH",
    "ConnectionRecord",
    "EnergyVAD",
    "FakeDeepgramAgent",
    "FunctionCall",
    "Reply",
    "SessionConfig",
    "SettingsError",
    "default_reply",
    "mask_secret",
    "options_for",
    "parse_settings",
    "running_fake",
    "speech_like_tone",
]
