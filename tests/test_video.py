"""Video in, the core: sources, scaling and encoding, cameras, and the camera path.

Pictures and videos are generated per test (tests/video_media.py); the
camera path runs through the echo provider's real websocket, with a
subclass that carries frames (the echo protocol has no video of its own).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import numpy as np
import pytest

from rtws import DeviceError, FileMediaManager, UnsupportedMessage, VideoFrame
from rtws.video import Cameras, encode_frame, open_file_source, system_cameras
from rtws.video.frame import decode_jpeg, dominant_colour, scaled_size
from rtws.video.sources import CameraSource, _linux_cameras  # pyright: ignore[reportPrivateUsage]
from tests.conftest import make_options
from tests.echo_provider import EchoServer, EchoTransport
from tests.video_media import BLUE, GREEN, RED, close_to, colour_of, image, size_of, video


class SeeingEcho(EchoTransport):
    """The echo provider plus a video hook that keeps every frame it is given."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # pyright: ignore[reportArgumentType]
        self.frames: list[VideoFrame] = []

    async def handle_user_video_frame(self, frame: VideoFrame) -> None:
        self.frames.append(frame)


async def until(predicate: object, timeout: float = 5.0) -> None:
    assert callable(predicate)
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


# ---------------------------------------------------------------- scaling and encoding
@pytest.mark.parametrize(
    ("size", "limit", "expected"),
    [((1280, 720), 768, (768, 432)), ((720, 1280), 768, (432, 768)), ((320, 240), 768, (320, 240))],
)
def test_scaling_keeps_the_aspect_and_never_upscales(
    size: tuple[int, int], limit: int, expected: tuple[int, int]
) -> None:
    assert scaled_size(*size, limit) == expected


def test_encoding_gives_a_jpeg_of_the_scaled_size_and_colour() -> None:
    rgb = np.zeros((900, 1600, 3), np.uint8)
    rgb[:] = GREEN
    frame = encode_frame(rgb, max_size=640, quality=80, captured_at=1.0, seq=3, source="x")
    assert frame.jpeg[:3] == b"\xff\xd8\xff" and (frame.width, frame.height) == (640, 360)
    assert size_of(frame.jpeg) == (640, 360) and close_to(colour_of(frame.jpeg), GREEN)
    assert frame.data_url().startswith("data:image/jpeg;base64,/9j/")
    assert "jpeg=" not in repr(frame)  # a repr never dumps the picture
    assert dominant_colour(decode_jpeg(frame.jpeg)) == "green"


# ---------------------------------------------------------------- sources and bad files
def test_a_still_and_a_video_file_are_sources(tmp_path: Path) -> None:
    still = open_file_source(image(tmp_path / "a.jpg", BLUE, (200, 100)))
    assert still.read().shape == (100, 200, 3)
    assert close_to(tuple(int(v) for v in np.median(still.read().reshape(-1, 3), 0)), BLUE)  # pyright: ignore[reportArgumentType]
    clip = open_file_source(video(tmp_path / "c.avi", [RED], seconds_each=0.3))
    assert clip.read().shape == (480, 640, 3)
    clip.close()
    clip.close()  # idempotent


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.png", None, "does not exist"),
        ("notes.txt", b"hello", "neither a PNG/JPEG image nor a video"),
        ("broken.png", b"\x89PNG but not really", "cannot decode the image"),
        ("empty.mp4", b"", "neither a PNG/JPEG image nor a video"),
    ],
)
def test_a_bad_camera_file_fails_at_construction_with_a_clear_error(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DeviceError, match=message) as info:
        FileMediaManager(camera=path)
    assert info.value.kind == "videoinput" and name in str(info.value)


def test_a_directory_is_not_a_camera_file(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="not a readable file"):
        FileMediaManager(camera=tmp_path)


def test_a_camera_that_cannot_be_opened_says_busy_or_gone() -> None:
    # Index 99 exists on no machine: OpenCV fails to open it exactly as it fails on a
    # camera another program holds, so this is the "busy camera" path.
    with pytest.raises(DeviceError, match=r"busy .* or gone"):
        CameraSource(99, "USB cam")


# ---------------------------------------------------------------- cameras
async def test_cameras_list_select_and_switch(tmp_path: Path) -> None:
    media = FileMediaManager(
        camera=[image(tmp_path / "r.png", RED), image(tmp_path / "g.png", GREEN)]
    )
    cams = await media.get_all_cams()
    assert [(c.id, c.kind, c.is_default) for c in cams] == [
        ("file-camera", "videoinput", True),
        ("file-camera-2", "videoinput", False),
    ]
    assert media.selected_cam == cams[0] and not media.is_cam_enabled
    assert await media.update_cam("file-camera-2") == cams[1]
    media.enable_cam(True)
    assert media.is_cam_enabled
    with pytest.raises(DeviceError, match="no camera with id 'nope'"):
        await media.update_cam("nope")
    assert media.selected_cam == cams[1]  # a failed switch keeps the camera


def test_enabling_with_no_camera_is_a_device_error() -> None:
    media = FileMediaManager()
    with pytest.raises(DeviceError, match="no camera to enable"):
        media.enable_cam(True)
    assert not media.is_cam_enabled


def test_linux_cameras_are_listed_from_sysfs_without_opening_them(tmp_path: Path) -> None:
    nodes = [
        ("video0", "Integrated Camera", "0"),
        ("video1", "Integrated Camera", "1"),  # its metadata node
        ("video2", "USB Cam", "0"),
    ]
    for node, name, index in nodes:
        (tmp_path / node).mkdir()
        (tmp_path / node / "name").write_text(name + "\n")
        (tmp_path / node / "index").write_text(index + "\n")
    found = _linux_cameras(tmp_path)
    assert [(c.index, c.name) for c in found] == [(0, "Integrated Camera"), (2, "USB Cam")]
    assert _linux_cameras(tmp_path / "absent") == []


def test_a_real_camera_gives_pictures() -> None:
    cams = system_cameras()
    if not cams:
        pytest.skip("no camera on this machine (none in /sys/class/video4linux)")
    source = CameraSource(cams[0].index, cams[0].name)
    try:
        assert source.read().ndim == 3
    finally:
        source.close()


async def test_the_sound_device_backend_lists_cameras_as_videoinput() -> None:
    from rtws.media.sounddevice import SoundDeviceMediaManager

    cams = await SoundDeviceMediaManager().get_all_cams()
    assert [c.kind for c in cams] == ["videoinput"] * len(system_cameras())


# ---------------------------------------------------------------- the camera path
async def test_a_provider_without_video_refuses_the_camera_by_name(
    echo_server: EchoServer, tmp_path: Path
) -> None:
    t = EchoTransport(
        make_options(echo_server), FileMediaManager(camera=image(tmp_path / "r.png", RED))
    )
    assert not t.supports_video
    with pytest.raises(UnsupportedMessage, match="echo") as info:
        t.enable_cam(True)
    assert info.value.provider == "echo" and not t.is_cam_enabled


async def test_frames_flow_only_while_ready_and_enabled_and_no_thread_outlives_it(
    echo_server: EchoServer, tmp_path: Path
) -> None:
    threads_before = {t.ident for t in threading.enumerate()}
    media = FileMediaManager(camera=image(tmp_path / "b.png", BLUE, (1024, 1024)))
    t = SeeingEcho(make_options(echo_server, video_fps=20.0), media)
    assert t.supports_video
    t.enable_cam(True)  # before connecting: frames start once the session is ready
    await t.connect()
    try:
        await until(lambda: len(t.frames) >= 4)
        t.enable_cam(False)
        count = len(t.frames)
        await asyncio.sleep(0.3)
        assert len(t.frames) == count
        t.enable_cam(True)
        await until(lambda: len(t.frames) >= count + 2)
    finally:
        await t.disconnect()
    after = len(t.frames)
    await asyncio.sleep(0.2)
    assert len(t.frames) == after, "a frame after disconnect()"
    assert [f.seq for f in t.frames] == sorted({f.seq for f in t.frames})
    assert all((f.width, f.height) == (768, 768) for f in t.frames)  # the default max size
    assert all(f.source == "file-camera" for f in t.frames)
    assert t.video.stats.frames_sent == after and t.video.stats.bytes_sent > 0
    left = [th for th in threading.enumerate() if th.ident not in threads_before]
    assert not [th for th in left if th.name.startswith("rtws-video")], left


async def test_a_provider_hook_that_fails_on_the_socket_drops_the_frame_only(
    echo_server: EchoServer, tmp_path: Path
) -> None:
    from rtws.errors import ConnectionFailed

    class Refusing(SeeingEcho):
        async def handle_user_video_frame(self, frame: VideoFrame) -> None:
            raise ConnectionFailed("socket closing")

    t = Refusing(
        make_options(echo_server, video_fps=20.0),
        FileMediaManager(camera=image(tmp_path / "r.png", RED)),
    )
    await t.connect()
    try:
        t.enable_cam(True)
        await until(lambda: t.video.stats.frames_dropped >= 2)
        assert t.state == "ready" and t.is_cam_enabled
    finally:
        await t.disconnect()


def test_cameras_notify_their_listeners() -> None:
    cams = Cameras()
    calls: list[int] = []
    stop = cams.on_change(lambda: calls.append(1))
    cams.enable(False)
    stop()
    cams.enable(False)
    assert calls == [1]
