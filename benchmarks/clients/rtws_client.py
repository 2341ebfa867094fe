"""rtws as a user runs it: ``OpenAIRealtimeTransport`` with file media paced in real time.

The mic is a 48 kHz (by default) array and the virtual speaker runs at 48 kHz,
so both resamplers run, as with a typical sound card. Probes sit at the
transport's edges: after ``handle_user_audio_stream`` (bytes handed to the
socket), in the media's ``play`` (samples in the playout buffer the device
callback reads: the conversation core calls it for every piece of a reply it
lets through), around ``flush`` and the output callback.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np
import numpy.typing as npt
from rtws_openai import OpenAIRealtimeOptions, OpenAIRealtimeTransport
from rtws_openai.options import ServerVAD

from rtws import AudioChunk, FileMediaManager, PlaybackMark
from rtws.connection import WebSocketConnection

from ..probes import Interruption, SessionProbe, WireProbe, now
from ..workload import API_KEY, CYCLE_S, VAD_SILENCE_MS
from . import SessionSpec

Int16Array = npt.NDArray[np.int16]


class ProbedMedia(FileMediaManager):
    """File media that also notes when audible samples leave the output callback."""

    def __init__(self, spec: SessionSpec, probe: SessionProbe) -> None:
        super().__init__(
            None,
            input_rate=spec.device_rate,
            output_rate=spec.device_rate,
            realtime=True,
            block_ms=20,
            keep_output=False,
        )
        self.probe = probe
        #: The socket's probe: which frame is being handled when audio is queued.
        self.wire: WireProbe | None = None
        #: When the first audio of each item arrived (for the interruption figures).
        self.first_arrival: dict[str, float] = {}
        self.track_audible = spec.barge_in
        #: real samples played since the last flush (the interrupted item's, in barge-in runs)
        self.since_flush = 0
        #: (callback time, seconds from it to the end of its last non-zero sample)
        self.audible: list[tuple[float, float]] = []
        self.flushes: list[tuple[float, int]] = []
        #: when recent device input blocks were handed to the pipeline, oldest first; the
        #: first is block number ``first_block``. Only blocks a chunk not yet sent may refer
        #: to are kept: a history of every block would be the probe's own memory, which the
        #: garbage collector walks on every full pass (10 ms per pass at K = 150, measured).
        self.recent_blocks: collections.deque[float] = collections.deque()
        self.first_block = 0
        self._in_provider = 0  # provider-rate samples of the current item played so far
        self._out_device = 0  # device-rate samples of it that reached the playout buffer

    def _push_input(
        self,
        block: Int16Array | None,
        captured_at: float | None = None,
        adc_time: float | None = None,
    ) -> None:
        stamp = now()
        if block is not None:
            self.recent_blocks.append(stamp)
        super()._push_input(block, stamp, adc_time)

    def block_number(self, stamp: float) -> int:
        """The number of the block handed over at ``stamp`` (-1 if no longer kept)."""
        for k, kept in enumerate(self.recent_blocks):
            if kept == stamp:
                return self.first_block + k
        return -1

    def block_time(self, number: int) -> float | None:
        k = number - self.first_block
        return self.recent_blocks[k] if 0 <= k < len(self.recent_blocks) else None

    def forget_blocks_before(self, number: int) -> None:
        recent = self.recent_blocks
        while recent and self.first_block < number:
            recent.popleft()
            self.first_block += 1

    def play(self, pcm: bytes | Int16Array, item_id: str | None = None) -> None:
        self._note_arrival(item_id or "")
        output = self._output
        if output is None or output.device_rate == output.provider_rate:
            # No output resampler: nothing is held back, and the probe would only add cost.
            return super().play(pcm, item_id)
        buffer = output.buffer
        before = buffer.buffered_samples + buffer.samples_played
        super().play(pcm, item_id)
        self._out_device += buffer.buffered_samples + buffer.samples_played - before
        self._in_provider += len(pcm) // 2
        if self.probe.window.active:
            expected = self._in_provider * output.device_rate / output.provider_rate
            self.probe.out_hold_ms.append((expected - self._out_device) * 1000 / output.device_rate)

    def _note_arrival(self, item: str) -> None:
        arrived = self.wire.current if self.wire is not None else None
        self.probe.on_audio(item, arrived, now())
        if item not in self.first_arrival and arrived is not None:
            self.first_arrival[item] = arrived

    def end_of_stream(self, item_id: str | None = None) -> None:
        super().end_of_stream(item_id)
        self._in_provider = self._out_device = 0

    def _pull_output(self, out: Int16Array) -> int:
        real = super()._pull_output(out)
        if real and self.track_audible:
            self.since_flush += real
            if self.probe.window.active:
                loud = np.flatnonzero(out[:real])
                if loud.size:
                    self.audible.append((now(), (int(loud[-1]) + 1) / self.output_rate))
        return real

    def flush(self) -> PlaybackMark:
        mark = super().flush()
        self.flushes.append((now(), self.since_flush))
        self.since_flush = 0
        self._in_provider = self._out_device = 0
        return mark


class WireProbed(OpenAIRealtimeTransport):
    """The OpenAI transport with a :class:`WireProbe` on its socket: arrival stamps, bytes."""

    wire: WireProbe

    async def open_websocket(
        self, url: str, headers: Any = None, **kwargs: Any
    ) -> WebSocketConnection:
        conn = await super().open_websocket(url, headers, **kwargs)
        self.wire.attach(conn._ws)  # pyright: ignore[reportPrivateUsage, reportArgumentType]
        return conn

    def decode_message(self, frame: str | bytes) -> dict[str, Any]:
        # rtws drains received frames in batches rather than with recv(): the
        # probe learns which frame is being handled as each one is decoded.
        self.wire.read(frame)
        return super().decode_message(frame)


class ProbedTransport(WireProbed):
    def __init__(self, options: OpenAIRealtimeOptions, media: ProbedMedia, spec: SessionSpec):
        super().__init__(options, media)
        self.probe = media.probe
        self.probed_media = media
        self.wire = media.wire = WireProbe()
        self.deflate = spec.deflate
        self._chunk_in = spec.chunk_ms * spec.device_rate // 1000  # device samples per chunk
        self._block_in = 20 * spec.device_rate // 1000  # device samples per block
        self._signal: float | None = None

    async def open_websocket(
        self, url: str, headers: Any = None, **kwargs: Any
    ) -> WebSocketConnection:
        if self.deflate:
            kwargs["compression"] = "deflate"
        return await super().open_websocket(url, headers, **kwargs)

    async def handle_user_audio_stream(self, chunk: AudioChunk) -> None:
        await super().handle_user_audio_stream(chunk)
        sent = now()
        # Two views of one send: from the block that completed the chunk (the
        # pipeline's own latency), and from the block holding the chunk's last
        # input sample (adding what the resampler held back and chunk alignment).
        media = self.probed_media
        self.probe.on_mic(chunk.seq, media.block_number(chunk.captured_at), chunk.captured_at, sent)
        last = -(-chunk.seq * self._chunk_in // self._block_in) - 1
        if self.probe.window.active and (held := media.block_time(last)) is not None:
            self.probe.mic_content_ms.append((sent - held) * 1000)
        # Chunks go out in order: no later chunk refers to a block before this one's last.
        media.forget_blocks_before(last)

    async def _on_speech_started(self, event: dict[str, Any]) -> None:
        self._signal = self.wire.current
        await super()._on_speech_started(event)

    async def send_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "conversation.item.truncate":
            self._note_truncation(event)
        await super().send_event(event)

    def _note_truncation(self, event: dict[str, Any]) -> None:
        signal, media = self._signal, self.probed_media
        if signal is None or not media.flushes or not self.probe.window.active:
            return
        flushed_at, played = media.flushes[-1]
        first = media.first_arrival.get(event["item_id"])
        self.probe.interruptions.append(
            Interruption(
                signal_at=signal,
                flushed_at=flushed_at,
                last_audible_at=signal,  # completed by finish_interruptions()
                audio_end_ms=int(event["audio_end_ms"]),
                played_ms=played * 1000.0 / media.output_rate,
                first_delta_ms=(signal - first) * 1000.0 if first is not None else float("nan"),
            )
        )


class RtwsSession:
    @property
    def wire(self) -> WireProbe:
        return self.transport.wire

    def __init__(self, spec: SessionSpec, probe: SessionProbe) -> None:
        self.spec = spec
        self.probe = probe
        self.media = ProbedMedia(spec, probe)
        options = OpenAIRealtimeOptions(
            api_key=API_KEY,  # pyright: ignore[reportArgumentType]
            base_url=spec.url.removesuffix("/realtime"),
            turn_detection=ServerVAD(interrupt_response=True)
            if spec.barge_in
            else ServerVAD(silence_duration_ms=VAD_SILENCE_MS, interrupt_response=False),
            chunk_ms=spec.chunk_ms,
            prebuffer_ms=spec.prebuffer_ms,
            connect_timeout=60.0,
        )
        self.transport = ProbedTransport(options, self.media, spec)
        self._at_open = (0, 0)
        mic = spec.mic
        phase = round(spec.phase_s * spec.device_rate) % max(1, round(CYCLE_S * spec.device_rate))
        self.media.feed(mic[phase:])
        for _ in range(200):  # ~400 s of input: more than any run; each is a view, not a copy
            self.media.feed(mic)

    async def start(self) -> None:
        await self.transport.connect()

    async def stop(self) -> None:
        await self.transport.disconnect()

    def _counters(self) -> tuple[int, int]:
        stats, media = self.transport.stats, self.media.stats
        dropped = (
            stats.chunks_dropped_not_ready
            + stats.chunks_dropped_reconnecting
            + media.dropped_input_blocks
        )
        output = self.media._output  # pyright: ignore[reportPrivateUsage]
        return dropped, output.buffer.underruns if output is not None else 0

    def window_opened(self) -> None:
        self._at_open = self._counters()

    def collect(self) -> None:
        dropped, underruns = self._counters()
        self.probe.chunks_dropped = dropped - self._at_open[0]
        self.probe.underruns = underruns - self._at_open[1]
        for item in self.probe.interruptions:
            ends = [
                t + tail
                for t, tail in self.media.audible
                if item.signal_at - 0.05 <= t <= item.signal_at + 0.5
            ]
            item.last_audible_at = max(ends, default=item.signal_at)
