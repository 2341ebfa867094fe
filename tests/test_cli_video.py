"""``--cam`` on the command line, the camera in ``rtws devices`` and in the live view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rtws.cli import main
from rtws.cli.view import SessionView
from tests.test_cli import DATA, render, run_cli_async
from tests.video_media import GREEN, image


async def test_talk_to_gemini_with_a_picture_as_the_camera(tmp_path: Path) -> None:
    from rtws_gemini.testing import FakeGeminiServer

    picture = image(tmp_path / "green.png", GREEN, (1920, 1080))
    async with FakeGeminiServer(api_key="fake-gemini-key-0123", playback_wait=0) as server:
        code, out, err = await run_cli_async(
            "talk", "gemini",
            "--url", server.url,
            "--option", "api_key=fake-gemini-key-0123",
            "--option", "video_fps=20",
            "--input", str(DATA / "speech_16k.wav"),
            "--output", str(tmp_path / "g.wav"),
            "--cam", str(picture),
        )  # fmt: skip
    assert code == 0, err
    (camera_line,) = [line for line in out.splitlines() if line.startswith("camera: ")]
    assert f"file: {picture}  [on]" in camera_line and "768x432" in camera_line
    frames = [data for c in server.connections for _, data in c.video]
    assert frames and f"{len(frames)} frames" in camera_line


@pytest.mark.parametrize(
    ("cam", "message"),
    [
        ("no-such-camera", "--cam 'no-such-camera' is no file and no camera (cameras: none)"),
        ("{tmp}/notes.txt", "is neither a PNG/JPEG image nor a video"),
    ],
)
def test_a_bad_cam_is_one_clear_line_before_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cam: str, message: str
) -> None:
    (tmp_path / "notes.txt").write_text("not a picture")
    args = ["talk", "openai", "--input", str(DATA / "speech_24k.wav"), "--output", "o.wav"]
    assert main([*args, "--url", "ws://127.0.0.1:9/v1", "--cam", cam.format(tmp=tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_a_provider_without_video_refuses_cam(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    picture = image(tmp_path / "g.png", GREEN)
    args = ["talk", "deepgram", "--input", str(DATA / "speech_16k.wav"), "--cam", str(picture)]
    assert main(args) == 2
    assert "deepgram cannot take video (--cam)" in capsys.readouterr().err


def test_devices_json_lists_cameras(capsys: pytest.CaptureFixture[str]) -> None:
    if main(["devices", "--json"]) != 0:
        pytest.skip("no sound device to list (the devices command needs one)")
    doc = json.loads(capsys.readouterr().out)
    assert isinstance(doc["cameras"], list)
    assert all(c["kind"] == "videoinput" for c in doc["cameras"])


def test_the_live_view_shows_the_camera_line() -> None:
    view = SessionView("test")
    assert "cam " not in render(view)
    view.camera_status = lambda: "file: a.png  [on] 3 frames · 17 kB sent · 768x432"
    (line,) = [ln for ln in render(view).splitlines() if "file: a.png" in ln]
    assert line.split()[1] == "cam" and "[on] 3 frames · 17 kB sent · 768x432" in line
