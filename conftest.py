"""Test-session rules shared by the core and every provider package.

Tests marked ``@pytest.mark.devices`` need sound devices (real, or the
virtual ones ``scripts/audio-sandbox up`` creates). Without them they skip
with the reason — except when ``RTWS_REQUIRE_DEVICES=1`` (CI sets it), where
a missing device is a failure: device tests must never pass by skipping.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator

import pytest


@functools.cache
def _missing_devices() -> str | None:
    """Why sound-device tests cannot run here (the sandbox's devices are absent), or None."""
    from rtws import sandbox

    return sandbox.check(virtual=True)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("devices") is None:
        return
    problem = _missing_devices()
    if problem is None:
        return
    if os.environ.get("RTWS_REQUIRE_DEVICES") == "1":
        pytest.fail(f"RTWS_REQUIRE_DEVICES=1 but {problem}", pytrace=False)
    pytest.skip(problem)


@pytest.fixture(autouse=True)
def _hold_audio_devices(request: pytest.FixtureRequest) -> Iterator[None]:
    """One device test at a time on this machine: parallel runs would hear each other."""
    if request.node.get_closest_marker("devices") is None:
        yield
        return
    from rtws import sandbox

    with sandbox.lock_devices():
        yield
