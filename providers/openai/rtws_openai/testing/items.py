"""The ``conversation.item.*`` client events: the client edits the server-side conversation.

Each is checked as the service checks it (an unknown ``previous_item_id``, a
duplicate id, a content type the role may not carry, a truncation past the
audio the model produced) and refused with the service's error; what is
accepted is answered with the events the service sends, in its order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import events
from .conversation import BYTES_PER_MS, Entry
from .images import decode_image_url
from .records import Truncation
from .schema import InvalidRequest, base64_audio, invalid_value

if TYPE_CHECKING:
    from .connection import FakeConnection

Json = dict[str, Any]
#: Which content parts each role's messages may carry.
CONTENT_TYPES = {
    "user": ("input_text", "input_audio", "input_image"),
    "system": ("input_text",),
    "assistant": ("output_text", "output_audio"),
}


async def create(conn: FakeConnection, event: Json) -> None:
    item: Json = event["item"]
    after: str | None = event.get("previous_item_id")
    if after not in (None, "root") and conn.conversation.get(str(after)) is None:
        raise InvalidRequest(
            f"Previous item with id '{after}' not found.",
            code="invalid_value",
            param="previous_item_id",
        )
    item_id = str(item.get("id") or events.new_id("item"))
    if conn.conversation.get(item_id) is not None:
        raise InvalidRequest(
            f"Item with id '{item_id}' already exists.", code="invalid_value", param="item.id"
        )
    audio = bytearray()
    wire: Json = {**item, "id": item_id, "object": "realtime.item", "status": "completed"}
    if item["type"] == "message":
        wire["content"] = [_content(item["role"], c, audio) for c in item["content"]]
    entry = Entry(wire, audio=audio)
    parts: list[Json] = wire.get("content", []) if item["type"] == "message" else []
    for part in parts:
        if part["type"] == "input_image":
            conn.record.images.append(decode_image_url(str(part["image_url"])))
    previous = conn.conversation.add(entry, after=after)
    await conn.send(events.item_added(entry.wire(), previous))
    await conn.send(events.item_done(entry.wire(), previous))


def _content(role: str, content: Json, audio: bytearray) -> Json:
    kind = content["type"]
    allowed = CONTENT_TYPES[role]
    if kind not in allowed:
        raise invalid_value("item.content.type", kind, allowed)
    if kind in ("input_audio", "output_audio"):
        if "audio" in content:
            audio += base64_audio(content["audio"], "item.content.audio")
        return {"type": kind, "transcript": content.get("transcript")}
    if kind == "input_image":
        decode_image_url(content["image_url"])  # a bad picture is refused here
        return {
            "type": kind,
            "image_url": content["image_url"],
            "detail": content.get("detail"),
        }
    return {"type": kind, "text": content["text"]}


def _existing(conn: FakeConnection, item_id: str) -> Entry:
    entry = conn.conversation.get(item_id)
    if entry is None:
        raise InvalidRequest(
            f"Item with item_id not found: {item_id}", code="invalid_value", param="item_id"
        )
    return entry


async def truncate(conn: FakeConnection, event: Json) -> None:
    entry = _existing(conn, event["item_id"])
    item = entry.item
    # An item still streaming is truncatable as soon as its audio part exists.
    content: list[Json] = item.get("content") or [{}]
    if item.get("role") != "assistant" or content[0].get("type") != "output_audio":
        raise InvalidRequest(
            "Only model output audio messages can be truncated",
            code="invalid_value",
            param="item_id",
        )
    if event["content_index"] != 0:
        raise InvalidRequest(
            f"Invalid 'content_index': item has no content part {event['content_index']}.",
            code="invalid_value",
            param="content_index",
        )
    end_ms: int = event["audio_end_ms"]
    if end_ms > entry.audio_ms:
        raise InvalidRequest(
            f"Audio content of {int(entry.audio_ms)}ms is already shorter than {end_ms}ms",
            code="invalid_value",
            param="audio_end_ms",
        )
    conn.record.truncations.append(
        Truncation(conn.record.index, entry.id, 0, end_ms, entry.audio_ms)
    )
    del entry.audio[end_ms * BYTES_PER_MS :]
    entry.truncated_ms = end_ms  # audio still streaming is not added to it any more
    content[0]["transcript"] = ""  # the service drops text the user never heard
    await conn.send(events.item_truncated(entry.id, 0, end_ms))


async def delete(conn: FakeConnection, event: Json) -> None:
    entry = _existing(conn, event["item_id"])
    conn.conversation.delete(entry.id)
    await conn.send(events.item_deleted(entry.id))


async def retrieve(conn: FakeConnection, event: Json) -> None:
    entry = _existing(conn, event["item_id"])
    await conn.send(events.item_retrieved(entry.wire(with_audio=True)))
