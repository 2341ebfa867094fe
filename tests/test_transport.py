"""The abstract transport through a real websocket: lifecycle, hooks, events, failures."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from rtws import (
    AuthenticationError,
    ConnectionFailed,
    ConnectTimeout,
    FileMediaManager,
    InvalidStateError,
    RateLimited,
    RealTimeWebsocketTransport,
    TransportState,
    UnsupportedMessage,
    rtvi,
)
from rtws.testing import EventLog
from tests.conftest import make_options, session_tasks
from tests.echo_provider import EchoServer, EchoTransport

S = TransportState


def silent_media(**kw: Any) -> FileMediaManager:
    return FileMediaManager(np.zeros(1600, np.int16), input_rate=16000, realtime=False, **kw)


async def test_connect_without_init_devices_skips_initializing(echo_server: EchoServer) -> None:
    t = EchoTransport(make_options(echo_server), silent_media())
    log = EventLog(t)
    await t.connect()
    assert t.state is S.READY
    await t.disconnect()
    assert log.states() == ["connecting", "connected", "ready", "disconnecting", "disconnected"]
    assert t.hook_calls == [
        "initialize_llm",
        "attach_llm_listeners",
        "connect_llm",
        "send_ready_message",
        "disconnect_llm",
    ]


async def test_init_devices_then_connect(echo_server: EchoServer) -> None:
    t = EchoTransport(make_options(echo_server), silent_media())
    log = EventLog(t)
    mics: list[Any] = []
    t.on("available-mics-updated", mics.append)
    await t.init_devices()
    assert t.state is S.INITIALIZED
    assert mics and mics[0].data.devices[0]["kind"] == "audioinput"
    async with t:
        assert t.state is S.READY
    assert log.states() == [
        "initializing",
        "initialized",
        "connecting",
        "connected",
        "ready",
        "disconnecting",
        "disconnected",
    ]


async def test_reusable_after_disconnect_and_hooks_initialised_once(
    echo_server: EchoServer,
) -> None:
    t = EchoTransport(make_options(echo_server), silent_media())
    for _ in range(3):
        await t.connect()
        assert t.state is S.READY
        await t.disconnect()
        assert t.state is S.DISCONNECTED
    assert t.hook_calls.count("initialize_llm") == 1
    assert t.hook_calls.count("attach_llm_listeners") == 1
    assert t.hook_calls.count("connect_llm") == 3
    assert len(echo_server.connections) == 3
    assert not session_tasks()


async def test_bad_key_is_authentication_error_then_reuse_after_error(
    echo_server: EchoServer,
) -> None:
    t = EchoTransport(make_options(echo_server, api_key="sk-wrong-key-000000"), silent_media())
    errors: list[Any] = []
    t.on("error", errors.append)
    log = EventLog(t)
    with pytest.raises(AuthenticationError) as info:
        await t.connect()
    assert "401" in str(info.value)
    assert "sk-wrong-key" not in str(info.value)
    assert t.state is S.ERROR
    assert log.states() == ["connecting", "error"]
    assert errors and errors[-1].data.fatal is True
    assert echo_server.handshakes == 1  # never retried
    assert not session_tasks()
    # Fix the key and connect again on the same object.
    t.options.api_key = make_options(echo_server).api_key
    await t.connect()
    assert t.state is S.READY
    await t.disconnect()
    assert log.states()[-5:] == [
        "connecting", "connected", "ready", "disconnecting", "disconnected"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("status", "error", "retry_after"),
    [(429, RateLimited, "7"), (500, ConnectionFailed, None), (404, ConnectionFailed, None)],
)
async def test_handshake_statuses(
    echo_server: EchoServer, status: int, error: type[Exception], retry_after: str | None
) -> None:
    echo_server.reject_status = status
    echo_server.retry_after = retry_after
    t = EchoTransport(make_options(echo_server), silent_media())
    with pytest.raises(error) as info:
        await t.connect()
    assert str(status) in str(info.value)
    if isinstance(info.value, RateLimited):
        assert info.value.retry_after == 7.0
    assert (status >= 500 or status == 429) == info.value.retryable  # type: ignore[attr-defined]
    assert t.state is S.ERROR
    await t.disconnect()
    assert t.state is S.DISCONNECTED


async def test_unreachable_server_is_connection_failed() -> None:
    t = EchoTransport(make_options_for("ws://127.0.0.1:9/nothing"), silent_media())
    with pytest.raises(ConnectionFailed, match="cannot reach"):
        await t.connect()
    assert t.state is S.ERROR


def make_options_for(url: str, **kw: Any) -> Any:
    from tests.echo_provider import EchoOptions

    return EchoOptions.model_validate({"url": url, "connect_timeout": 2.0, **kw})


async def test_connect_timeout_when_server_never_answers(echo_server: EchoServer) -> None:
    echo_server.hold_ready = True
    t = EchoTransport(make_options(echo_server, connect_timeout=0.5), silent_media())
    log = EventLog(t)
    with pytest.raises(ConnectTimeout, match="connect_timeout"):
        await t.connect()
    assert log.states() == ["connecting", "error"]
    assert not session_tasks()
    assert not t.media.is_running


async def test_disconnect_while_connecting(echo_server: EchoServer) -> None:
    echo_server.hold_ready = True
    t = EchoTransport(make_options(echo_server), silent_media())
    log = EventLog(t)
    connecting = asyncio.create_task(t.connect())
    while t.state is not S.CONNECTING:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    await t.disconnect()
    with pytest.raises(ConnectionFailed, match="stopped by disconnect"):
        await connecting
    assert t.state is S.DISCONNECTED
    assert log.states() == ["connecting", "disconnecting", "disconnected"]
    assert not session_tasks()


async def test_cancelling_connect_cleans_up(echo_server: EchoServer) -> None:
    echo_server.hold_ready = True
    t = EchoTransport(make_options(echo_server), silent_media())
    connecting = asyncio.create_task(t.connect())
    await asyncio.sleep(0.2)
    connecting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await connecting
    assert t.state is S.DISCONNECTED
    assert not session_tasks()


async def test_disconnect_is_idempotent_from_any_state(echo_server: EchoServer) -> None:
    t = EchoTransport(make_options(echo_server), silent_media())
    await t.disconnect()  # never connected
    await t.init_devices()
    await t.disconnect()
    assert t.state is S.DISCONNECTED
    await t.connect()
    await asyncio.gather(t.disconnect(), t.disconnect(), t.disconnect())
    assert t.state is S.DISCONNECTED
    await t.disconnect()


async def test_connect_twice_is_a_noop_when_ready_and_rejected_while_busy(
    echo_server: EchoServer,
) -> None:
    t = EchoTransport(make_options(echo_server), silent_media())
    async with t:
        await t.connect()
        assert len(echo_server.connections) == 1
    echo_server.hold_ready = True
    task = asyncio.create_task(t.connect())
    await asyncio.sleep(0.1)
    with pytest.raises(InvalidStateError):
        await t.connect()
    await t.disconnect()
    with pytest.raises(ConnectionFailed):
        await task


async def test_failure_in_each_hook_ends_in_error_and_cleans_up(echo_server: EchoServer) -> None:
    for hook in ("initialize_llm", "connect_llm", "send_ready_message"):

        class Broken(EchoTransport):
            pass

        original = getattr(EchoTransport, hook)

        async def boom(
            self: EchoTransport, *a: Any, _orig: Any = original, _hook: str = hook
        ) -> None:
            await _orig(self, *a)
            raise RuntimeError(f"{_hook} exploded")

        setattr(Broken, hook, boom)
        t = Broken(make_options(echo_server), silent_media())
        errors: list[Any] = []
        t.on("error", errors.append)
        with pytest.raises(RuntimeError, match=f"{hook} exploded"):
            await t.connect()
        assert t.state is S.ERROR, hook
        assert errors[-1].data.fatal and "exploded" in errors[-1].data.error
        assert not session_tasks(), hook
        assert not t.media.is_running
        await t.disconnect()


def test_missing_hook_fails_at_instantiation_naming_it() -> None:
    class Half(RealTimeWebsocketTransport):
        async def initialize_llm(self) -> None: ...
        async def attach_llm_listeners(self) -> None: ...
        async def connect_llm(self) -> None: ...
        async def disconnect_llm(self) -> None: ...
        async def send_ready_message(self) -> None: ...

    with pytest.raises(TypeError, match="handle_user_audio_stream, send_message"):
        Half(make_options_for("ws://x"))  # type: ignore[abstract]


async def test_event_api_handlers_decorator_iterator_and_failing_handlers(
    echo_server: EchoServer,
) -> None:
    t = EchoTransport(make_options(echo_server), silent_media())
    seen: list[str] = []
    async_seen: list[str] = []

    def bad(msg: rtvi.RTVIMessage) -> None:
        raise ValueError("handler bug")

    async def bad_async(msg: rtvi.RTVIMessage) -> None:
        raise ValueError("async handler bug")

    @t.event_handler("bot-ready")
    async def on_ready(msg: rtvi.RTVIMessage) -> None:
        async_seen.append(msg.type)

    t.on("bot-ready", bad)
    t.on("bot-ready", bad_async)
    unsubscribe = t.on("*", lambda m: seen.append(m.type))
    collected: list[str] = []

    async def collect() -> None:
        async for msg in t.events(types=["bot-ready", "transport-state-changed"]):
            collected.append(msg.type)

    collector = asyncio.create_task(collect())
    await asyncio.sleep(0)
    await t.connect()
    assert t.state is S.READY  # the failing handlers did not hurt the session
    unsubscribe()
    await t.disconnect()
    await asyncio.wait_for(collector, 2)
    assert "bot-ready" in seen and "transport-state-changed" in seen
    assert "disconnected" not in seen  # unsubscribed before
    assert async_seen == ["bot-ready"]
    assert collected.count("bot-ready") == 1
    assert collected.count("transport-state-changed") == 5


async def test_send_message_translation_and_unsupported(echo_server: EchoServer) -> None:
    t = EchoTransport(make_options(echo_server), silent_media())
    texts: list[Any] = []
    t.on("bot-llm-text", texts.append)
    async with t:
        await t.send_message(rtvi.SendText(data=rtvi.SendTextData(content="hi there")))
        for _ in range(100):
            if texts:
                break
            await asyncio.sleep(0.01)
        assert texts[0].data.text == "you said hi there"
        with pytest.raises(UnsupportedMessage, match=r"client-message.*echo|echo.*client-message"):
            await t.send_message(rtvi.ClientMessage(data=rtvi.ClientMessageData(t="x", d={})))
        await t.send_message(rtvi.DisconnectBot())
        for _ in range(100):
            if t.state is S.DISCONNECTED:
                break
            await asyncio.sleep(0.01)
    assert t.state is S.DISCONNECTED


async def test_repr_and_errors_never_show_the_key(echo_server: EchoServer) -> None:
    t = EchoTransport(make_options(echo_server), silent_media())
    assert "sk-test-0123456789" not in repr(t)
    assert "sk-test-0123456789" not in repr(t.options)
    assert "sk-test-0123456789" not in str(t.options.model_dump())


async def test_events_nobody_listens_to_are_not_built() -> None:
    from rtws.events import EventBus

    bus = EventBus()
    changes: list[bool] = []  # each change as seen by the observer: is anyone on user levels?
    bus.on_listeners_changed = lambda: changes.append(bus.has_listeners("user-audio-level"))
    assert not bus.has_listeners("user-audio-level")
    unsubscribe = bus.on("user-audio-level", lambda m: None)
    assert bus.has_listeners("user-audio-level") and not bus.has_listeners("bot-audio-level")
    unsubscribe()
    unsubscribe()  # a second call removes nothing and tells nobody
    assert not bus.has_listeners("user-audio-level")
    assert changes == [True, False]
    iterator = bus.events(types=["bot-audio-level"])
    task = asyncio.ensure_future(iterator.__anext__())
    await asyncio.sleep(0)
    assert bus.has_listeners("bot-audio-level") and not bus.has_listeners("user-audio-level")
    assert len(changes) == 3
    bus.on("*", lambda m: None)
    assert bus.has_listeners("user-audio-level")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await iterator.aclose()
    assert len(changes) == 5  # the iterator's end is a change too
