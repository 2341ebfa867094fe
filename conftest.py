"""Test-session rules shared by the core and every provider package.

Tests marked ``@pytest.mark.devices`` need sound devices (real, or the
virtual ones ``scripts/audio-sandbox up`` creates). Without them they skip
with the reason — except when ``RTWS_REQUIRE_DEVICES=1`` (CI sets it), where
a missing device is a failure: device tests must never pass by skipping.

Wild mode (issue 17): the fake servers can behave as the real services do in
the wild (late transcripts, missing optional events, reordered streams...),
driven by a seeded random generator. The ``wild`` fixture gives a test's fake
its seed; ``RTWS_WILD`` switches the suite in ONE place:

* ``all`` (the default, :data:`WILD_DEFAULT`): wild for every test that uses
  the fixture;
* ``auto``: the same, except tests marked ``@pytest.mark.tidy_until_fixed``
  (a provider bug found under wild mode, named by the mark's reason, while its
  fix is on the way: none today);
* ``off``: the tidy order, as the demos use.

A failing wild test prints its seed; ``RTWS_WILD_SEED=<seed>`` replays it exactly.
"""

from __future__ import annotations

import functools
import os
import random
from collections.abc import Iterator

import pytest

#: The suite's wild-mode default; ``RTWS_WILD`` overrides it (auto | all | off).
WILD_DEFAULT = "all"
_WILD_SEED: pytest.StashKey[int] = pytest.StashKey()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "tidy_until_fixed(reason): runs the fakes in tidy order under RTWS_WILD=auto, "
        "because today's provider fails the wild order (the reason names the issue item)",
    )


@pytest.fixture
def wild(request: pytest.FixtureRequest) -> int | None:
    """This test's wild-mode seed for the fake servers, or None for the tidy order."""
    mode = os.environ.get("RTWS_WILD", WILD_DEFAULT).strip().lower()
    if mode not in ("auto", "all", "off"):
        raise pytest.UsageError(f"RTWS_WILD must be auto, all or off, not {mode!r}")
    if mode == "off" or (
        mode == "auto" and request.node.get_closest_marker("tidy_until_fixed") is not None
    ):
        return None
    value = os.environ.get("RTWS_WILD_SEED", "").strip()
    seed = int(value) if value else random.SystemRandom().randrange(2**32)
    request.node.stash[_WILD_SEED] = seed
    return seed


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[object]:
    report = yield
    seed = item.stash.get(_WILD_SEED, None)
    if seed is not None and isinstance(report, pytest.TestReport) and report.failed:
        report.sections.append(
            ("wild mode", f"the fakes ran wild with seed {seed}: replay with RTWS_WILD_SEED={seed}")
        )
    return report


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
