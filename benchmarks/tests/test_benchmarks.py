"""The benchmark harness works: its arithmetic, and one tiny run per client through the fake.

No timed assertions: these check that measurements are *taken* (counts,
keys, the table renders), never how fast anything is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks import report, stats
from benchmarks.probes import schedule_lateness_ms
from benchmarks.workload import PROVIDER_RATE, mic_cycle, reply_audio, speech_like

ROOT = Path(__file__).resolve().parents[2]


def test_schedule_lateness_is_relative_to_the_best_kept_schedule() -> None:
    points = [(0, 10.000), (1, 10.020), (2, 10.045), (3, 10.060)]
    assert schedule_lateness_ms(points, 0.02) == pytest.approx([0.0, 0.0, 5.0, 0.0])
    # A constant offset is not lateness; a stream that falls behind is.
    assert schedule_lateness_ms([(i, 5 + i * 0.02 + 0.3) for i in range(5)], 0.02) == (
        pytest.approx([0.0] * 5)
    )
    assert schedule_lateness_ms([], 0.02) == []


def test_dist_reports_percentiles_and_handles_no_samples() -> None:
    summary = stats.dist([float(x) for x in range(1, 101)])
    assert summary["n"] == 100
    assert summary["p50"] == pytest.approx(50.5)
    assert summary["p99"] == pytest.approx(99.01)
    assert summary["max"] == 100.0
    assert stats.dist([]) == {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}


def test_workload_signals_are_speech_like_and_never_digital_silence() -> None:
    cycle = mic_cycle(48000)
    assert len(cycle) == 96000
    reply = reply_audio()
    assert len(reply) == round(1.8 * PROVIDER_RATE)
    assert np.count_nonzero(reply) > 0.99 * len(reply)
    rms = float(np.sqrt(np.mean((speech_like(1.0, PROVIDER_RATE) / 32768.0) ** 2)))
    assert 0.15 < rms < 0.35


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.server", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line.startswith("READY "), line
    yield line.split(" ", 1)[1]
    process.terminate()
    process.wait(10)


def _worker(url: str, client: str, *extra: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.worker", "--client", client, "--url", url]
    command += ["--sessions", "2", "--warmup", "2.2", "--window", "1.0", *extra]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("client", ["rtws", "bare"])
def test_a_tiny_run_measures_both_directions(server_url: str, client: str) -> None:
    result = _worker(server_url, client)
    assert result["client"] == client
    assert result["cpu_pct"] > 0
    assert result["chunks_sent"] > 0
    assert result["chunks_dropped"] == 0
    assert result["mic_to_wire_ms"]["n"] == result["chunks_sent"]
    # Replies were streamed during the window and their audio reached the speaker side.
    assert result["msgs_down_per_s"] > 0
    assert result["wire_to_buffer_ms"]["n"] > 0
    assert result["errors"] == []
    table = report.markdown({"compare": [result], "machine": {}})
    assert "CPU, % of one core per session" in table


def test_the_probe_free_floor_runs_real_sessions_without_touching_the_socket(
    server_url: str,
) -> None:
    result = _worker(server_url, "bare-floor")
    assert result["client"] == "bare-floor" and result["cpu_pct"] > 0
    assert result["chunks_sent"] > 0 and result["chunks_dropped"] == 0
    assert result["replies"] > 0  # audio deltas were read and queued
    # No wire probe: no arrival stamps, no frame or byte counts.
    assert result["wire_to_buffer_ms"]["n"] == 0 and result["kbytes_down_per_s"] == 0
    assert result["errors"] == []
    table = report.markdown({"compare": [result], "machine": {}})
    assert "bare, no probe" in table


def test_barge_in_run_records_interruptions(server_url: str) -> None:
    result = _worker(server_url, "rtws", "--barge-in", "--window", "6")
    interruptions = result["interruptions"]
    assert interruptions["count"] >= 1
    assert interruptions["truncate_abs_error_ms"]["n"] == interruptions["count"]


@pytest.mark.devices
def test_device_run_records_interruptions_on_the_virtual_speaker(server_url: str) -> None:
    command = [sys.executable, "-m", "benchmarks.device", "--url", server_url, "--seconds", "8"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "skipped" not in result, result
    # Each barge-in is seen on the wire, in the output callback and on the monitor.
    assert result["interruptions"] >= 1
    assert result["callback_silence_ms"]["n"] == result["interruptions"]
    assert result["monitor_silence_ms"]["n"] >= 1
