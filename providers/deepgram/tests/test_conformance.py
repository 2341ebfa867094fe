"""The rtws conformance kit, run against the Deepgram provider and its fake server.

The fake sends a reply's audio at once (``pace=0``): the kit's speaker plays
it in real time, as a client buffering Deepgram's stream does. The fake finds
no turns in the kit's mic signals (``hear_speech=False``), so a check's own
audio never starts a reply or a barge-in; a barge-in is the harness's
``UserStartedSpeaking``; Deepgram has no truncation message (the
server knows what it stopped), so the kit skips that part.
"""

from __future__ import annotations

import numpy as np
from rtws_deepgram import DeepgramVoiceAgentTransport
from rtws_deepgram.testing import FakeDeepgramAgent, options_for

from rtws import MediaManager
from rtws.testing import ProviderConformance, ProviderHarness
from rtws.testing.signals import Int16Array


class DeepgramHarness(ProviderHarness):
    def __init__(self) -> None:
        self.server = FakeDeepgramAgent(pace=0.0)
        self.server.hear_speech = False  # only the harness decides when the user speaks

    async def start(self) -> None:
        await self.server.__aenter__()

    async def stop(self) -> None:
        await self.server.__aexit__(None, None, None)

    def make_transport(self, media: MediaManager) -> DeepgramVoiceAgentTransport:
        return DeepgramVoiceAgentTransport(options_for(self.server), media)

    async def server_say(self, pcm: Int16Array) -> None:
        await self.server.say("Conformance.", audio=pcm)

    async def server_interrupt(self) -> None:
        await self.server.interrupt()

    def received_audio(self) -> Int16Array:
        return np.frombuffer(self.server.received_audio(), dtype=np.int16)


class TestDeepgramConformance(ProviderConformance):
    def make_harness(self) -> ProviderHarness:
        return DeepgramHarness()
