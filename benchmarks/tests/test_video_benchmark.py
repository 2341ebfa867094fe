"""The camera benchmark runs end to end (a tiny run: its figures are not judged here)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("cv2", reason="the camera benchmark needs rtws[video] (OpenCV)")


def test_a_tiny_camera_run_reports_both_windows_and_the_ratio() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.video", "--sessions", "1", "--seconds", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["audio_only"]["cpu_pct"] > 0 and doc["camera_on"]["cpu_pct"] > 0
    assert doc["audio_only"]["frames_per_s"] == 0.0 and doc["camera_on"]["frames_per_s"] > 0
    assert doc["camera_on"]["jpeg_bytes"] > 1000 and doc["cpu_ratio"] > 0
