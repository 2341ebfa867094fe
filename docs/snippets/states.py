"""Doc snippet (concepts/states.md): watching the state machine through a whole life cycle."""

from __future__ import annotations

import asyncio

from _parrot import ParrotOptions, ParrotServer, ParrotTransport

from rtws import FileMediaManager, TransportState, rtvi


async def main() -> None:
    async with ParrotServer() as server:
        # --8<-- [start:lifecycle]
        transport = ParrotTransport(ParrotOptions(url=server.url), FileMediaManager(realtime=False))
        states: list[str] = []

        @transport.event_handler("transport-state-changed")
        def record(msg: rtvi.TransportStateChanged) -> None:
            states.append(msg.data.state)

        await transport.init_devices()  # optional: enumerate devices before connecting
        await transport.connect()  # returns once the session is ready (bot-ready emitted)
        assert transport.state is TransportState.READY
        await transport.disconnect()  # idempotent; releases sockets, streams and tasks
        print(" -> ".join(states))
        # initializing -> initialized -> connecting -> connected -> ready
        #   -> disconnecting -> disconnected

        await transport.connect()  # the same object connects again
        await transport.disconnect()
        # --8<-- [end:lifecycle]
        assert states == [
            "initializing", "initialized", "connecting", "connected", "ready",
            "disconnecting", "disconnected",
            "connecting", "connected", "ready", "disconnecting", "disconnected",
        ]  # fmt: skip
        print("ok")


asyncio.run(main())
