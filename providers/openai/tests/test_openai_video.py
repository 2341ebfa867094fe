"""OpenAI Realtime video in: a picture per user turn, snapshots, and the fake's checks.

The ``openai_fake`` fixture validates every client event against the
``openai`` SDK's models at the end of each test, so each ``input_image``
item sent here is also proven well-formed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from rtws_openai.testing import DemoBot, FakeRealtimeServer, Reply, ScriptedBot
from rtws_openai.testing.bots import Turn

from providers.openai.tests.support import RATE, EventLog, speech, steady_tone, transport
from rtws import DeviceError, FileMediaManager, rtvi
from tests.video_media import GREEN, RED, close_to, colour_of, image, size_of


def images(server: FakeRealtimeServer) -> list[bytes]:
    return [data for c in server.connections for mime, data in c.images if mime == "image/jpeg"]


def added_content_types(server: FakeRealtimeServer) -> list[str]:
    """The first content part's type of each user item the fake added, in order."""
    return [
        e["item"]["content"][0]["type"]
        for e in server.sent
        if e["type"] == "conversation.item.added" and e["item"].get("role") == "user"
    ]


async def until(predicate: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def camera_media(path: Path) -> FileMediaManager:
    """A silent real-time mic (speech is fed later) and ``path`` as the camera."""
    return FileMediaManager(input_rate=RATE, realtime=True, camera=path)


async def test_a_picture_joins_the_conversation_when_the_user_starts_speaking(
    openai_fake: FakeRealtimeServer, tmp_path: Path
) -> None:
    bot = ScriptedBot([Reply.say("A red card.", audio=steady_tone(0.3))])
    openai_fake.bot = bot
    media = camera_media(image(tmp_path / "red.png", RED, (1280, 720)))
    t = transport(openai_fake, media, video_fps=5.0)
    log = EventLog(t)
    t.enable_cam(True)  # before connect(): the first frame is taken once the session is ready
    await t.connect()
    try:
        await until(lambda: t.video.stats.frames_sent >= 1)
        media.feed(speech(), RATE)
        await log.wait("bot-llm-stopped", timeout=10)
        frames_seen = t.video.stats.frames_sent
    finally:
        await t.disconnect()
    # Frames arrive at 5/s, but only one picture per turn enters the conversation.
    assert frames_seen >= 1 and t.images.images_sent == 1
    (jpeg,) = images(openai_fake)
    assert size_of(jpeg) == (768, 432) and close_to(colour_of(jpeg), RED)
    (turn,) = bot.turns
    assert [mime for mime, _ in turn.images] == ["image/jpeg"] and turn.audio.size > 0
    # Added at speech start, the picture precedes the user's words in the conversation.
    assert added_content_types(openai_fake) == ["input_image", "input_audio"]


async def test_no_picture_while_the_camera_is_off(
    openai_fake: FakeRealtimeServer, tmp_path: Path
) -> None:
    openai_fake.bot = ScriptedBot([Reply.say("OK.", audio=steady_tone(0.2))])
    media = camera_media(image(tmp_path / "red.png", RED))
    t = transport(openai_fake, media, video_fps=10.0)
    log = EventLog(t)
    await t.connect()
    try:
        t.enable_cam(True)
        await until(lambda: t.video.stats.frames_sent >= 2)
        t.enable_cam(False)  # off before the turn: the frames taken so far stay out
        media.feed(speech(), RATE)
        await log.wait("bot-llm-stopped", timeout=10)
    finally:
        await t.disconnect()
    assert images(openai_fake) == [] and added_content_types(openai_fake) == ["input_audio"]


async def test_a_snapshot_adds_a_fresh_picture_now(
    openai_fake: FakeRealtimeServer, tmp_path: Path
) -> None:
    cameras = [image(tmp_path / "red.png", RED), image(tmp_path / "green.jpg", GREEN)]
    media = FileMediaManager(input_rate=RATE, realtime=True, camera=cameras)
    t = transport(openai_fake, media, video_fps=0.2)  # a frame every 5 s: the snapshot is sooner
    await t.connect()
    try:
        snapshot = rtvi.ClientMessage(data=rtvi.ClientMessageData(t="snapshot"))
        with pytest.raises(DeviceError, match="camera is off"):
            await t.send_message(snapshot)
        t.enable_cam(True)
        await until(lambda: t.video.stats.frames_sent >= 1)  # the first frame, at once
        await t.update_cam("file-camera-2")
        await t.send_message(snapshot)
        await until(lambda: len(images(openai_fake)) >= 1)
    finally:
        await t.disconnect()
    (jpeg,) = images(openai_fake)
    assert close_to(colour_of(jpeg), GREEN), "the snapshot is taken after the switch"


@pytest.mark.parametrize("allowed_server_errors", [{"invalid_value"}])
async def test_the_fake_refuses_a_picture_that_is_not_one(openai_fake: FakeRealtimeServer) -> None:
    t = transport(openai_fake)
    log = EventLog(t)
    await t.connect()
    try:
        bad = {"type": "input_image", "image_url": "data:image/jpeg;base64,AAAA"}
        item = {"type": "message", "role": "user", "content": [bad]}
        await t.send_event({"type": "conversation.item.create", "item": item})
        error = await log.wait("error")
    finally:
        await t.disconnect()
    assert "item.content.image_url': the data is not image/jpeg" in error.to_dict()["data"]["error"]
    assert images(openai_fake) == []


async def test_the_demo_bot_says_the_colour_it_sees(tmp_path: Path) -> None:
    from rtws.video.frame import encode_frame
    from rtws.video.sources import open_file_source

    rgb = open_file_source(image(tmp_path / "g.png", GREEN)).read()
    jpeg = encode_frame(rgb, max_size=768, quality=80, captured_at=0.0).jpeg
    bot = DemoBot(asr=False, tts=False)
    reply = await bot.respond(Turn(index=1, text="what is this", images=(("image/jpeg", jpeg),)))
    assert reply.text.startswith("I see a picture of 768 by 432 pixels, mostly green.")
    assert "You said: what is this" in reply.text
