"""What a part of the transport may use of the whole: declared once, for the type checker.

:class:`~rtws.RealTimeWebsocketTransport` is put together from mixins —
:class:`~rtws.provider.ProviderAPI` (the provider's page),
:class:`~rtws.devices.DeviceControls` (the device pass-throughs) — so each
audience reads one page. Each part calls a few things only the whole
transport defines (its media manager, its state, its sessions); they are
declared here so the parts agree on them. Declarations only: nothing here runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import rtvi
    from .media.base import MediaManager
    from .session import Sessions
    from .state import TransportState


class TransportPart:
    """The members of :class:`~rtws.RealTimeWebsocketTransport` its mixins use."""

    provider_name: str
    _sessions: Sessions

    if TYPE_CHECKING:

        @property
        def media(self) -> MediaManager: ...

        @property
        def state(self) -> TransportState: ...

        def emit(self, message: rtvi.RTVIMessage) -> None: ...
