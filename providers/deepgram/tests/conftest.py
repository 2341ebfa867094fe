"""Fixtures for the Deepgram provider's tests: a running fake plus options for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rtws_deepgram import DeepgramVoiceAgentOptions
from rtws_deepgram.testing import FakeDeepgramAgent, running_fake

DATA = Path(__file__).resolve().parents[3] / "tests" / "data"
SPEECH_16K = DATA / "speech_16k.wav"
SPEECH_24K = DATA / "speech_24k.wav"


@dataclass
class FakeSession:
    server: FakeDeepgramAgent
    options: DeepgramVoiceAgentOptions


@pytest.fixture
async def fake() -> AsyncIterator[FakeSession]:
    """A fake that replies as fast as it can (no real-time pacing) + options for it."""
    async with running_fake(pace=0.0) as (server, options):
        yield FakeSession(server, options)
