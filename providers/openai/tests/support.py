"""Helpers for the OpenAI provider's tests: SDK fidelity checks, an event log, audio fixtures.

Imported as ``providers.openai.tests.support`` (the repository root is on the
test path); fixtures that use these live in ``conftest.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from openai.types.realtime import RealtimeClientEvent, RealtimeClientEventParam
from pydantic import BaseModel, TypeAdapter
from rtws_openai import OpenAIRealtimeOptions, OpenAIRealtimeTransport
from rtws_openai.testing import DEFAULT_API_KEY, FakeRealtimeServer, Reply, ScriptedBot

from rtws import FileMediaManager, RealTimeWebsocketTransport, rtvi
from rtws.audio import read_wav

DATA = Path(__file__).parents[3] / "tests" / "data"
SPEECH_WAV = DATA / "speech_24k.wav"
KEY = DEFAULT_API_KEY
RATE = 24000
#: One 20 ms block of the virtual devices, in samples at 24 kHz.
BLOCK = 480
CLIENT_EVENT: TypeAdapter[RealtimeClientEvent] = TypeAdapter(RealtimeClientEvent)
#: The SDK's request-side TypedDicts: stricter on nulls, and they drop unknown keys.
CLIENT_EVENT_PARAM: TypeAdapter[RealtimeClientEventParam] = TypeAdapter(RealtimeClientEventParam)
LEVELS = ("user-audio-level", "bot-audio-level")


# ---------------------------------------------------------------- SDK fidelity
def extras(model: object, path: str = "") -> list[str]:
    """Every field, at any depth, that the SDK model does not declare (its models allow extras)."""
    found: list[str] = []
    if isinstance(model, BaseModel):
        for key in model.model_extra or {}:
            found.append(f"{path}.{key}" if path else key)
        for name in type(model).model_fields:
            found += extras(getattr(model, name), f"{path}.{name}" if path else name)
    elif isinstance(model, list | tuple):
        for i, item in enumerate(model):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
            found += extras(item, f"{path}[{i}]")
    return found


def check_client_event(event: dict[str, Any]) -> BaseModel:
    """Validate one client event against both SDK views of it, with no unknown field anywhere.

    The response-side models keep unknown fields in ``model_extra``; the
    request-side TypedDicts drop them, so a lossless round trip proves the
    same, and they also refuse ``null`` where the API does not take one.
    """
    model = CLIENT_EVENT.validate_python(event)
    unknown = extras(model)
    assert not unknown, f"{event['type']} has fields the SDK does not know: {unknown}"
    kept = _materialize(CLIENT_EVENT_PARAM.validate_python(event))
    assert kept == event, f"{event['type']} lost fields: {kept} != {event}"
    return model


def _materialize(value: Any) -> Any:
    """Validated TypedDicts hold lazy iterators for ``Iterable`` fields: make them lists."""
    if isinstance(value, dict):
        return {k: _materialize(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, str | bytes | int | float | bool) or value is None:
        return value
    return [_materialize(v) for v in value]


# ---------------------------------------------------------------- sessions
def options(server: FakeRealtimeServer, **kw: Any) -> OpenAIRealtimeOptions:
    base: dict[str, Any] = {
        "api_key": KEY,
        "base_url": server.base_url,
        "connect_timeout": 5.0,
        "reconnect": {"max_attempts": 3, "initial_delay": 0.05, "max_delay": 0.2},
    }
    base.update(kw)
    return OpenAIRealtimeOptions.model_validate(base)


def transport(
    server: FakeRealtimeServer, media: FileMediaManager | None = None, **kw: Any
) -> OpenAIRealtimeTransport:
    """A transport on the fake; silent real-time file media unless ``media`` is given."""
    return OpenAIRealtimeTransport(options(server, **kw), media or FileMediaManager(realtime=True))


class EventLog:
    """Every RTVI event a transport emitted, with waits for the ones a test expects."""

    def __init__(self, transport: RealTimeWebsocketTransport) -> None:
        self.events: list[rtvi.RTVIMessage] = []
        self._changed = asyncio.Event()
        self.hooks: dict[str, Callable[[rtvi.RTVIMessage], None]] = {}
        transport.on("*", self._on)

    def _on(self, message: rtvi.RTVIMessage) -> None:
        if message.type in LEVELS:
            return
        self.events.append(message)
        hook = self.hooks.get(message.type)
        if hook is not None:
            hook(message)
        self._changed.set()

    def clock(self, kind: str) -> list[float]:
        """When each later ``kind`` event arrived (``time.perf_counter()``), to measure latency."""
        arrivals: list[float] = []
        self.hooks[kind] = lambda _: arrivals.append(time.perf_counter())
        return arrivals

    def of(self, kind: str) -> list[rtvi.RTVIMessage]:
        return [e for e in self.events if e.type == kind]

    def types(self) -> list[str]:
        return [e.type for e in self.events]

    def index(self, kind: str, start: int = 0) -> int:
        """Position of the first ``kind`` at or after ``start`` (ValueError if none)."""
        return self.types().index(kind, start)

    def data(self, kind: str) -> list[dict[str, Any]]:
        return [e.to_dict().get("data", {}) for e in self.of(kind)]

    async def wait(
        self,
        kind: str,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> rtvi.RTVIMessage:
        """The ``count``-th event of ``kind`` (matching ``where`` on its data)."""

        def found() -> rtvi.RTVIMessage | None:
            hits = [e for e in self.of(kind) if where is None or where(e.to_dict().get("data", {}))]
            return hits[count - 1] if len(hits) >= count else None

        try:
            async with asyncio.timeout(timeout):
                while (hit := found()) is None:
                    self._changed.clear()
                    await self._changed.wait()
                return hit
        except TimeoutError:
            raise AssertionError(
                f"no {kind!r} #{count} within {timeout} s; events: {self.types()}"
            ) from None


@asynccontextmanager
async def mid_reply(
    server: FakeRealtimeServer, reply: str, *later: Reply, ask: str, into_s: float
) -> AsyncIterator[tuple[OpenAIRealtimeTransport, FileMediaManager, EventLog]]:
    """A session ``into_s`` into a 3 s spoken ``reply`` to ``ask``, streamed in real time as
    by the service: where every barge-in test starts. ``later`` replies follow it."""
    server.pace = 1.0
    server.bot = ScriptedBot([Reply.say(reply, audio=steady_tone(3.0)), *later])
    media = FileMediaManager(realtime=True)
    t = transport(server, media)
    log = EventLog(t)
    async with t:
        await t.send_text(ask)
        await log.wait("bot-started-speaking")
        await asyncio.sleep(into_s)
        yield t, media, log


# ---------------------------------------------------------------- audio
def speech() -> npt.NDArray[np.int16]:
    pcm, rate = read_wav(SPEECH_WAV)
    assert rate == RATE
    return pcm


def steady_tone(seconds: float) -> npt.NDArray[np.int16]:
    """Bot audio that is never zero, so played samples can be counted in the output."""
    t = np.arange(round(seconds * RATE)) / RATE
    return (6000 + 2000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)


def played_tone_ms(output: npt.NDArray[np.int16]) -> float:
    """Milliseconds of :func:`steady_tone` audio that left the virtual speaker."""
    return float(np.count_nonzero(output)) * 1000.0 / RATE
