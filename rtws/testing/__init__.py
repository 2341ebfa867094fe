"""The conformance kit: prove a provider keeps the transport contract, against its own fake server.

A provider package writes a :class:`ProviderHarness` (start its fake server,
build a transport, make the server speak or barge in, report the mic audio
it received) and inherits :class:`ProviderConformance` in a test module::

    from rtws.testing import ProviderConformance, ProviderHarness

    class TestMyConformance(ProviderConformance):
        def make_harness(self) -> ProviderHarness:
            return MyHarness()

pytest then runs every contract check against the provider: state order,
``bot-ready``, hook order, audio both ways, interruption, event shapes and
a clean, reusable disconnect; then what a user hears across barge-ins, late
audio, typed text, function calls, errors, refused keys and the session's own
tasks (:mod:`.kit`).

A check that needs a server action not every protocol has runs only for a
harness that inherits the action's capability mixin (:class:`LateAudioHarness`,
:class:`TypedTextHarness`, :class:`FunctionCallHarness`,
:class:`ServerErrorHarness`, :class:`BadCredentialsHarness`, or all of them:
:class:`AllCapabilities`); for any other it is skipped, naming the mixin.

Needs ``pytest`` and ``pytest-asyncio`` (its default strict mode is fine: the
checks carry the ``asyncio`` mark).
"""

from .harness import (
    AllCapabilities,
    BadCredentialsHarness,
    FakeServerHarness,
    FunctionCallHarness,
    LateAudioHarness,
    ProviderHarness,
    ServerErrorHarness,
    TypedTextHarness,
    TypedTurnHarness,
)
from .kit import DEVICE_RATE, ProviderConformance
from .probes import (
    EventLog,
    HookRecorder,
    MarkRecorder,
    foreign_threads,
    rtws_tasks,
    session_tasks,
    wait_for,
)
from .signals import alignment, audible_span, chirp, dominant_frequency, tone

__all__ = [
    "DEVICE_RATE",
    "AllCapabilities",
    "BadCredentialsHarness",
    "EventLog",
    "FakeServerHarness",
    "FunctionCallHarness",
    "HookRecorder",
    "LateAudioHarness",
    "MarkRecorder",
    "ProviderConformance",
    "ProviderHarness",
    "ServerErrorHarness",
    "TypedTextHarness",
    "TypedTurnHarness",
    "alignment",
    "audible_span",
    "chirp",
    "dominant_frequency",
    "foreign_threads",
    "rtws_tasks",
    "session_tasks",
    "tone",
    "wait_for",
]
