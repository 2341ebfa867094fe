"""Running one voice session from the command line, and ending it cleanly.

A session ends when the user presses ``q`` or Ctrl-C, when ``--duration``
runs out, when a file input has been answered, or when the transport fails.
Whatever the reason, the transport is disconnected (devices closed), the
terminal is restored and the recording is finished before returning.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.live import Live

from .. import rtvi
from ..errors import RTWSError
from ..media.base import AudioDevice
from ..media.file import FileMediaManager
from ..redact import get_logger
from ..transport import RealTimeWebsocketTransport
from .camera import camera_status
from .devices import next_switch
from .errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_TERMINATED, CLIError
from .keys import KeyReader, keys_supported
from .lines import Line
from .record import StereoRecorder
from .turns import TurnTracker
from .view import SessionView

log = get_logger("rtws.cli")

#: How long a file session waits for the bot to answer once the input has been sent.
REPLY_TIMEOUT_S = 60.0
#: The bot must have been quiet this long before a file session counts as answered.
SETTLE_S = 1.0
#: Live view frames per second.
REDRAW_HZ = 10
#: How long to wait for a user transcript that lags behind the reply.
TRANSCRIPT_GRACE_S = 2.0


@dataclass
class SessionSettings:
    duration: float | None = None
    #: Live view and single-key commands (stdin and stdout are terminals).
    interactive: bool = False
    recorder: StereoRecorder | None = None
    #: File input without --duration: stop once the input has been answered.
    finish_after_reply: bool = False
    #: --cam: switch the (already selected) camera on once connected.
    camera: bool = False


class Session:
    """One CLI voice session over ``transport`` (already configured with its media)."""

    def __init__(
        self,
        transport: RealTimeWebsocketTransport,
        console: Console,
        settings: SessionSettings,
    ) -> None:
        self.transport = transport
        self.console = console
        self.settings = settings
        self.view = SessionView(
            transport.provider_name,
            keys_help=settings.interactive,
            on_line=None if settings.interactive else self._print_line,
        )
        self.turns = TurnTracker()
        self.exit_code = 0
        self._stop = asyncio.Event()
        self._failure: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._interrupts = 0
        self._connected = False
        #: Why the session ended: "quit", "interrupted", "duration", "answered", "closed", ...
        self.ended_by: str | None = None

    # ------------------------------------------------------------------ run
    async def run(self) -> int:
        """Connect, run until something ends the session, clean up; the exit code."""
        transport = self.transport
        unsubscribe = [
            transport.on("*", self.view.handle),
            transport.on("*", self.turns.handle),
            transport.on("transport-state-changed", self._on_state),
            transport.on("llm-function-call-in-progress", self._answer_call),
        ]
        try:
            with self._signals():
                async with self._interactive():
                    if await self._until_stopped(transport.connect()):
                        self._connected = True
                        await self._show_devices()
                        self._start_camera()
                        await self._until_stopped(self._session_end())
        finally:
            self.stop(self.exit_code, "ended")  # the disconnect below is ours, not news
            await transport.disconnect()
            if self.settings.camera and self._connected:
                self.view.info(f"camera: {camera_status(transport)}")
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for off in unsubscribe:
                off()
            if self.settings.recorder is not None:
                self.settings.recorder.close()
        if self._failure is not None:
            raise CLIError(self._failure, code=EXIT_ERROR)
        return self.exit_code

    def stop(self, exit_code: int = 0, reason: str = "stopped") -> None:
        """End the session (idempotent); the first call decides the exit code and reason."""
        if not self._stop.is_set():
            self.exit_code = exit_code
            self.ended_by = reason
            self._stop.set()

    async def _until_stopped(self, work: Awaitable[Any]) -> bool:
        """Run ``work`` unless the session is stopped first; True if it finished."""
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not task.done():
                task.cancel()
            await asyncio.gather(stopper, task, return_exceptions=True)
        if task.cancelled():
            return False
        task.result()  # re-raise the failure, if any
        return True

    async def _session_end(self) -> None:
        """Returns when the session is over by itself: duration, answered input."""
        waits: list[Awaitable[None]] = []
        if self.settings.duration is not None:
            waits.append(self._after(self.settings.duration))
        media = self.transport.media
        if self.settings.finish_after_reply and isinstance(media, FileMediaManager):
            waits.append(self._answered(media))
        if self.settings.recorder is not None:
            self._spawn(self._drain_recorder(self.settings.recorder))
        if not waits:
            await self._stop.wait()
            return
        tasks = [asyncio.ensure_future(w) for w in waits]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()

    async def _after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.stop(0, "duration")

    async def _answered(self, media: FileMediaManager) -> None:
        """The whole input was sent and answered, and the bot has been quiet ``SETTLE_S``."""
        await media.wait_input_done()
        turns = self.turns
        try:
            async with asyncio.timeout(REPLY_TIMEOUT_S):
                while not (turns.answered and turns.quiet_for() >= SETTLE_S):
                    await turns.wait_change(
                        SETTLE_S - turns.quiet_for() if turns.answered else None
                    )
        except TimeoutError:
            raise CLIError(
                f"no answer from the bot within {REPLY_TIMEOUT_S:.0f} s after the input ended",
                hint="does the input hold speech? --duration S runs for a fixed time instead",
            ) from None
        # A user transcript can trail the reply (it comes from a separate ASR model).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(TRANSCRIPT_GRACE_S):
                while turns.missing_transcripts:
                    await turns.wait_change()
        self.stop(0, "answered")

    # ------------------------------------------------------------------ events
    def _on_state(self, msg: rtvi.RTVIMessage) -> None:
        if not isinstance(msg, rtvi.TransportStateChanged) or not self._connected:
            return  # while connecting, a failure is raised by connect() itself
        if msg.data.state == "error" and self.transport.state.value == "error":
            self._failure = self.view.fatal_error or "the session failed"
            self.stop(EXIT_ERROR, "failed")
        elif msg.data.state == "disconnected" and not self._stop.is_set():
            self.view.info("the session was closed")
            self.stop(0, "closed")

    async def _answer_call(self, msg: rtvi.RTVIMessage) -> None:
        """The CLI runs no user code: tell the model the function is unavailable, so it goes on."""
        if not isinstance(msg, rtvi.LLMFunctionCallInProgress):
            return
        name = msg.data.function_name or ""
        result = {"error": f"the function {name!r} is not available in the rtws command line"}
        try:
            await self.transport.send_message(
                rtvi.LLMFunctionCallResult(
                    data=rtvi.LLMFunctionCallResultData(
                        function_name=name,
                        tool_call_id=msg.data.tool_call_id,
                        arguments=msg.data.arguments or {},
                        result=result,
                    )
                )
            )
        except RTWSError as exc:
            self.view.error(f"could not answer the function call: {exc}")

    def _print_line(self, line: Line) -> None:
        self.console.print(line.plain(), markup=False, highlight=False, soft_wrap=True)

    async def _show_devices(self) -> None:
        transport = self.transport
        mic = transport.selected_mic or _default(await transport.get_all_mics())
        speaker = transport.selected_speaker or _default(await transport.get_all_speakers())
        self.view.set_devices(mic.name if mic else None, speaker.name if speaker else None)

    def _start_camera(self) -> None:
        if not self.settings.camera:
            return
        transport = self.transport
        self.view.camera_status = lambda: camera_status(transport)
        try:
            transport.enable_cam(True)
        except RTWSError as exc:
            self.view.error(f"camera: {exc}")

    # ------------------------------------------------------------------ keys
    def on_key(self, char: str) -> None:
        """q quit, m mute/unmute, s next speaker, i next microphone."""
        key = char.lower()
        if key == "q":
            self.stop(0, "quit")
        elif key == "m":
            enabled = not self.transport.is_mic_enabled
            self.transport.enable_mic(enabled)
            self.view.set_muted(not enabled)
        elif key == "s":
            self._spawn(self._cycle(speaker=True))
        elif key == "i":
            self._spawn(self._cycle(speaker=False))
        elif key == "c" and self.settings.camera:
            on = not self.transport.is_cam_enabled
            try:
                self.transport.enable_cam(on)
            except RTWSError as exc:
                self.view.error(f"camera: {exc}")
            else:
                self.view.info("camera on" if on else "camera off")

    async def _cycle(self, *, speaker: bool) -> None:
        transport = self.transport
        kind = "speaker" if speaker else "microphone"
        try:
            # Monitors, aliases of the default and a mic's own feed are never meant.
            mics, speakers = await transport.get_all_mics(), await transport.get_all_speakers()
            everything = [*mics, *speakers]
            if speaker:
                choice = next_switch(speakers, transport.selected_speaker, everything)
            else:
                choice = next_switch(mics, transport.selected_mic, everything)
            if choice is None:
                self.view.info(f"no other {kind} to switch to")
            elif speaker:
                await transport.update_speaker(choice.id)
            else:
                await transport.update_mic(choice.id)
        except RTWSError as exc:
            self.view.error(f"could not switch the {kind}: {exc}")

    # ------------------------------------------------------------------ plumbing
    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain_recorder(self, recorder: StereoRecorder) -> None:
        while True:
            await asyncio.sleep(0.1)
            recorder.drain()

    @contextlib.asynccontextmanager
    async def _interactive(self) -> AsyncGenerator[None, None]:
        """The live view and the keyboard, when both ends are a terminal.

        The view is redrawn from the event loop (rich's own refresh thread would
        read the view while the loop changes it).
        """
        if not self.settings.interactive:
            yield
            return
        live = Live(self.view, console=self.console, auto_refresh=False, transient=False)
        with live, KeyReader(self.on_key):
            redraw = asyncio.ensure_future(self._redraw(live))
            try:
                yield
            finally:
                redraw.cancel()
                await asyncio.gather(redraw, return_exceptions=True)
                live.refresh()

    async def _redraw(self, live: Live) -> None:
        while True:
            self.view.echo = self.transport.media.stats.echo
            live.refresh()
            await asyncio.sleep(1 / REDRAW_HZ)

    @contextlib.contextmanager
    def _signals(self) -> Generator[None, None, None]:
        """Ctrl-C (and SIGTERM) end the session cleanly; a second Ctrl-C stops waiting for it."""
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        installed: list[signal.Signals] = []

        def interrupted(sig: signal.Signals) -> Callable[[], None]:
            def handler() -> None:
                self._interrupts += 1
                if self._interrupts > 1 and main is not None:
                    main.cancel()
                if sig is signal.SIGINT:
                    self.stop(EXIT_INTERRUPTED, "interrupted")
                else:
                    self.stop(EXIT_TERMINATED, "terminated")

            return handler

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, interrupted(sig))
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / Windows
                pass
        try:
            yield
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)


def _default(devices: list[AudioDevice]) -> AudioDevice | None:
    return next((d for d in devices if d.is_default), devices[0] if devices else None)


def live_terminal(plain: bool, console: Console) -> bool:
    """Live view and keys: wanted (no ``--plain``) and possible (stdout and stdin are TTYs)."""
    return not plain and console.is_terminal and keys_supported()
