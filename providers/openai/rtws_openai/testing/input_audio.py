"""The input audio buffer of one connection: appended PCM, server VAD, commits, transcription.

Audio the client appends waits in the buffer until a commit moves it into a
user audio item: the client's ``input_audio_buffer.commit``, or server VAD
(:mod:`.vad`) at the end of speech, which may also cancel the response
being spoken and start the next one. Each committed item is transcribed by
the bot when it can (a :class:`~.bots.Transcriber`), as the service's
separate ASR model does: in wild mode it may finish after the response.
Offsets are absolute: byte ``n`` is the ``n``-th byte ever appended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from . import events
from .bots import Transcriber
from .conversation import BYTES_PER_MS, Entry
from .schema import InvalidRequest, base64_audio
from .session import transcription_enabled, turn_detection
from .vad import EnergyVAD, SpeechStarted, SpeechStopped, VADEvent

if TYPE_CHECKING:
    from .connection import FakeConnection

Json = dict[str, Any]
log = logging.getLogger("rtws_openai.testing")
MIN_COMMIT_MS = 100


class InputAudio:
    """A connection's uncommitted input audio and the VAD listening to it."""

    def __init__(self, conn: FakeConnection) -> None:
        self.conn = conn
        self.buffer = bytearray()
        self.offset = 0  # the absolute byte the buffer starts at
        self.vad: EnergyVAD | None = None
        self.speech: tuple[str, int] | None = None  # (item_id, start byte) of current speech
        self.configure_vad()

    def configure_vad(self) -> None:
        settings = turn_detection(self.conn.session)
        if settings is None:
            self.vad = None
            self.speech = None
            return
        self.vad = EnergyVAD(
            settings.threshold,
            settings.prefix_padding_ms,
            settings.silence_duration_ms,
            start_ms=self.total_bytes // BYTES_PER_MS,
        )
        self.speech = None

    @property
    def total_bytes(self) -> int:
        return self.offset + len(self.buffer)

    async def append(self, event: Json) -> None:
        pcm = base64_audio(event["audio"], "audio")
        if len(pcm) % 2:
            raise InvalidRequest(
                "Invalid 'audio': PCM16 audio must contain a whole number of 2-byte samples.",
                code="invalid_value",
                param="audio",
            )
        self.buffer += pcm
        self.conn.record.audio_in += pcm
        self.conn.notify()
        if self.vad is not None:
            for vad_event in self.vad.feed(pcm):
                await self._on_vad(vad_event)

    async def _on_vad(self, vad_event: VADEvent) -> None:
        settings = turn_detection(self.conn.session)
        assert settings is not None
        if isinstance(vad_event, SpeechStarted):
            start = max(self.offset, vad_event.audio_start_ms * BYTES_PER_MS)
            item_id = events.new_id("item")
            self.speech = (item_id, start)
            await self.conn.send(events.speech_started(start // BYTES_PER_MS, item_id))
            run = self.conn.response
            if settings.interrupt_response and run is not None and not run.finished.is_set():
                run.cancel("turn_detected")
            return
        assert isinstance(vad_event, SpeechStopped)
        if self.speech is None:
            return
        item_id, start = self.speech
        self.speech = None
        end = min(self.total_bytes, vad_event.audio_end_ms * BYTES_PER_MS)
        await self.conn.send(events.speech_stopped(end // BYTES_PER_MS, item_id))
        await self._commit_speech(item_id, start, end)
        if settings.create_response:
            self.conn.spawn(self.conn.respond_after_turn(settings.interrupt_response))

    async def _commit_speech(self, item_id: str, start: int, end: int) -> None:
        """Move buffer bytes [start, end) (absolute offsets) into a user audio item."""
        pcm = bytes(self.buffer[start - self.offset : end - self.offset])
        del self.buffer[: end - self.offset]
        self.offset = end
        entry = Entry(events.user_audio_item(item_id), audio=bytearray(pcm))
        entry.transcript = asyncio.get_running_loop().create_future()
        previous = self.conn.conversation.add(entry)
        await self.conn.send(events.committed(item_id, previous))
        await self.conn.send(events.item_added(entry.wire(), previous))
        await self.conn.send(events.item_done(entry.wire(), previous))
        self.conn.spawn(self._transcribe(entry, transcription_enabled(self.conn.session)))

    async def _transcribe(self, entry: Entry, announce: bool) -> None:
        assert entry.transcript is not None
        text: str | None = None
        try:
            if isinstance(self.conn.bot, Transcriber):
                audio = np.frombuffer(bytes(entry.audio), dtype="<i2").astype(np.int16)
                text = await self.conn.bot.transcribe(audio)
        except Exception as exc:
            log.exception("fake realtime bot could not transcribe")
            entry.transcript.set_result(None)
            if announce:
                await self.conn.send(events.transcription_failed(entry.id, f"{type(exc).__name__}"))
            return
        finally:
            if not entry.transcript.done():
                entry.transcript.set_result(text)
        if not announce:
            return
        wild = self.conn.streaming.wild
        if wild is not None and wild.chance(wild.late_transcript):
            await self._after_next_response()  # a separate ASR model: it may finish last
        transcript = text or ""
        entry.item["content"][0]["transcript"] = transcript
        words: list[str] = re.findall(r"\S+\s*", transcript)
        for i in range(0, len(words), 3):
            await self.conn.send(events.transcription_delta(entry.id, "".join(words[i : i + 3])))
        await self.conn.send(events.transcription_completed(entry.id, transcript, entry.audio_ms))

    async def _after_next_response(self, within: float = 5.0) -> None:
        """Wait until the response that answers the newest turn has finished (or ``within`` s)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                run = self.conn.response
                if run is None or run.finished.is_set():
                    await self.conn.response_started.wait()
                    run = self.conn.response
                assert run is not None
                await run.finished.wait()

    async def commit(self, event: Json) -> None:
        ms = len(self.buffer) / BYTES_PER_MS
        if ms < MIN_COMMIT_MS:
            raise InvalidRequest(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {ms:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
            )
        item_id = self.speech[0] if self.speech else events.new_id("item")
        self.speech = None
        await self._commit_speech(item_id, self.offset, self.total_bytes)
        if self.vad is not None:
            self.vad.reset(self.total_bytes // BYTES_PER_MS)

    async def clear(self, event: Json) -> None:
        self.offset = self.total_bytes
        self.buffer.clear()
        self.speech = None
        if self.vad is not None:
            self.vad.reset(self.total_bytes // BYTES_PER_MS)
        await self.conn.send(events.cleared())

    async def clear_output(self, event: Json) -> None:
        raise InvalidRequest(
            "output_audio_buffer.clear is only supported on WebRTC and SIP connections.",
            code="invalid_value",
            param="type",
        )
