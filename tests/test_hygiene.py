"""After any failure, ``disconnect()`` gives back every task, thread, socket, file and stream.

Each scenario drives one session into a fault (or a clean run), then calls
``disconnect()`` and compares the process against a snapshot taken before
the transport existed: asyncio tasks, Python and native threads, file
descriptors (the websocket, the WAV being written, PortAudio's pipes) and
PortAudio streams. Every scenario runs with file media, and with the
virtual sound devices where the sandbox has them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rtws import FileMediaManager, MediaManager, ReconnectPolicy, RTWSError, TransportState, rtvi
from rtws.testing import EventLog, wait_for
from tests.echo_provider import EchoOptions, EchoServer, EchoTransport
from tests.faultproxy import FaultProxy
from tests.resources import ResourceSnapshot, assert_released

S = TransportState
FAST = ReconnectPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.02, jitter=0.0)
SLOW = ReconnectPolicy(max_attempts=3, initial_delay=30.0, max_delay=30.0, jitter=0.0)
KEY = "sk-test-0123456789"


class Rig:
    """One scenario's server, proxy, transport and event log."""

    def __init__(self, server: EchoServer, proxy: FaultProxy, media: MediaManager) -> None:
        self.server = server
        self.proxy = proxy
        self.media = media
        self.t = self.transport()
        self.log = EventLog(self.t)

    def transport(self, **options: Any) -> EchoTransport:
        base: dict[str, Any] = {
            "url": self.proxy.url,
            "api_key": KEY,
            "connect_timeout": 3.0,
            "reconnect": FAST,
            "ping_interval": 0.2,
            "ping_timeout": 0.4,
        }
        return EchoTransport(EchoOptions.model_validate(base | options), self.media)

    def reconfigure(self, **options: Any) -> None:
        self.t = self.transport(**options)
        self.log = EventLog(self.t)


Scenario = Callable[[Rig], Awaitable[None]]


async def clean_session(rig: Rig) -> None:
    await rig.t.connect()
    pcm = (np.sin(np.arange(4800) / 3) * 5000).astype(np.int16).tobytes()
    await rig.server.send(
        {"type": "audio", "item_id": "a", "audio": base64.b64encode(pcm).decode()}
    )
    await rig.server.send({"type": "audio.done", "item_id": "a"})
    await wait_for(lambda: rig.log.of_type("bot-started-speaking"), 2.0, "bot audio")


async def reconnected_after_a_reset(rig: Rig) -> None:
    await rig.t.connect()
    rig.proxy.drop()
    await wait_for(lambda: rig.log.of_type("reconnected"), 3.0, "a reconnect")


async def disconnect_during_backoff(rig: Rig) -> None:
    rig.reconfigure(reconnect=SLOW)
    await rig.t.connect()
    rig.proxy.drop()
    await wait_for(lambda: rig.log.of_type("reconnecting"), 2.0, "the backoff")


async def gave_up_retrying(rig: Rig) -> None:
    await rig.t.connect()
    rig.server.reject_status = 503
    rig.proxy.drop()
    await wait_for(lambda: rig.t.state is S.ERROR, 3.0, "the retries to give up")


async def fatal_server_error(rig: Rig) -> None:
    await rig.t.connect()
    await rig.server.send({"type": "error", "message": "boom", "fatal": True})
    await wait_for(lambda: rig.t.state is S.ERROR, 2.0, "the session to end")


async def refused_key(rig: Rig) -> None:
    rig.server.api_key = "sk-some-other-key-42"
    with pytest.raises(RTWSError):
        await rig.t.connect()


async def connect_timeout(rig: Rig) -> None:
    rig.server.hold_ready = True
    rig.reconfigure(connect_timeout=0.3)
    with pytest.raises(RTWSError):
        await rig.t.connect()


async def disconnect_while_connecting(rig: Rig) -> None:
    rig.server.hold_ready = True
    connecting = asyncio.create_task(rig.t.connect())
    await wait_for(lambda: rig.t.state is S.CONNECTING, 2.0, "connecting")
    await asyncio.sleep(0.05)
    await rig.t.disconnect()
    with contextlib.suppress(RTWSError):
        await connecting


async def cancelled_connect(rig: Rig) -> None:
    rig.server.hold_ready = True
    connecting = asyncio.create_task(rig.t.connect())
    await wait_for(lambda: rig.t.state is S.CONNECTING, 2.0, "connecting")
    connecting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await connecting


async def hung_server(rig: Rig) -> None:
    await rig.t.connect()
    rig.proxy.freeze()
    await wait_for(lambda: rig.log.of_type("reconnecting"), 4.0, "the hang to be noticed")


async def garbage_from_the_server(rig: Rig) -> None:
    await rig.t.connect()
    conn = rig.server.connections[-1]
    for frame in ("not json", b"\xff\x00", "[1, 2]", '{"type": "audio", "audio": 7}'):
        await conn.send(frame)
    await wait_for(lambda: rig.t.stats.malformed_messages == 4, 2.0, "the garbage")


async def busy_listeners(rig: Rig) -> None:
    """An ``events()`` reader and slow async handlers are still running at disconnect."""

    async def slow(_: rtvi.RTVIMessage) -> None:
        await asyncio.sleep(60)

    rig.t.on("user-audio-level", slow)
    seen: list[rtvi.RTVIMessage] = []

    async def read() -> None:
        async for msg in rig.t.events():
            seen.append(msg)

    reader = asyncio.create_task(read())
    await rig.t.connect()
    await wait_for(lambda: len(seen) > 3, 2.0, "events")
    await rig.t.disconnect()
    async with asyncio.timeout(1.0):
        await reader  # the iterator ends with the session


async def disconnect_bot_message(rig: Rig) -> None:
    await rig.t.connect()
    await rig.t.send_message(rtvi.DisconnectBot())
    await wait_for(lambda: rig.t.state is S.DISCONNECTED, 3.0, "the bot to leave")


SCENARIOS: dict[str, Scenario] = {
    f.__name__: f
    for f in (
        clean_session,
        reconnected_after_a_reset,
        disconnect_during_backoff,
        gave_up_retrying,
        fatal_server_error,
        refused_key,
        connect_timeout,
        disconnect_while_connecting,
        cancelled_connect,
        hung_server,
        garbage_from_the_server,
        busy_listeners,
        disconnect_bot_message,
    )
}


def file_media(tmp_path: Path) -> MediaManager:
    speech = (np.sin(np.arange(16000) / 5) * 5000).astype(np.int16)
    return FileMediaManager(
        speech, input_rate=16000, output=tmp_path / "bot.wav", realtime=True, tail_silence_ms=0
    )


def device_media(tmp_path: Path) -> MediaManager:
    from rtws.media.sounddevice import SoundDeviceMediaManager

    return SoundDeviceMediaManager("virtual_mic", "virtual_speaker")


MEDIA = [
    pytest.param(file_media, id="file"),
    pytest.param(device_media, id="devices", marks=pytest.mark.devices),
]


@pytest.mark.parametrize("make_media", MEDIA)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_disconnect_after_the_scenario_releases_everything(
    echo_server: EchoServer,
    tmp_path: Path,
    scenario: str,
    make_media: Callable[[Path], MediaManager],
) -> None:
    async with FaultProxy(echo_server.url) as proxy:
        before = ResourceSnapshot.take()
        rig = Rig(echo_server, proxy, make_media(tmp_path))
        await SCENARIOS[scenario](rig)
        async with asyncio.timeout(4.0):
            await rig.t.disconnect()
        assert rig.t.state is S.DISCONNECTED
        assert not rig.media.is_running
        proxy.thaw()  # a frozen proxy would hold its own sockets, not the client's
        await rig.t.disconnect()  # idempotent
        await assert_released(before)


FORGOTTEN_SESSION = """
import asyncio, gc, time
from rtws.media.base import MediaFormat
from rtws.media.sounddevice import SoundDeviceMediaManager

async def forget() -> None:
    media = SoundDeviceMediaManager("virtual_mic", "virtual_speaker")
    await media.start(MediaFormat(16000, 24000))
    await asyncio.sleep(0.2)

for _ in range(3):
    asyncio.run(forget())  # the user's loop ends; nobody called disconnect()
    gc.collect()
    time.sleep(0.3)
print("alive")
"""


@pytest.mark.devices
def test_a_session_nobody_disconnected_does_not_crash_the_process() -> None:
    """Streams must outlive a forgotten manager: a crash loses the user's whole program."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", FORGOTTEN_SESSION],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0 and "alive" in done.stdout, done.stderr[-2000:]


def test_importing_the_providers_leaves_cli_and_http_libraries_unloaded() -> None:
    """A session process keeps only what sessions use: every module's objects are
    walked by each full GC pass, which is a stall of the event loop."""
    import subprocess
    import sys

    check = (
        "import sys, rtws, rtws_openai, rtws_gemini; "
        "print(sorted(m for m in ('httpx', 'click', 'rich', 'pygments', 'sounddevice') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
