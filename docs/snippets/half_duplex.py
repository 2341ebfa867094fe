"""Doc snippet (troubleshooting.md): a half-duplex gate against speaker echo."""

from __future__ import annotations

import asyncio

import numpy as np
from _parrot import ParrotOptions, ParrotServer, ParrotTransport

from rtws import FileMediaManager


async def main() -> None:
    async with ParrotServer() as server:
        media = FileMediaManager(np.zeros(16000, np.int16), input_rate=16000, realtime=False)
        transport = ParrotTransport(ParrotOptions(url=server.url), media)
        mic_states: list[bool] = []

        # --8<-- [start:gate]
        # Laptop speakers and no echo cancellation: mute the mic while the bot talks,
        # so the bot does not hear (and interrupt) itself. You cannot barge in meanwhile.
        def bot_talks(msg: object) -> None:
            transport.enable_mic(False)

        def bot_done(msg: object) -> None:
            transport.enable_mic(True)

        transport.on("bot-started-speaking", bot_talks)
        transport.on("bot-stopped-speaking", bot_done)
        # --8<-- [end:gate]
        transport.on("bot-started-speaking", lambda m: mic_states.append(transport.is_mic_enabled))
        transport.on("bot-stopped-speaking", lambda m: mic_states.append(transport.is_mic_enabled))
        async with transport:
            await server.say(np.full(4800, 3000, np.int16))
            await media.wait_output_idle()
            await asyncio.sleep(0.4)  # bot-stopped-speaking comes after 300 ms of silence
        assert mic_states == [False, True], mic_states
        print("ok")


asyncio.run(main())
