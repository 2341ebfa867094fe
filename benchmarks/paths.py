"""rtws.websocket's fast paths against the public-API path, on the installed websockets.

    uv run --no-sync python -m benchmarks.paths [--frames 20000]

One client connection to a local server in the same process: the client sends
``--frames`` text frames the size of a 20 ms audio append, then reads as many
frames of a typical audio delta's size. CPU seconds for each half, for the
client class with its fast paths (where this websockets release has them) and
with the public API (what websockets releases without verified internals get).
The server side (rtws's own server connection) is the same in both runs, so the
difference is the client's.
A rough figure: run it on an idle machine and repeat.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any, cast

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from rtws.websocket import (
    FAST_PATHS,
    WEBSOCKETS_VERSION,
    StreamingConnection,
    StreamingServerConnection,
)

UP = '{"type":"input_audio_buffer.append","audio":"' + "A" * 856 + '"}'  # 20 ms at 24 kHz
DOWN = '{"type":"response.output_audio.delta","delta":"' + "B" * 2560 + '"}'  # 40 ms


class PublicPath(StreamingConnection):
    fast_paths = False


async def one_run(kind: type[StreamingConnection], frames: int) -> tuple[float, float]:
    received = asyncio.Event()
    go_down = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        # The server side as cheap as it gets (the fake servers' own connection class),
        # so the client's share of the CPU shows.
        server = cast(StreamingServerConnection, ws)
        count = 0
        while count < frames:
            count += len(await server.next_messages())
        received.set()
        await go_down.wait()
        for _ in range(frames):
            if not server.send_now(DOWN):
                await server.send(DOWN)
        await ws.wait_closed()

    async with serve(
        handler, "127.0.0.1", 0, compression=None, create_connection=StreamingServerConnection
    ) as server:
        port = server.sockets[0].getsockname()[1]
        ws: Any = await connect(f"ws://127.0.0.1:{port}", create_connection=kind, compression=None)
        start = time.process_time()
        for _ in range(frames):
            if not ws.send_now(UP):
                await ws.send(UP)
        await received.wait()
        up = time.process_time() - start
        go_down.set()
        start = time.process_time()
        got = 0
        while got < frames:
            got += len(await ws.next_messages())
        down = time.process_time() - start
        await ws.close()
    return up, down


async def main(frames: int, repeats: int) -> None:
    print(f"websockets {'.'.join(map(str, WEBSOCKETS_VERSION))}, fast paths: {FAST_PATHS}")
    kinds = (
        [("fast", StreamingConnection), ("public", PublicPath)]
        if FAST_PATHS
        else [("public", StreamingConnection)]
    )
    for name, kind in kinds:
        runs = [await one_run(kind, frames) for _ in range(repeats)]
        up = min(r[0] for r in runs) / frames * 1e6
        down = min(r[1] for r in runs) / frames * 1e6
        print(f"{name:>6}: send {up:.1f} µs/frame, receive {down:.1f} µs/frame (both ends)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.paths", description=__doc__)
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.frames, args.repeats))
