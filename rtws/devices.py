"""The device controls of a transport: thin pass-throughs to its media manager.

A mixin of :class:`~rtws.RealTimeWebsocketTransport`, so the user-facing
class reads as lifecycle and events, and these fourteen one-liners live
together (DESIGN.md lists them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import rtvi
from .media.base import AudioDevice, MediaManager

if TYPE_CHECKING:
    from .rtvi import RTVIMessage


class DeviceControls:
    """Enumerate, select, switch and mute devices (the media manager does the work)."""

    if TYPE_CHECKING:

        @property
        def media(self) -> MediaManager: ...

        def emit(self, message: RTVIMessage) -> None: ...

    async def get_all_mics(self) -> list[AudioDevice]:
        return await self.media.get_all_mics()

    async def get_all_speakers(self) -> list[AudioDevice]:
        return await self.media.get_all_speakers()

    async def get_all_cams(self) -> list[AudioDevice]:
        return await self.media.get_all_cams()

    async def update_mic(self, device_id: str) -> None:
        device = await self.media.update_mic(device_id)
        self.emit(rtvi.MicUpdated(data=rtvi.DeviceData(device=device.model_dump())))

    async def update_speaker(self, device_id: str) -> None:
        device = await self.media.update_speaker(device_id)
        self.emit(rtvi.SpeakerUpdated(data=rtvi.DeviceData(device=device.model_dump())))

    async def update_cam(self, device_id: str) -> None:
        await self.media.update_cam(device_id)

    def enable_mic(self, enabled: bool) -> None:
        self.media.enable_mic(enabled)

    def enable_cam(self, enabled: bool) -> None:
        self.media.enable_cam(enabled)

    @property
    def selected_mic(self) -> AudioDevice | None:
        return self.media.selected_mic

    @property
    def selected_speaker(self) -> AudioDevice | None:
        return self.media.selected_speaker

    @property
    def is_mic_enabled(self) -> bool:
        return self.media.is_mic_enabled

    @property
    def is_cam_enabled(self) -> bool:
        return self.media.is_cam_enabled
