"""Doc snippet (concepts/events.md): the three ways to receive events, and sending one."""

from __future__ import annotations

import asyncio

import numpy as np
from _parrot import ParrotOptions, ParrotServer, ParrotTransport

from rtws import FileMediaManager, rtvi


async def main() -> None:
    async with ParrotServer() as server:
        media = FileMediaManager(np.zeros(1600, np.int16), input_rate=16000, realtime=False)
        transport = ParrotTransport(ParrotOptions(url=server.url), media)
        seen: list[str] = []

        # --8<-- [start:subscribe]
        # 1. A callback per event type ("*" for all). Sync or async; returns an unsubscribe.
        def show(msg: rtvi.RTVIMessage) -> None:
            print(msg.type, msg.to_dict().get("data"))

        unsubscribe = transport.on("bot-output", show)

        # 2. The same as a decorator.
        @transport.event_handler("transport-state-changed")
        def on_state(msg: rtvi.TransportStateChanged) -> None:
            print(f"state: {msg.data.previous} -> {msg.data.state}")

        # 3. An async iterator; it ends when the transport disconnects.
        async def watch() -> None:
            async for msg in transport.events(["bot-ready", "bot-output"]):
                seen.append(msg.to_json())

        # --8<-- [end:subscribe]
        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0)  # let the iterator subscribe before events flow

        # --8<-- [start:send]
        async with transport:
            replied = asyncio.Event()
            transport.on("bot-output", lambda msg: replied.set())
            await transport.send_message(rtvi.SendText(data=rtvi.SendTextData(content="hello")))
            await asyncio.wait_for(replied.wait(), timeout=10)
        # --8<-- [end:send]
        unsubscribe()
        await asyncio.wait_for(watcher, timeout=5)
        assert [rtvi.parse(j).type for j in seen] == ["bot-ready", "bot-output"], seen
        assert rtvi.parse(seen[1]).data.text == "You said: hello"  # type: ignore[union-attr]
        print("ok")


asyncio.run(main())
