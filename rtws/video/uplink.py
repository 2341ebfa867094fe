"""The camera path: pictures → JPEG frames → the provider, at ``options.video_fps``.

One session task per transport (beside the mic pump, and like it kept
through a reconnect). It sleeps while the session is not ready or the
camera is off, so an audio-only session pays nothing. While both hold, it
takes a picture every ``1 / video_fps`` seconds, scales and encodes it in
its own worker thread (the event loop never waits for OpenCV), and awaits
the provider's ``handle_user_video_frame(frame)``.

A camera that fails (cannot be opened, a file that vanished, a camera
unplugged) becomes a ``device-error`` event and switches the camera off;
the audio session carries on, and ``enable_cam(True)`` tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import DeviceError, RTWSError
from ..redact import get_logger
from .cameras import Cameras
from .frame import VideoFrame, encode_frame
from .sources import FrameSource

log = get_logger("rtws.video")


@dataclass(slots=True)
class VideoStats:
    """What the camera path did this transport's life (read by the CLI, tests, benchmarks)."""

    frames_sent: int = 0
    #: frames the provider's socket refused (the session was closing or reconnecting).
    frames_dropped: int = 0
    bytes_sent: int = 0
    device_errors: int = 0
    #: seconds spent capturing + encoding in the worker thread, all frames together.
    encode_s: float = 0.0
    last_frame: VideoFrame | None = None


class VideoUplink:
    """Runs the camera path of one transport (see the module docstring)."""

    def __init__(
        self,
        fps: Callable[[], float],
        max_size: Callable[[], int],
        quality: Callable[[], int],
        report: Callable[[DeviceError], None],
    ) -> None:
        self._fps = fps
        self._max_size = max_size
        self._quality = quality
        self._report = report
        self._live = False
        self._wake = asyncio.Event()
        self._due = 0.0  # loop.time() of the next capture
        self._seq = 0
        self.stats = VideoStats()
        self.running = False

    def set_live(self, live: bool) -> None:
        """The session is ready (frames flow when the camera is on) or not."""
        self._live = live
        self._wake.set()

    def capture_now(self) -> None:
        """Take the next picture at once instead of at the next tick (a snapshot)."""
        self._due = 0.0
        self._wake.set()

    async def run(self, cameras: Cameras, send: Callable[[VideoFrame], Awaitable[None]]) -> None:
        """The session task: frames to ``send`` while live and enabled, until cancelled."""
        loop = asyncio.get_running_loop()
        unsubscribe = cameras.on_change(self._wake.set)
        worker = ThreadPoolExecutor(1, thread_name_prefix="rtws-video")
        source: FrameSource | None = None
        label = ""  # the open source's camera id
        generation = -1
        self.running = True
        try:
            while True:
                self._wake.clear()  # a wake from here on ends the next wait
                if not (self._live and cameras.enabled):
                    if source is not None:  # off: release the camera (its light goes out)
                        await loop.run_in_executor(worker, source.close)
                        source = None
                    await self._sleep(None)
                    continue
                wait = self._due - loop.time()
                if wait > 0:
                    await self._sleep(wait)
                    continue
                self._due = self._next_due(loop.time())
                try:
                    opened = source
                    if opened is None or generation != cameras.generation:
                        if opened is not None:
                            source = None
                            await loop.run_in_executor(worker, opened.close)
                        generation = cameras.generation
                        device, opener = cameras.opener()
                        opened = await loop.run_in_executor(worker, opener)
                        source, label = opened, device.id
                    frame = await loop.run_in_executor(worker, self._capture, opened, label)
                except DeviceError as exc:
                    await self._failed(cameras, worker, source, exc)
                    source = None
                    continue
                if not (self._live and cameras.enabled):
                    continue  # switched off while the picture was being taken
                await self._send(send, frame)
        finally:
            self.running = False
            unsubscribe()
            if source is not None:
                worker.submit(source.close)
            # The worker finishes what it holds (a capture takes milliseconds), then exits:
            # no thread outlives the session.
            await asyncio.shield(loop.run_in_executor(None, worker.shutdown, True))

    def _next_due(self, now: float) -> float:
        """On time: one interval after the last tick. Late by more than an interval (a
        snapshot, the camera just switched on, a stalled loop): one interval from now,
        never a burst of frames to catch up."""
        interval = 1.0 / self._fps()
        return self._due + interval if now - self._due < interval else now + interval

    def _capture(self, source: FrameSource, label: str) -> VideoFrame:
        """In the worker thread: take a picture, scale it, encode it."""
        started = time.perf_counter()
        try:
            rgb = source.read()
            self._seq += 1
            frame = encode_frame(
                rgb,
                max_size=self._max_size(),
                quality=self._quality(),
                captured_at=started,
                seq=self._seq,
                source=label,
            )
        except DeviceError:
            raise
        except Exception as exc:  # OpenCV's own errors: a bad frame, not a bug of ours
            raise DeviceError(
                f"camera {source.label!r} failed: {type(exc).__name__}: {exc}", kind="videoinput"
            ) from exc
        self.stats.encode_s += time.perf_counter() - started
        return frame

    async def _send(self, send: Callable[[VideoFrame], Awaitable[None]], frame: VideoFrame) -> None:
        try:
            await send(frame)
        except RTWSError as exc:
            self.stats.frames_dropped += 1
            log.debug("video frame not sent: %s", exc)
            return
        self.stats.frames_sent += 1
        self.stats.bytes_sent += len(frame.jpeg)
        self.stats.last_frame = frame

    async def _failed(
        self,
        cameras: Cameras,
        worker: ThreadPoolExecutor,
        source: FrameSource | None,
        exc: DeviceError,
    ) -> None:
        """A camera failure: report it, switch the camera off, keep the session."""
        self.stats.device_errors += 1
        if source is not None:
            with contextlib.suppress(Exception):
                await asyncio.get_running_loop().run_in_executor(worker, source.close)
        cameras.enabled = False
        self._report(exc)

    async def _sleep(self, seconds: float | None) -> None:
        """Until woken (a switch, a selection, the session's state) or ``seconds`` pass."""
        if seconds is None:
            await self._wake.wait()
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
