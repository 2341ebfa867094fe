"""Record a whole conversation to one stereo WAV: you on the left, the bot on the right.

Works with any installed provider (found by name through the ``rtws.providers`` entry
points) and any media: sound devices, or files with ``--input``.

    OPENAI_API_KEY=sk-... python examples/record_session.py --record talk.wav
    python examples/record_session.py --provider gemini --url ws://127.0.0.1:9000 \\
        --input question.wav --record talk.wav

The bot's channel holds what the speaker really played: when you interrupt, the part of
the reply you never heard is cut from the recording too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

from rtws import (
    AudioChunk,
    FileMediaManager,
    MediaManager,
    PlaybackMark,
    RealTimeWebsocketTransport,
    load_provider,
)
from rtws.audio import read_wav, write_wav

Int16Array = npt.NDArray[np.int16]

#: The option that points each provider at a server other than the real API.
URL_OPTION = {"openai": "base_url", "gemini": "host"}


# --8<-- [start:recorder]
class Recorder:
    """Both sides of a session on one timeline, the mic's: each bot reply starts at the
    point of the mic stream where it arrived and continues without gaps."""

    def __init__(self, user_rate: int, bot_rate: int) -> None:
        self.user_rate, self.bot_rate = user_rate, bot_rate
        self.user: list[Int16Array] = []
        self.user_samples = 0
        self.bot = np.zeros(0, np.int16)
        self.bot_end = 0  # samples of the bot track written so far
        self.bot_samples = 0  # of them, bot audio that was played (not dropped)
        self.bot_item: str | None = None  # the reply being recorded

    def mic(self, pcm: bytes) -> None:
        self.user.append(np.frombuffer(pcm, np.int16))
        self.user_samples += len(pcm) // 2

    def speaker(self, pcm: bytes, item_id: str | None) -> None:
        now = self.user_samples * self.bot_rate // self.user_rate
        start = self.bot_end if item_id == self.bot_item else max(self.bot_end, now)
        self.bot_item = item_id
        samples = np.frombuffer(pcm, np.int16)
        if len(self.bot) < start + len(samples):
            self.bot = np.concatenate(
                [self.bot, np.zeros(start + len(samples) - len(self.bot), np.int16)]
            )
        self.bot[start : start + len(samples)] = samples
        self.bot_end = start + len(samples)
        self.bot_samples += len(samples)

    def interrupted(self, mark: PlaybackMark) -> None:
        """Forget the queued audio the flush dropped: it was never heard."""
        dropped = min(self.bot_end, mark.dropped_ms * self.bot_rate // 1000)
        self.bot_end -= dropped
        self.bot_samples -= dropped
        self.bot_item = None  # what comes next is a new reply
        self.bot[self.bot_end :] = 0

    def save(self, path: Path) -> float:
        """Write the stereo WAV at the bot's rate; returns its length in seconds."""
        user = np.concatenate(self.user) if self.user else np.zeros(0, np.int16)
        user = soxr.resample(user, self.user_rate, self.bot_rate).astype(np.int16)
        n = max(len(user), self.bot_end)
        stereo = np.zeros((n, 2), np.int16)
        stereo[: len(user), 0] = user
        stereo[: self.bot_end, 1] = self.bot[: self.bot_end]
        write_wav(path, stereo, self.bot_rate)
        return n / self.bot_rate


def recording(
    provider: type[RealTimeWebsocketTransport], recorder: Recorder
) -> type[RealTimeWebsocketTransport]:
    """``provider`` with ``recorder`` tapped into the mic hook (see :func:`tap_speaker`)."""

    class Recording(provider):  # type: ignore[misc, valid-type]  # a base chosen at run time
        async def handle_user_audio_stream(self, chunk: AudioChunk) -> None:
            recorder.mic(chunk.pcm)
            await super().handle_user_audio_stream(chunk)

    Recording.__name__ = f"Recording{provider.__name__}"
    return Recording


def tap_speaker(media: MediaManager, recorder: Recorder) -> None:
    """Record what reaches the speaker, and forget what a flush (an interruption) dropped.

    The speaker side is tapped on the media manager, not the transport: every
    provider's audio goes through ``media.play`` whatever helper or typed event it
    used, and ``media.flush`` is where an interruption silences it.
    """
    play, flush = media.play, media.flush

    def recorded_play(pcm: bytes | Int16Array, item_id: str | None = None) -> None:
        recorder.speaker(bytes(pcm), item_id)
        play(pcm, item_id)

    def recorded_flush() -> PlaybackMark:
        mark = flush()
        recorder.interrupted(mark)
        return mark

    setattr(media, "play", recorded_play)  # noqa: B010 - an instance attribute on purpose
    setattr(media, "flush", recorded_flush)  # noqa: B010


# --8<-- [end:recorder]


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--provider", choices=sorted(URL_OPTION), default="openai")
    parser.add_argument("--url", default=os.environ.get("RTWS_EXAMPLE_URL"))
    parser.add_argument("--input", type=Path, help="a WAV to say instead of using the microphone")
    parser.add_argument("--record", type=Path, default=Path("session.wav"))
    parser.add_argument("--seconds", type=float, default=60, help="session length with a mic")
    args = parser.parse_args(argv)

    provider = load_provider(args.provider)
    options = provider.options_class.model_validate(
        {URL_OPTION[args.provider]: args.url} if args.url else {}
    )
    media: MediaManager
    speech = np.zeros(0, np.int16)
    if args.input:
        pcm, rate = read_wav(args.input)
        speech = np.concatenate([pcm, np.zeros(rate, np.int16)])  # + 1 s of silence: turn ends
        media = FileMediaManager(None, input_rate=rate, realtime=False)
    else:
        from rtws import SoundDeviceMediaManager  # the default microphone and speaker

        media = SoundDeviceMediaManager()
    recorder = Recorder(provider.input_sample_rate, provider.output_sample_rate)
    tap_speaker(media, recorder)
    transport = recording(provider, recorder)(options, media)
    answered = asyncio.Event()
    transport.on("bot-stopped-speaking", lambda msg: answered.set())

    async with transport:
        if isinstance(media, FileMediaManager):
            media.feed(speech)
            await asyncio.wait_for(answered.wait(), timeout=60)
        else:
            print(f"Recording to {args.record} (Ctrl-C to stop).")
            with contextlib.suppress(asyncio.CancelledError):  # Ctrl-C ends the talk, not the file
                await asyncio.sleep(args.seconds)
    seconds = recorder.save(args.record)
    you = recorder.user_samples / recorder.user_rate
    bot = recorder.bot_samples / recorder.bot_rate
    print(f"recorded {seconds:.2f} s to {args.record}: you {you:.2f} s, bot {bot:.2f} s of audio")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(130)
