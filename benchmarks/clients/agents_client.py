"""openai-agents' realtime session (``agents.realtime``), pointed at the fake by URL.

Set up as its docs show: a ``RealtimeAgent``, a ``RealtimeRunner`` and
``session.send_audio`` for the mic; the app reads ``audio`` events from the
session and queues the bytes for a speaker (a byte buffer here, as in the
bare client). It sends 24 kHz audio as it comes (openai-agents does not
resample), so it is compared with the bare client and rtws on the same terms.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import Any

from agents.realtime import RealtimeAgent, RealtimeRunner, RealtimeSession
from agents.realtime.model import RealtimeModelConfig
from agents.realtime.openai_realtime import OpenAIRealtimeWebSocketModel

from ..probes import SessionProbe, WireProbe, now
from ..workload import API_KEY, VAD_SILENCE_MS
from . import SessionSpec, cancel_tasks, paced_mic, speaker_bytes_per_tick


class AgentsSession:
    def __init__(self, spec: SessionSpec, probe: SessionProbe) -> None:
        self.spec = spec
        self.probe = probe
        probe.slot_s = spec.chunk_ms / 1000
        self.wire = WireProbe()
        self.model = OpenAIRealtimeWebSocketModel()
        self.session: RealtimeSession | None = None
        self.speaker = bytearray()
        self._arrivals: collections.deque[float | None] = collections.deque()
        self._tasks: list[asyncio.Task[None]] = []
        self.errors = 0
        self._errors_at_open = 0

    async def start(self) -> None:
        agent: RealtimeAgent[Any] = RealtimeAgent(name="bench", instructions="Answer briefly.")
        runner = RealtimeRunner(agent, model=self.model)
        config: RealtimeModelConfig = {
            "url": self.spec.url + "?model=gpt-realtime",
            "api_key": API_KEY,
            "initial_model_settings": {
                "model_name": "gpt-realtime",
                "voice": "marin",
                "output_modalities": ["audio"],
                "input_audio_transcription": {"model": "gpt-4o-mini-transcribe"},
                "turn_detection": {
                    "type": "server_vad",
                    "silence_duration_ms": VAD_SILENCE_MS,
                    "interrupt_response": False,
                },
                "tracing": None,
            },
        }
        session = await runner.run(model_config=config)
        await session.enter()
        self.session = session
        websocket: Any = self.model._websocket  # pyright: ignore[reportPrivateUsage]
        self.wire.attach(websocket)
        handle: Any = self.model._handle_ws_event  # pyright: ignore[reportPrivateUsage]

        async def stamped(parsed: dict[str, Any]) -> None:
            if parsed.get("type") == "response.output_audio.delta":
                self._arrivals.append(self.wire.current)
            await handle(parsed)

        setattr(self.model, "_handle_ws_event", stamped)  # noqa: B010
        self._tasks.append(asyncio.create_task(self._events(session)))
        self._tasks.append(asyncio.create_task(self._send(session)))

    async def stop(self) -> None:
        await cancel_tasks(self._tasks)
        if self.session is not None:
            with contextlib.suppress(Exception):
                await self.session.close()

    def window_opened(self) -> None:
        self._errors_at_open = self.errors

    def collect(self) -> None:
        if self.errors > self._errors_at_open:
            self.probe.errors.append(f"{self.errors - self._errors_at_open} error events")

    async def _events(self, session: RealtimeSession) -> None:
        async for event in session:
            if event.type == "audio":
                self.speaker += event.audio.data
                arrived = self._arrivals.popleft() if self._arrivals else None
                self.probe.on_audio(event.item_id, arrived, now())
            elif event.type == "error":
                self.errors += 1

    async def _send(self, session: RealtimeSession) -> None:
        block = speaker_bytes_per_tick(self.spec)
        async for index, available, pcm in paced_mic(self.spec):
            await session.send_audio(pcm)
            self.probe.on_mic(index, index, available, now())
            del self.speaker[:block]
