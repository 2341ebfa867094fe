"""Hostile local servers and the probes that check what a hostile server could reach.

A voice session talks to a server it does not control. These helpers play
that server on 127.0.0.1 — over real sockets, like every test here — and say
what the server tried to smuggle through: frames nested a thousand deep,
refusal bodies that cannot be parsed, a key echoed where a traceback walker
would find it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

#: Deep enough that Python's decoder raises RecursionError (its limit is ~1,000).
DEEP = 5000


def deep_array(depth: int = DEEP) -> str:
    """``[[[ … ]]]``: 2·depth bytes of valid JSON."""
    return "[" * depth + "]" * depth


def deep_object(depth: int, leaf: str = "1") -> str:
    """``{"a":{"a": … leaf … }}``, valid JSON nested ``depth`` objects deep."""
    return '{"a":' * depth + leaf + "}" * depth


def reachable_strings(root: object, max_depth: int = 8) -> Iterator[str]:
    """Every str/bytes reachable from an exception through references, except code and frames.

    What an error tracker or a debugger could show: the exception's args,
    attributes, ``__context__``/``__cause__`` chain and whatever they hold.
    Frames and tracebacks are skipped: they reach the whole program (the
    options that rightly hold the key) whatever the exception carries.
    """
    seen: set[int] = set()
    stack: list[tuple[object, int]] = [(root, 0)]
    skip = (
        types.FrameType,
        types.TracebackType,
        types.ModuleType,
        types.FunctionType,
        types.BuiltinFunctionType,
        types.MethodType,
        type,
        types.CodeType,
    )
    while stack:
        obj, depth = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            yield obj
            continue
        if isinstance(obj, bytes | bytearray):
            yield bytes(obj).decode("utf-8", "replace")
            continue
        if depth >= max_depth:
            continue
        if isinstance(obj, BaseException):
            for linked in (obj.__context__, obj.__cause__):
                if linked is not None:
                    stack.append((linked, depth + 1))
        stack.extend((ref, depth + 1) for ref in gc.get_referents(obj))


class HostileHTTP:
    """An HTTP/1.1 server on 127.0.0.1 that answers every request with one canned response."""

    def __init__(
        self, status: int = 200, body: bytes = b"{}", headers: dict[str, str] | None = None
    ):
        self.status = status
        self.body = body
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.requests = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aenter__(self) -> HostileHTTP:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            await reader.readexactly(length)
            self.requests += 1
            lines = [f"HTTP/1.1 {self.status} X"]
            lines += [f"{k}: {v}" for k, v in self.headers.items()]
            lines += [f"Content-Length: {len(self.body)}", "Connection: close", "", ""]
            writer.write("\r\n".join(lines).encode("latin-1") + self.body)
            await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def hostile_http(
    status: int = 200, body: bytes = b"{}", headers: dict[str, str] | None = None
) -> AsyncIterator[HostileHTTP]:
    async with HostileHTTP(status, body, headers) as server:
        yield server


async def assert_mint_fails_cleanly(
    mint: Callable[[str], Awaitable[object]],
    status: int,
    body: bytes,
    error: type[Exception],
    match: str,
) -> None:
    """A token endpoint answers ``status`` with a ``body`` no parser expected:
    ``mint(its URL)`` asks once and fails with ``error``, never a ``RecursionError``."""
    async with hostile_http(status, body) as server:
        with pytest.raises(error, match=match) as info:
            await mint(server.url)
    assert server.requests == 1 and "RecursionError" not in repr(info.value)
