"""The cameras of a media manager: the list, the selection, the on/off switch.

A media manager holds one :class:`Cameras` and forwards ``get_all_cams``,
``update_cam``, ``enable_cam`` and ``is_cam_enabled`` to it, so a file
backend and the sound-device backend behave the same. Opening a camera is
left to the video uplink (in its worker thread): this object only says
which one and whether it is on, and wakes the uplink when that changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DeviceError
from .sources import CameraSource, FrameSource, open_file_source, system_cameras

if TYPE_CHECKING:
    from ..media.base import AudioDevice

Opener = Callable[[], FrameSource]


def _camera_device(device_id: str, name: str, is_default: bool) -> AudioDevice:
    from ..media.base import AudioDevice  # media.base holds a Cameras: import at use

    return AudioDevice(
        id=device_id,
        name=name,
        kind="videoinput",
        default_sample_rate=0,
        max_channels=0,
        is_default=is_default,
    )


class Cameras:
    """Camera list, selection and switch. Starts off, as a browser's camera does."""

    def __init__(self, listing: Callable[[], list[tuple[AudioDevice, Opener]]] | None = None):
        self._listing = listing
        self._devices: dict[str, tuple[AudioDevice, Opener]] = {}
        self._selected: str | None = None
        self.enabled = False
        #: bumped at each selection: the uplink reopens its source when it changes.
        self.generation = 0
        self._listeners: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ building
    @classmethod
    def from_files(cls, paths: str | Path | Sequence[str | Path]) -> Cameras:
        """A camera per still image or looped video, checked now (a bad file fails here,
        before any session). Ids: ``file-camera``, then ``file-camera-2``, ``-3``..."""
        files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
        if not files:
            raise DeviceError("camera: no file given", kind="videoinput")
        found: list[tuple[AudioDevice, Opener]] = []
        for n, p in enumerate(files, start=1):
            open_file_source(p).close()
            device_id = "file-camera" if n == 1 else f"file-camera-{n}"
            device = _camera_device(device_id, f"file: {p}", n == 1)
            found.append((device, lambda p=p: open_file_source(p)))
        cams = cls(lambda: list(found))
        cams.refresh()
        return cams

    @classmethod
    def system(cls) -> Cameras:
        """The machine's cameras through OpenCV (none without the ``video`` extra)."""

        def listing() -> list[tuple[AudioDevice, Opener]]:
            found: list[tuple[AudioDevice, Opener]] = []
            for i, cam in enumerate(system_cameras()):
                device = _camera_device(f"cam-{cam.index}", cam.name, i == 0)
                index, name = cam.index, cam.name
                found.append((device, lambda index=index, name=name: CameraSource(index, name)))
            return found

        return cls(listing)

    def refresh(self) -> list[AudioDevice]:
        """List again (cameras come and go); the selection survives if still present."""
        if self._listing is not None:
            self._devices = {d.id: (d, opener) for d, opener in self._listing()}
        if self._selected not in self._devices:
            default = next((d.id for d, _ in self._devices.values() if d.is_default), None)
            self._selected = default or next(iter(self._devices), None)
        return self.devices

    # ------------------------------------------------------------------ reading
    @property
    def devices(self) -> list[AudioDevice]:
        return [d for d, _ in self._devices.values()]

    @property
    def selected(self) -> AudioDevice | None:
        entry = self._devices.get(self._selected or "")
        return entry[0] if entry is not None else None

    def opener(self) -> tuple[AudioDevice, Opener]:
        """The selected camera and how to open it (DeviceError when there is none)."""
        entry = self._devices.get(self._selected or "")
        if entry is None:
            raise DeviceError("no camera is available", kind="videoinput")
        return entry

    # ------------------------------------------------------------------ changing
    def select(self, device_id: str) -> AudioDevice:
        if device_id not in self._devices:
            self.refresh()
        entry = self._devices.get(device_id)
        if entry is None:
            known = ", ".join(repr(i) for i in self._devices) or "none"
            raise DeviceError(
                f"no camera with id {device_id!r} (cameras available: {known})",
                device_id=device_id,
                kind="videoinput",
            )
        self._selected = device_id
        self.generation += 1
        self._changed()
        return entry[0]

    def enable(self, enabled: bool) -> None:
        if enabled and self.selected is None and not self.refresh():
            raise DeviceError(
                "no camera to enable (pass camera=PATH to FileMediaManager, or install "
                "rtws[video] and plug in a camera)",
                kind="videoinput",
            )
        self.enabled = enabled
        self._changed()

    def on_change(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` at each selection or switch; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()
