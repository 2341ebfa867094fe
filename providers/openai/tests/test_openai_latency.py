"""Turn latency (docs/concepts/latency.md) whatever ends the bot's turn.

The figure needs the reply's playback start, which the speaker stamps on its
own thread: a reply that arrived whole before playback began has no later
audio to measure it on, so the base measures it again when the bot falls
silent — played out, or cut off by the user, which the core decides without
any provider method being called.
"""

from __future__ import annotations

import numpy as np
from rtws_openai.testing import FakeRealtimeServer, Reply, ScriptedBot

from providers.openai.tests.support import RATE, EventLog, steady_tone, transport
from rtws import FileMediaManager
from rtws.testing.probes import wait_for


async def test_a_reply_that_arrived_before_playback_and_was_cut_is_still_measured() -> None:
    mic = np.concatenate([steady_tone(1.0), np.zeros(RATE * 3, np.int16)])
    bot = ScriptedBot([Reply.say("A reply.", audio=steady_tone(0.6))], transcripts=["hi"])
    async with FakeRealtimeServer(bot=bot, pace=0.0) as server:
        media = FileMediaManager(mic, input_rate=RATE, realtime=True)
        # A prebuffer longer than the reply: it plays only once all of it has arrived.
        t = transport(server, media, prebuffer_ms=1000)
        log = EventLog(t)
        await t.connect()
        try:
            await log.wait("bot-llm-stopped", timeout=10)  # all of the reply is here
            await wait_for(lambda: media.mark().played_ms >= 100, 5, "the reply to play")
            await server.send_event(
                {"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": "u2"}
            )
            await log.wait("bot-interrupted")
        finally:
            await t.disconnect()
    turns = [m for d in log.data("metrics") for m in d.get("turn_latency", [])]
    assert len(turns) == 1, log.data("metrics")
    assert turns[0]["processor"] == "openai" and turns[0]["model"] == t.options.model
    ttfb = [m["value"] for d in log.data("metrics") for m in d.get("ttfb", [])]
    # From the end of speech in the mic audio: the VAD's 500 ms wait is in it, unlike ttfb.
    assert len(ttfb) == 1 and turns[0]["value"] > ttfb[0] + 0.4
