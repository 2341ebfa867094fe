"""Shared fixtures: the echo provider's server, file media, and leak checks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest

from rtws import FileMediaManager
from rtws.audio import read_wav
from tests.echo_provider import EchoOptions, EchoServer, EchoTransport

DATA = Path(__file__).parent / "data"


@pytest.fixture
async def echo_server() -> AsyncIterator[EchoServer]:
    async with EchoServer(api_key="sk-test-0123456789") as server:
        yield server


def make_options(server: EchoServer, **kw: object) -> EchoOptions:
    base: dict[str, object] = {
        "url": server.url,
        "api_key": "sk-test-0123456789",
        "connect_timeout": 5.0,
    }
    base.update(kw)
    return EchoOptions.model_validate(base)


def speaking_mic(seconds: int) -> FileMediaManager:
    """A real-time mic that never pauses for ``seconds``: a reconnect always cuts into it,
    and each chunk is loud, so a lost or repeated one shows in the server's seqs."""
    speech = (np.sin(np.arange(16000 * seconds) / 5) * 8000).astype(np.int16)
    return FileMediaManager(speech, input_rate=16000, realtime=True, tail_silence_ms=200)


@pytest.fixture
def speech_16k() -> np.ndarray:
    """About two seconds of real (espeak-ng) speech at 16 kHz."""
    pcm, rate = read_wav(DATA / "speech_16k.wav")
    assert rate == 16000
    return pcm


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Fail if a test leaves threads behind (tasks are checked in the test itself)."""
    before = {t.ident for t in threading.enumerate()}
    yield
    for _ in range(50):
        extra = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
        if not extra:
            return
        threading.Event().wait(0.02)
    raise AssertionError(f"threads leaked: {extra}")


def session_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if (t.get_name() or "").startswith("rtws-")]


__all__ = ["EchoTransport", "make_options", "session_tasks"]
