"""Run a kit check against a broken provider: how the kit's own tests show each check can fail.

A check that passes every provider proves nothing. ``test_conformance_echo`` and
``test_conformance_pcm`` each break their test provider the ways real providers
broke (the mutant table of ``docs/reference/testing.md``) and run the check
written for each mistake against it; this is the bench both use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar, Generic, TypeVar

import pytest

from rtws import RealTimeWebsocketTransport
from rtws.testing import FakeServerHarness, ProviderConformance, ProviderHarness

Server = TypeVar("Server", bound=AbstractAsyncContextManager[Any])
Transport = TypeVar("Transport", bound=RealTimeWebsocketTransport)


class SwappableHarness(FakeServerHarness[Server], Generic[Server, Transport]):
    """A test provider's harness that builds whichever transport class the test sets: the
    correct one, or a broken variant (and then the correct one again, on the same server)."""

    def __init__(self, server: Server, transport_class: type[Transport]) -> None:
        super().__init__(server)
        self.transport_class = transport_class


class MutantSuite(ProviderConformance):
    """The kit against one harness, driven by hand rather than collected by pytest."""

    #: Ample for the test providers on 127.0.0.1; a check that waits longer has failed.
    timeout: ClassVar[float] = 3.0

    def __init__(self, make_harness: Callable[[], ProviderHarness]) -> None:
        self._make_harness = make_harness

    def make_harness(self) -> ProviderHarness:
        return self._make_harness()


async def assert_check_fails(
    make_harness: Callable[[], SwappableHarness[Any, Transport]],
    check: str,
    *,
    then_passes: type[Transport] | None = None,
) -> None:
    """Require kit check ``check`` to fail on the (broken) provider ``make_harness`` builds.

    With ``then_passes``, the same check must then pass that transport class on the
    same server: the failure was the mutant's, not the server's. Whatever the broken
    provider left running (a leaked task is a mistake some mutants make) is cancelled
    after the server stopped, so it cannot outlive the test.
    """
    suite = MutantSuite(make_harness)
    before = asyncio.all_tasks()
    async with make_harness() as harness:
        try:
            with pytest.raises((AssertionError, pytest.fail.Exception)):
                await getattr(suite, check)(harness)
            if then_passes is not None:
                harness.transport_class = then_passes
                await getattr(suite, check)(harness)
        finally:
            await suite.close_transports()
    for task in asyncio.all_tasks() - before:
        task.cancel()
