"""``python -m benchmarks.server``: the fake OpenAI Realtime server with the benchmark's bot.

The project's :class:`~rtws_openai.testing.FakeRealtimeServer`, unchanged, paced in
real time, answering every VAD turn with the workload's 1.8 s reply. It runs in
its own process so its CPU is never counted as the client's. The fake keeps a
record of every event for tests; a benchmark streams for minutes, so those
records are emptied every second (only what tests read is dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os

from rtws_openai.testing import FakeRealtimeServer, Reply, Turn

from .workload import API_KEY, PIECE_MS, REPLY_TEXT, reply_audio


class WorkloadBot:
    """Says the same 1.8 s reply to every turn (and keeps no history: a fleet runs for minutes)."""

    def __init__(self) -> None:
        self.reply = Reply.say(REPLY_TEXT, audio=reply_audio())

    async def respond(self, turn: Turn) -> Reply:
        return self.reply


async def _forget_records(server: FakeRealtimeServer) -> None:
    while True:
        await asyncio.sleep(1.0)
        for record in server.connections:
            record.received.clear()
            record.sent.clear()
            del record.audio_in[:]


async def serve(port: int, pace: float, piece_ms: int) -> None:
    server = FakeRealtimeServer(API_KEY, port=port, bot=WorkloadBot(), pace=pace, piece_ms=piece_ms)
    async with server:
        # The server's full GC passes would stall every session's replies at once
        # and show up as the clients' receive lag: the startup heap (imports) is
        # moved out of the collector's view, so a pass walks only live sessions.
        gc.collect()
        gc.freeze()
        housekeeping = asyncio.create_task(_forget_records(server))
        print(f"READY {server.url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            housekeeping.cancel()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.server", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--pace", type=float, default=1.0, help="1.0 = replies in real time")
    parser.add_argument("--piece-ms", type=int, default=PIECE_MS)
    parser.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.pace, args.piece_ms))


if __name__ == "__main__":
    main()
