"""The floor: websockets + json + base64 and nothing else.

What the least a client can do for the workload costs: one task sends a
24 kHz chunk every 20 ms and drops 20 ms from a byte buffer standing in for a
speaker; another decodes audio deltas into that buffer. No resampling, no
events, no state machine, no jitter buffer. Anything rtws spends above this
is framework overhead.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from ..probes import SessionProbe, WireProbe, now
from ..workload import API_KEY, PROVIDER_RATE, VAD_SILENCE_MS
from . import SessionSpec, cancel_tasks, paced_mic, speaker_bytes_per_tick

SESSION_UPDATE: dict[str, Any] = {
    "type": "session.update",
    "session": {
        "type": "realtime",
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": PROVIDER_RATE},
                "turn_detection": {
                    "type": "server_vad",
                    "silence_duration_ms": VAD_SILENCE_MS,
                    "interrupt_response": False,
                },
                "transcription": {"model": "gpt-4o-mini-transcribe"},
            },
            "output": {"format": {"type": "audio/pcm", "rate": PROVIDER_RATE}, "voice": "marin"},
        },
    },
}


class BareSession:
    #: Whether the wire probe wraps the socket (arrival stamps, byte counts).
    probed = True

    def __init__(self, spec: SessionSpec, probe: SessionProbe) -> None:
        self.spec = spec
        self.probe = probe
        probe.slot_s = spec.chunk_ms / 1000
        self.wire = WireProbe()
        self.ws: ClientConnection | None = None
        self.speaker = bytearray()
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = asyncio.Event()

    async def start(self) -> None:
        self.ws = await connect(
            self.spec.url + "?model=gpt-realtime",
            additional_headers={"Authorization": f"Bearer {API_KEY}"},
            compression="deflate" if self.spec.deflate else None,
            max_size=16 * 2**20,
        )
        if self.probed:
            self.wire.attach(self.ws)
        self._tasks.append(asyncio.create_task(self._receive(self.ws)))
        await self.ws.send(json.dumps(SESSION_UPDATE))
        await self._ready.wait()
        self._tasks.append(asyncio.create_task(self._send(self.ws)))

    async def stop(self) -> None:
        await cancel_tasks(self._tasks)
        if self.ws is not None:
            await self.ws.close()

    def window_opened(self) -> None:
        """The bare client keeps no counters."""

    def collect(self) -> None:
        """The bare client keeps no counters: a chunk it cannot send raises."""

    async def _receive(self, ws: ClientConnection) -> None:
        async for frame in ws:
            event = json.loads(frame)
            kind = event["type"]
            if kind == "response.output_audio.delta":
                self.speaker += base64.b64decode(event["delta"])
                self.probe.on_audio(event["item_id"], self.wire.current, now())  # None unprobed
            elif kind == "session.updated":
                self._ready.set()

    async def _send(self, ws: ClientConnection) -> None:
        block = speaker_bytes_per_tick(self.spec)
        async for index, available, pcm in paced_mic(self.spec):
            message = {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}
            await ws.send(json.dumps(message))
            self.probe.on_mic(index, index, available, now())
            del self.speaker[:block]


class BareFloorSession(BareSession):
    """The bare client without the wire probe: the true floor of CPU per session.

    The probe wraps the socket's frame parser, reads and writes (a Python call
    and a timestamp per frame), and rtws carries the same probe in the
    benchmark: a cost added to both sides of the ratio makes rtws look closer
    to the floor than it is. This one keeps only the session probe's two
    list appends per chunk, which tell that the session really ran; it has no
    latency or byte figures.
    """

    probed = False
