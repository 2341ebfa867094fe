"""The server-side conversation: ordered items, their audio, and what is new since a response.

Items are kept in their wire form without audio (``conversation.item.added``
never carries audio); the PCM lives beside them, so truncation can be checked
against what the model really produced and ``conversation.item.retrieve``
can return it.
"""

from __future__ import annotations

import asyncio
import base64
import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .bots import FunctionOutput, Turn
from .images import decode_image_url

if TYPE_CHECKING:
    from .response import ResponseOptions

Json = dict[str, Any]
BYTES_PER_MS = 48  # PCM16 mono at 24 kHz


@dataclass(eq=False)
class Entry:
    item: Json
    audio: bytearray = field(default_factory=bytearray)
    seq: int = 0  # order of arrival; responses consume entries by seq
    transcript: asyncio.Future[str | None] | None = None  # user audio being transcribed
    truncated_ms: int | None = None  # where a truncate cut this (assistant) audio item

    @property
    def id(self) -> str:
        return str(self.item["id"])

    @property
    def audio_ms(self) -> float:
        return len(self.audio) / BYTES_PER_MS

    def wire(self, with_audio: bool = False) -> Json:
        """The item as events carry it: audio only for ``conversation.item.retrieved``."""
        item = copy.deepcopy(self.item)
        if with_audio and self.audio and item.get("content"):
            item["content"][0]["audio"] = base64.b64encode(bytes(self.audio)).decode()
        return item


class Conversation:
    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self._seq = 0

    def get(self, item_id: str) -> Entry | None:
        return next((e for e in self.entries if e.id == item_id), None)

    def last_id(self) -> str | None:
        return self.entries[-1].id if self.entries else None

    def add(self, entry: Entry, after: str | None = None) -> str | None:
        """Insert ``entry`` after item ``after`` (end when None, start when "root").

        Returns the id of the item now before it.
        """
        self._seq += 1
        entry.seq = self._seq
        if after == "root":
            self.entries.insert(0, entry)
            return None
        if after is None:
            previous = self.last_id()
            self.entries.append(entry)
            return previous
        index = next(i for i, e in enumerate(self.entries) if e.id == after)
        self.entries.insert(index + 1, entry)
        return after

    def delete(self, item_id: str) -> None:
        self.entries = [e for e in self.entries if e.id != item_id]

    def since(self, seq: int) -> list[Entry]:
        return [e for e in self.entries if e.seq > seq]

    @property
    def seq(self) -> int:
        return self._seq

    def call_name(self, call_id: str) -> str | None:
        for entry in self.entries:
            if entry.item.get("type") == "function_call" and entry.item.get("call_id") == call_id:
                return str(entry.item["name"])
        return None

    async def turn(self, index: int, entries: list[Entry], options: ResponseOptions) -> Turn:
        """What the bot is given of ``entries``: the user's words, audio and pictures, and
        the function outputs (a transcription still running is waited for)."""
        audio: list[bytes] = []
        transcripts: list[str] = []
        texts: list[str] = []
        outputs: list[FunctionOutput] = []
        images: list[tuple[str, bytes]] = []
        for entry in entries:
            item = entry.item
            if item["type"] == "function_call_output":
                name = self.call_name(item["call_id"])
                outputs.append(FunctionOutput(item["call_id"], item["output"], name))
                continue
            if item["type"] != "message" or item["role"] != "user":
                continue
            if entry.audio:
                audio.append(bytes(entry.audio))
                said = await entry.transcript if entry.transcript is not None else None
                said = said or item["content"][0].get("transcript")
                if said:
                    transcripts.append(said)
            texts += [c["text"] for c in item["content"] if c["type"] == "input_text"]
            images += [
                decode_image_url(c["image_url"])
                for c in item["content"]
                if c["type"] == "input_image"
            ]
        pcm = np.frombuffer(b"".join(audio), dtype="<i2").astype(np.int16)
        return Turn(
            index=index,
            audio=pcm,
            transcript=" ".join(transcripts) if transcripts else None,
            text="\n".join(texts) if texts else None,
            function_outputs=tuple(outputs),
            instructions=options.instructions,
            output_modalities=options.output_modalities,
            tools=options.tools,
            images=tuple(images),
        )
