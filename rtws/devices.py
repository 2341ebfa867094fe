"""The device controls of a transport: thin pass-throughs to its media manager.

A mixin of :class:`~rtws.RealTimeWebsocketTransport`, so the user-facing
class reads as lifecycle and events, and these fourteen one-liners live
together (DESIGN.md lists them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import rtvi
from .errors import InvalidStateError, RTWSError, UnsupportedMessage
from .media.base import AudioDevice
from .redact import redact
from .state import TransportState
from .transport_part import TransportPart

S = TransportState


class DeviceControls(TransportPart):
    """Enumerate, select, switch and mute devices (the media manager does the work)."""

    _devices_initialized: bool

    if TYPE_CHECKING:

        @property
        def supports_video(self) -> bool: ...

        async def _ensure_llm_initialized(self) -> None: ...

        def _move(self, new: TransportState) -> None: ...

    async def init_devices(self) -> None:
        """Enumerate devices before connecting (``initializing`` → ``initialized``)."""
        await self._ensure_llm_initialized()
        if self.state not in (S.DISCONNECTED, S.ERROR):
            if self._devices_initialized:
                return
            raise InvalidStateError(
                f"init_devices() needs a disconnected transport, not {self.state}"
            )
        self._move(S.INITIALIZING)
        try:
            await self._init_media()
            self.emit(rtvi.AvailableMicsUpdated(data=_devices(await self.media.get_all_mics())))
            self.emit(
                rtvi.AvailableSpeakersUpdated(data=_devices(await self.media.get_all_speakers()))
            )
        except BaseException as exc:
            self._sessions.mark_failed(exc)
            raise
        self._move(S.INITIALIZED)

    async def _init_media(self) -> None:
        media = self.media
        media.set_device_error_callback(self._on_device_error)
        await media.initialize()
        self._devices_initialized = True

    def _on_device_error(self, error: RTWSError) -> None:
        data = rtvi.DeviceErrorData(
            message=redact(str(error)),
            device_id=getattr(error, "device_id", None),
            kind=getattr(error, "kind", None),
        )
        self.emit(rtvi.DeviceErrorEvent(data=data))

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
        """Camera on or off; on needs a provider that carries video (``UnsupportedMessage``)."""
        if enabled and not self.supports_video:
            raise UnsupportedMessage("video", self.provider_name)
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


def _devices(devices: list[AudioDevice]) -> rtvi.DevicesData:
    return rtvi.DevicesData(devices=[d.model_dump() for d in devices])
