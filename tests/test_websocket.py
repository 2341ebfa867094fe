"""StreamingConnection's two shortcuts, against a real websockets server on 127.0.0.1.

The shortcuts replace websockets' generic send and receive paths for the
common case; these tests pin the cases where they must behave exactly like
the generic ones: fragmented messages, a close after messages, a reader that
falls behind, a full write buffer, and what the protocol refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, ConnectionClosedError
from websockets.frames import CloseCode, Frame, Opcode

from rtws.websocket import (
    FAST_PATHS,
    MAX_FRAGMENTS,
    WEBSOCKETS_VERSION,
    StreamingConnection,
    StreamingServerConnection,
    text_frame,
)

Handler = Callable[[ServerConnection], Awaitable[None]]


class PublicPathConnection(StreamingConnection):
    """The public-API path, which every websockets release other than the verified ones takes."""

    fast_paths = False


#: Both paths where this websockets release has the fast one; the public one everywhere.
PATHS = [
    pytest.param(
        StreamingConnection,
        id="fast",
        marks=pytest.mark.skipif(
            not FAST_PATHS, reason=f"websockets {WEBSOCKETS_VERSION} takes the public path"
        ),
    ),
    pytest.param(PublicPathConnection, id="public"),
]
needs_fast_paths = pytest.mark.skipif(
    not FAST_PATHS, reason=f"no fast paths on websockets {WEBSOCKETS_VERSION}"
)


@pytest.fixture(params=PATHS)
def kind(request: pytest.FixtureRequest) -> type[StreamingConnection]:
    connection_class: type[StreamingConnection] = request.param
    return connection_class


@contextlib.asynccontextmanager
async def open_pair(
    handler: Handler,
    compression: str | None = None,
    kind: type[StreamingConnection] = StreamingConnection,
) -> AsyncIterator[StreamingConnection]:
    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws = await connect(  # no compression unless asked, as rtws connects by default
            f"ws://127.0.0.1:{port}", create_connection=kind, compression=compression
        )
        assert isinstance(ws, StreamingConnection)
        try:
            yield ws
        finally:
            await ws.close()


async def read(ws: StreamingConnection, count: int) -> list[str | bytes]:
    got: list[str | bytes] = []
    async with asyncio.timeout(5):
        while len(got) < count:
            got += await ws.next_messages()
    return got


def test_the_fast_paths_are_on_exactly_where_expected() -> None:
    """The locked (newest) websockets takes the fast paths; scripts/compat.sh says per job."""
    expected = os.environ.get("RTWS_EXPECT_FAST_PATHS", "1") == "1"
    assert expected is FAST_PATHS, f"websockets {WEBSOCKETS_VERSION}: fast paths {FAST_PATHS}"


async def test_fragmented_and_whole_messages_arrive_whole_and_in_order(
    kind: type[StreamingConnection],
) -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send("one")
        await ws.send(["tw", "o"])  # a fragmented text message
        await ws.send(b"\x00\x01")
        await ws.send([b"\x02", b"\x03", b"\x04"])  # a fragmented binary message
        await ws.ping()  # control frames between messages are websockets' business
        await ws.send("é" * 3)
        await ws.wait_closed()

    async with open_pair(handler, kind=kind) as ws:
        assert await read(ws, 5) == ["one", "two", b"\x00\x01", b"\x02\x03\x04", "ééé"]


async def test_messages_before_a_close_are_read_then_the_close_raises(
    kind: type[StreamingConnection],
) -> None:
    async def handler(ws: ServerConnection) -> None:
        for i in range(3):
            await ws.send(f"m{i}")
        await ws.close(CloseCode.POLICY_VIOLATION, "bye")

    async with open_pair(handler, kind=kind) as ws:
        await ws.wait_closed()
        batch = await ws.next_messages()  # the fast path: all that arrived, in one wake-up
        assert len(batch) == (3 if kind.fast_paths else 1)
        assert batch + await read(ws, 3 - len(batch)) == ["m0", "m1", "m2"]
        with pytest.raises(ConnectionClosed) as caught:
            await ws.next_messages()
        assert caught.value.rcvd is not None and caught.value.rcvd.code == 1008


async def test_a_reader_that_falls_behind_pauses_reading_and_loses_nothing(
    kind: type[StreamingConnection],
) -> None:
    count = 200

    async def handler(ws: ServerConnection) -> None:
        for i in range(count):
            await ws.send(f"m{i}")
        await ws.wait_closed()

    async with open_pair(handler, kind=kind) as ws:
        await asyncio.sleep(0.3)  # nobody reads: the inbox fills to its bound
        assert not ws.transport.is_reading()
        assert await read(ws, count) == [f"m{i}" for i in range(count)]
        assert ws.transport.is_reading()


@needs_fast_paths
async def test_send_now_hands_a_full_buffer_to_send_and_order_is_kept() -> None:
    received: list[str] = []
    stalled = asyncio.Event()
    release = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        ws.transport.pause_reading()  # a server that stops reading
        stalled.set()
        await release.wait()
        ws.transport.resume_reading()
        async for message in ws:
            received.append(str(message))
            if message == "last":
                return

    async with open_pair(handler) as ws:
        await stalled.wait()
        chunk, sent, direct = "x" * 4000, 0, 0
        while ws.send_now(f"{sent}:{chunk}"):  # until the kernel's buffers are full
            sent += 1
            direct += 1
        assert ws.transport.get_write_buffer_size() > 0
        pending = asyncio.ensure_future(ws.send(f"{sent}:{chunk}"))  # the generic path
        sent += 1
        assert not ws.send_now("anything")  # still refused while the buffer holds data
        release.set()
        await pending
        await ws.send("last")
        await ws.wait_closed()
        assert direct > 10
        assert [m.split(":")[0] for m in received[:-1]] == [str(i) for i in range(sent)]
        assert received[-1] == "last"


async def test_send_now_refuses_a_closed_connection(kind: type[StreamingConnection]) -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with open_pair(handler, kind=kind) as ws:
        assert ws.send_now("hello") is kind.fast_paths  # the public path always says send()
        await ws.close()
        assert not ws.send_now("too late")


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([b'{"t": "\xff"}'], CloseCode.INVALID_DATA),
        ([b"x"] * (MAX_FRAGMENTS + 2), CloseCode.MESSAGE_TOO_BIG),
    ],
    ids=["invalid-utf8", "too-many-fragments"],
)
async def test_what_the_protocol_refuses_fails_the_connection(
    frames: list[bytes], code: CloseCode, kind: type[StreamingConnection]
) -> None:
    if len(frames) > 1 and not kind.fast_paths and WEBSOCKETS_VERSION < (17, 4):
        pytest.skip("websockets before 17.4 bounds no fragments on its own (recv())")

    async def handler(ws: ServerConnection) -> None:
        await ws.send("before")
        for i, data in enumerate(frames):
            fin = i == len(frames) - 1
            if i == 0:
                ws.protocol.send_text(data, fin=fin)
            else:
                ws.protocol.send_continuation(data, fin=fin)
        ws.send_data()
        await ws.wait_closed()

    async with open_pair(handler, kind=kind) as ws:
        assert await ws.next_messages() == ["before"]
        # The public path meets the bad frame in recv(), so read rather than wait.
        with pytest.raises(ConnectionClosedError) as caught:
            async with asyncio.timeout(5):
                await ws.next_messages()
        assert caught.value.sent is not None and caught.value.sent.code == code


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 70001])
@pytest.mark.parametrize("masked", [True, False], ids=["client", "server"])
def test_text_frame_is_byte_for_byte_what_websockets_writes(
    size: int, masked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = bytes(i % 251 for i in range(size))
    mask = b"\x9a\x01\xff\x37"
    monkeypatch.setattr("websockets.frames.secrets.token_bytes", lambda n: mask[:n])
    theirs = Frame(Opcode.TEXT, payload).serialize(mask=masked)
    assert text_frame(payload, mask if masked else None) == theirs


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_send_now_frames_reach_a_strict_server_intact(
    compression: str | None, kind: type[StreamingConnection]
) -> None:
    """A websockets server fails a connection on an unmasked client frame (1002): every
    message must arrive, whatever its length, across more frames than one mask pool holds."""
    texts = [f"{i}:" + "é" * (i % 7) * 40 for i in range(1500)] + ["x" * 70000, "last"]
    received: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            received.append(str(message))
            if message == "last":
                return

    async with open_pair(handler, compression, kind) as ws:
        written: list[bytes] = []
        write = ws.transport.write
        ws.transport.write = lambda data: (written.append(bytes(data)), write(data))[1]  # type: ignore[method-assign]
        for text in texts:
            if not ws.send_now(text):
                await ws.send(text)
        await ws.wait_closed()
    assert received == texts
    if compression is None:  # a fresh mask on each frame, after the 2, 4 or 10 header bytes
        starts = {126: 4, 127: 10}
        masks = [f[starts.get(f[1] & 0x7F, 2) :][:4] for f in written if f[0] == 0x81]
        assert len(masks) == len(texts) and all(f[1] & 0x80 for f in written)
        assert len(set(masks)) > 0.99 * len(masks)


@needs_fast_paths
async def test_the_server_side_writes_unmasked_frames() -> None:
    """The fake servers' connections take the same shortcut, unmasked (RFC 6455 §5.1)."""
    got: list[str | bytes] = []

    async def handler(ws: ServerConnection) -> None:
        assert isinstance(ws, StreamingServerConnection)
        for text in ("short", "y" * 300, "last"):
            assert ws.send_now(text)
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, create_connection=StreamingServerConnection) as srv:
        port = srv.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as plain:
            async with asyncio.timeout(5):
                while len(got) < 3:
                    got.append(await plain.recv())
    assert got == ["short", "y" * 300, "last"]


def test_a_forked_child_draws_masks_of_its_own() -> None:
    """Masks come from a per-process pool: a child must not send its parent's next masks."""
    from rtws.websocket import _MASKS  # pyright: ignore[reportPrivateUsage]

    _MASKS.next()  # the parent has a pool with masks left in it
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next masks, then leave without cleanup
        os.write(write, b"".join(_MASKS.next() for _ in range(4)))
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    child = os.read(read, 16)
    os.close(read)
    assert status == 0 and len(child) == 16
    assert child != b"".join(_MASKS.next() for _ in range(4))
