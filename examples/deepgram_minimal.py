"""The smallest useful Deepgram Voice Agent session: talk, hear the answer, read the transcripts.

    DEEPGRAM_API_KEY=... python examples/deepgram_minimal.py          # your mic and speaker

Without a key, against the local fake (`python -m rtws_deepgram.testing` prints its URL and
the key it accepts), or headless with WAV files:

    DEEPGRAM_API_KEY=dg-fake-rtws-0123456789abcdef python examples/deepgram_minimal.py \\
        --url ws://127.0.0.1:8766/v1/agent/converse
    python examples/deepgram_minimal.py --url ... --input question.wav --output answer.wav

``--url`` defaults to $RTWS_EXAMPLE_URL, then to the real API.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import numpy as np
from rtws_deepgram import DeepgramVoiceAgentOptions, DeepgramVoiceAgentTransport

from rtws import FileMediaManager, rtvi
from rtws.audio import read_wav


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("RTWS_EXAMPLE_URL"))
    parser.add_argument("--input", type=Path, help="a WAV to say instead of using the microphone")
    parser.add_argument("--output", type=Path, help="record the answer to this WAV (with --input)")
    parser.add_argument("--seconds", type=float, default=60, help="session length with a mic")
    args = parser.parse_args(argv)

    # --8<-- [start:session]
    options = DeepgramVoiceAgentOptions(  # the key comes from DEEPGRAM_API_KEY
        prompt="You are a helpful assistant. Be brief.",
        think_provider={"type": "open_ai", "model": "gpt-4o-mini"},
        speak_provider={"type": "deepgram", "model": "aura-2-thalia-en"},
    )
    if args.url:
        options.url = args.url  # e.g. the local fake

    media = None  # None: the default microphone and speaker
    speech = np.zeros(0, np.int16)
    if args.input:
        pcm, rate = read_wav(args.input)
        speech = np.concatenate([pcm, np.zeros(rate, np.int16)])  # + 1 s of silence: turn ends
        media = FileMediaManager(None, input_rate=rate, output=args.output, realtime=False)
    transport = DeepgramVoiceAgentTransport(options, media)

    @transport.event_handler("user-transcription")
    def you(msg: rtvi.UserTranscription) -> None:
        print(f"you: {msg.data.text}")

    @transport.event_handler("bot-output")
    def bot(msg: rtvi.BotOutput) -> None:
        print(f"bot: {msg.data.text}")

    answered = asyncio.Event()
    transport.on("bot-stopped-speaking", lambda msg: answered.set())

    async with transport:  # connect(): returns when the session is ready
        if media is None:
            print("Talk to the agent (Ctrl-C to stop).")
            await asyncio.sleep(args.seconds)
        else:
            media.feed(speech)  # said now that the session is ready
            await asyncio.wait_for(answered.wait(), timeout=60)
    # --8<-- [end:session]
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(130)
