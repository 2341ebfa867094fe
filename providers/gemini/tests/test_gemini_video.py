"""Gemini Live video in: ``realtimeInput.video`` frames from files, end to end on the fake.

Pictures and videos are generated in each test; every frame the provider
sent is also checked against google-genai's ``LiveClientMessage`` (a
``LiveClientRealtimeInput`` with a ``video`` Blob).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from rtws_gemini import GeminiLiveTransport
from rtws_gemini.testing import FakeGeminiServer

from providers.gemini.tests.conftest import Events, FakeSession
from providers.gemini.tests.genai_check import check_client_frame
from rtws import FileMediaManager
from tests.video_media import BLUE, GREEN, RED, close_to, colour_of, image, size_of, video


def frames(server: FakeGeminiServer) -> list[bytes]:
    return [data for c in server.connections for mime, data in c.video if mime == "image/jpeg"]


def sdk_checked_video(server: FakeGeminiServer) -> int:
    """Every video frame on the wire, validated by google-genai; how many there were."""
    count = 0
    for connection in server.connections:
        for raw in connection.raw:
            if '"video"' not in (raw if isinstance(raw, str) else raw.decode()):
                continue
            message = check_client_frame(raw)
            realtime = message.realtime_input
            assert realtime is not None and realtime.video is not None
            assert realtime.video.mime_type == "image/jpeg"
            assert realtime.video.data is not None and realtime.video.data[:3] == b"\xff\xd8\xff"
            count += 1
    return count


def filming(fake: FakeSession, camera: Path | list[Path], **video: float) -> GeminiLiveTransport:
    """A transport on the fake whose file camera shows ``camera``, with video options
    (``video_fps``, ``video_max_size``) the test sets."""
    media = FileMediaManager(realtime=True, camera=camera)
    return GeminiLiveTransport(fake.options.model_copy(update=video), media)


async def cam_on(t: GeminiLiveTransport, events: Events, frames: int, timeout: float = 5.0) -> None:
    """Turn the camera on and wait until ``frames`` frames have been sent."""
    t.enable_cam(True)
    await events.until(lambda: t.video.stats.frames_sent >= frames, timeout)


async def test_frames_flow_at_the_rate_size_and_colour_while_the_cam_is_on(
    fake: FakeSession, tmp_path: Path
) -> None:
    red = image(tmp_path / "red.png", RED, (1600, 900))
    t = filming(fake, red, video_fps=10.0, video_max_size=512)
    await t.connect()
    try:
        await asyncio.sleep(0.3)
        assert frames(fake.server) == [], "no frame may be sent before the cam is enabled"
        t.enable_cam(True)
        assert t.is_cam_enabled
        loop = asyncio.get_running_loop()
        started = loop.time()
        events = Events(t)
        await events.until(lambda: t.video.stats.frames_sent >= 8)
        elapsed = loop.time() - started
        t.enable_cam(False)
        sent_when_off = t.video.stats.frames_sent
        await asyncio.sleep(0.4)
        assert t.video.stats.frames_sent == sent_when_off, "frames after enable_cam(False)"
    finally:
        await t.disconnect()
    got = frames(fake.server)
    assert len(got) == sent_when_off == sdk_checked_video(fake.server)
    # At most one frame per 1/fps (plus the first, at once): never faster than asked.
    assert len(got) <= elapsed * 10 + 2
    for jpeg in got:
        assert size_of(jpeg) == (512, 288)  # 1600x900 scaled to a 512 long side
        assert close_to(colour_of(jpeg), RED)
    assert t.video.stats.device_errors == 0


async def test_switching_cams_mid_session_changes_the_pictures(
    fake: FakeSession, tmp_path: Path
) -> None:
    cameras = [image(tmp_path / "blue.jpg", BLUE), image(tmp_path / "green.png", GREEN)]
    t = filming(fake, cameras, video_fps=20.0)
    events = Events(t)
    await t.connect()
    try:
        cams = await t.get_all_cams()
        assert [(c.id, c.kind) for c in cams] == [
            ("file-camera", "videoinput"),
            ("file-camera-2", "videoinput"),
        ]
        await cam_on(t, events, frames=2)
        before = len(frames(fake.server))
        await t.update_cam("file-camera-2")
        await events.until(lambda: len(frames(fake.server)) >= before + 3)
    finally:
        await t.disconnect()
    colours = [colour_of(j) for j in frames(fake.server)]
    first_green = next(i for i, c in enumerate(colours) if close_to(c, GREEN))
    assert first_green >= 2 and all(close_to(c, BLUE) for c in colours[:first_green])
    assert all(close_to(c, GREEN) for c in colours[first_green:]), colours
    assert t.media.selected_cam is not None and t.media.selected_cam.id == "file-camera-2"


async def test_a_looped_video_file_is_sent_as_its_frames(fake: FakeSession, tmp_path: Path) -> None:
    clip = video(tmp_path / "clip.avi", [RED, GREEN, BLUE], seconds_each=0.3)
    t = filming(fake, clip, video_fps=10.0)
    events = Events(t)
    await t.connect()
    try:
        await cam_on(t, events, frames=14, timeout=10)
    finally:
        await t.disconnect()
    seen = [colour_of(j) for j in frames(fake.server)]
    named = {name for name, rgb in (("red", RED), ("green", GREEN), ("blue", BLUE))
             if any(close_to(c, rgb, 40) for c in seen)}  # fmt: skip
    assert named == {"red", "green", "blue"}, seen
    assert all(size_of(j) == (640, 480) for j in frames(fake.server))


async def test_a_video_file_removed_mid_session_is_a_device_error_and_audio_goes_on(
    fake: FakeSession, tmp_path: Path
) -> None:
    clip = video(tmp_path / "clip.avi", [RED, GREEN], seconds_each=0.2)
    t = filming(fake, clip, video_fps=20.0)
    events = Events(t)
    await t.connect()
    try:
        await cam_on(t, events, frames=2)
        clip.unlink()  # the camera "disappears": noticed when the loop reopens the file
        (error,) = await events.wait_for("device-error", timeout=5)
        assert "gone" in error.data.message and error.data.kind == "videoinput"
        assert not t.is_cam_enabled
        audio_before = t.audio_sent_ms
        await events.until(lambda: t.audio_sent_ms > audio_before + 200)
        assert t.state == "ready"
    finally:
        await t.disconnect()
    assert t.video.stats.device_errors == 1


async def test_update_cam_to_an_unknown_id_is_a_device_error(
    fake: FakeSession, tmp_path: Path
) -> None:
    from rtws import DeviceError

    media = FileMediaManager(realtime=True, camera=image(tmp_path / "red.png", RED))
    t = GeminiLiveTransport(fake.options, media)
    await t.connect()
    try:
        with pytest.raises(DeviceError, match=r"no camera with id 'cam-9'.*'file-camera'"):
            await t.update_cam("cam-9")
        await t.update_cam("file-camera")
        assert t.media.selected_cam is not None
    finally:
        await t.disconnect()


async def test_the_fake_closes_on_a_frame_that_is_not_an_image() -> None:
    from providers.gemini.tests.test_gemini_fake import KEY, close_of, open_raw, recv_json

    async with FakeGeminiServer(KEY, playback_wait=0.0) as server:
        ws = await open_raw(server)
        await ws.send(json.dumps({"setup": {"model": "models/m"}}))
        assert "setupComplete" in await recv_json(ws)
        not_a_jpeg = {"mimeType": "image/jpeg", "data": "AAAA"}
        await ws.send(json.dumps({"realtimeInput": {"video": not_a_jpeg}}))
        code, reason = await close_of(ws)
    assert code == 1007 and "Invalid video frame" in reason


async def test_frames_go_on_after_a_reconnect_without_a_restart(
    fake: FakeSession, tmp_path: Path
) -> None:
    t = filming(fake, image(tmp_path / "red.png", RED), video_fps=20.0)
    events = Events(t)
    await t.connect()
    try:
        t.enable_cam(True)
        await events.until(lambda: len(fake.server.connections[0].video) >= 2)
        await fake.server.drop()
        await events.wait_for("reconnected")
        await events.until(
            lambda: len(fake.server.connections) == 2 and len(fake.server.connections[1].video) >= 2
        )
        assert t.is_cam_enabled and t.video.running
    finally:
        await t.disconnect()
    assert not t.video.running  # the camera path ends with the session, not before
    assert t.video.stats.device_errors == 0
