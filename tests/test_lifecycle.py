"""Failure at every step of the lifecycle, reuse afterwards, and the camera API's honesty."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rtws import (
    AuthenticationError,
    DeviceError,
    FileMediaManager,
    TransportState,
    UnsupportedMessage,
)
from rtws.media.base import MediaFormat
from rtws.testing import EventLog
from tests.conftest import make_options, session_tasks
from tests.echo_provider import EchoServer, EchoTransport

S = TransportState


class FlakyMedia(FileMediaManager):
    """File media whose devices fail on demand."""

    def __init__(self) -> None:
        super().__init__(np.zeros(1600, np.int16), input_rate=16000, realtime=False)
        self.fail_initialize = False
        self.fail_start = False
        self.starts = 0

    async def initialize(self) -> None:
        if self.fail_initialize:
            raise DeviceError(
                "no microphone: the device 'USB mic' was unplugged", kind="audioinput"
            )

    async def _start_streams(self, fmt: MediaFormat) -> None:
        self.starts += 1
        if self.fail_start:
            raise DeviceError("the speaker refused 24000 Hz", kind="audiooutput")
        await super()._start_streams(fmt)


class TokenEcho(EchoTransport):
    """An echo provider that mints a token first, to exercise the authenticating states."""

    fail_auth = False

    def wants_authentication(self) -> bool:
        return True

    async def authenticate(self) -> None:
        if self.fail_auth:
            raise AuthenticationError("the token endpoint refused the credentials (HTTP 401)")


async def test_authenticating_states_and_failure(echo_server: EchoServer) -> None:
    t = TokenEcho(make_options(echo_server), FlakyMedia())
    log = EventLog(t)
    async with t:
        pass
    assert log.states()[:4] == ["authenticating", "authenticated", "connecting", "connected"]
    t.fail_auth = True
    with pytest.raises(AuthenticationError, match="401"):
        await t.connect()
    assert log.states()[-2:] == ["authenticating", "error"]
    assert not session_tasks()
    t.fail_auth = False
    await t.connect()  # reusable after the failure
    assert t.state is S.READY
    await t.disconnect()


async def test_init_devices_failure_then_recovery(echo_server: EchoServer) -> None:
    media = FlakyMedia()
    media.fail_initialize = True
    t = EchoTransport(make_options(echo_server), media)
    log = EventLog(t)
    errors: list[Any] = []
    t.on("error", errors.append)
    with pytest.raises(DeviceError, match="unplugged"):
        await t.init_devices()
    assert log.states() == ["initializing", "error"]
    assert errors[-1].data.fatal
    media.fail_initialize = False
    await t.init_devices()
    assert t.state is S.INITIALIZED
    await t.connect()
    await t.disconnect()
    assert log.states()[-4:] == ["connected", "ready", "disconnecting", "disconnected"]


async def test_media_start_failure_closes_the_socket(echo_server: EchoServer) -> None:
    media = FlakyMedia()
    media.fail_start = True
    t = EchoTransport(make_options(echo_server), media)
    log = EventLog(t)
    with pytest.raises(DeviceError, match="refused 24000 Hz"):
        await t.connect()
    assert log.states() == ["connecting", "error"]
    assert not media.is_running
    conn = echo_server.connections[0]
    await conn.wait_closed()  # the provider socket did not outlive the failure
    assert not session_tasks()
    media.fail_start = False
    async with t:
        assert t.state is S.READY
    assert media.starts == 2


async def test_cameras_are_honestly_absent(echo_server: EchoServer) -> None:
    t = EchoTransport(make_options(echo_server), FlakyMedia())
    assert await t.get_all_cams() == []
    with pytest.raises(DeviceError, match=r"no camera with id 'cam-1' \(cameras available: none\)"):
        await t.update_cam("cam-1")
    with pytest.raises(UnsupportedMessage, match=r"echo cannot .* 'video'"):
        t.enable_cam(True)  # the echo provider has no handle_user_video_frame
    t.enable_cam(False)
    assert t.is_cam_enabled is False


async def test_file_media_has_no_selectable_devices(echo_server: EchoServer) -> None:
    t = EchoTransport(make_options(echo_server), FlakyMedia())
    mics = await t.get_all_mics()
    assert [m.kind for m in mics] == ["audioinput"]
    with pytest.raises(DeviceError, match="no selectable microphones"):
        await t.update_mic("7")
