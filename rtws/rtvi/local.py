"""Local-only RTVI events: transport state, devices, reconnection steps.

They use the RTVI envelope so one handler API serves everything, but they
never go on a wire (:attr:`RTVIMessage.local` is true); keeping them in their
own module makes the line between protocol and process plain.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from .envelope import RTVIMessage
from .payloads import (
    DeviceData,
    DeviceErrorData,
    DevicesData,
    ReconnectedData,
    ReconnectingData,
    TransportStateChangedData,
)


class _LocalEvent(RTVIMessage):
    local: ClassVar[bool] = True
    direction: ClassVar[Literal["server", "client", "local"]] = "local"


class TransportStateChanged(_LocalEvent):
    type: Literal["transport-state-changed"] = "transport-state-changed"
    data: TransportStateChangedData


class AvailableMicsUpdated(_LocalEvent):
    type: Literal["available-mics-updated"] = "available-mics-updated"
    data: DevicesData


class AvailableSpeakersUpdated(_LocalEvent):
    type: Literal["available-speakers-updated"] = "available-speakers-updated"
    data: DevicesData


class MicUpdated(_LocalEvent):
    type: Literal["mic-updated"] = "mic-updated"
    data: DeviceData


class SpeakerUpdated(_LocalEvent):
    type: Literal["speaker-updated"] = "speaker-updated"
    data: DeviceData


class DeviceErrorEvent(_LocalEvent):
    type: Literal["device-error"] = "device-error"
    data: DeviceErrorData


class Reconnecting(_LocalEvent):
    type: Literal["reconnecting"] = "reconnecting"
    data: ReconnectingData


class Reconnected(_LocalEvent):
    type: Literal["reconnected"] = "reconnected"
    data: ReconnectedData
