"""Fixtures for the Gemini provider's tests: a running fake plus options, and event capture.

``fake`` is the reusable end-to-end building block (a :class:`FakeGeminiServer`
that answers at once, and options pointing at it); tests that need other
server knobs use :func:`rtws_gemini.testing.running_fake` directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rtws_gemini import GeminiLiveOptions
from rtws_gemini.testing import FakeGeminiServer, running_fake

from rtws import RealTimeWebsocketTransport, rtvi

DATA = Path(__file__).resolve().parents[3] / "tests" / "data"
SPEECH_16K = DATA / "speech_16k.wav"


@dataclass
class FakeSession:
    server: FakeGeminiServer
    options: GeminiLiveOptions


@pytest.fixture
async def fake() -> AsyncIterator[FakeSession]:
    """A fake that replies as fast as it can (no real-time playback wait) + options for it."""
    async with running_fake(playback_wait=0.0) as (server, options):
        yield FakeSession(server, options)


class Events:
    """Every event a transport emits, in order, with helpers to wait for some."""

    def __init__(self, transport: RealTimeWebsocketTransport) -> None:
        self.all: list[rtvi.RTVIMessage] = []
        self._changed = asyncio.Event()
        transport.on("*", self._add)

    def _add(self, message: rtvi.RTVIMessage) -> None:
        self.all.append(message)
        self._changed.set()

    def of(self, kind: str) -> list[Any]:
        return [m for m in self.all if m.type == kind]

    def types(
        self, exclude: tuple[str, ...] = ("user-audio-level", "bot-audio-level")
    ) -> list[str]:
        return [m.type for m in self.all if m.type not in exclude]

    async def wait_for(self, kind: str, count: int = 1, timeout: float = 5.0) -> list[Any]:
        await self.until(lambda: len(self.of(kind)) >= count, timeout)
        return self.of(kind)

    def said(self, spoken: bool = True) -> list[str]:
        """The bot's words per finished reply: its ``bot-output`` sentences, joined."""
        replies: list[str] = []
        words: list[str] = []
        for message in self.all:
            if message.type == "bot-output" and message.data.spoken is spoken:
                words.append(message.data.text)
            elif message.type == "bot-llm-stopped":
                replies.append(" ".join(words))
                words = []
        return replies

    async def wait_replies(self, count: int = 1, timeout: float = 5.0) -> list[str]:
        """Wait until ``count`` replies ended (``bot-llm-stopped``); their words, per reply."""
        await self.wait_for("bot-llm-stopped", count, timeout)
        return self.said()

    async def until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                try:
                    async with asyncio.timeout(0.05):
                        await self._changed.wait()
                except TimeoutError:
                    pass
