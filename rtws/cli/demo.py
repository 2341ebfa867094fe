"""``rtws demo``: the no-key demo, a local fake of the OpenAI Realtime API and its demo bot.

The fake server runs in this process on 127.0.0.1, and the session talks to
it through the real OpenAI provider, so the demo exercises everything a real
session does except the network. With no sound devices it runs on a bundled
speech file and ends by itself once the bot has answered.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.resources
import os
from collections.abc import AsyncGenerator, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from .. import rtvi
from ..audio import read_wav
from ..audio.echo import canceller_available
from ..media.base import MediaManager
from .camera import choose_camera
from .errors import EXIT_ERROR, EXIT_USAGE, CLIError
from .media import (
    check_media_flags,
    device_media,
    devices_unavailable,
    file_media,
    input_wav,
    recorder_for,
    report_files,
)
from .options import url_field
from .session import Session, SessionSettings, live_terminal

if TYPE_CHECKING:
    from rtws_openai import OpenAIRealtimeTransport

DEMO_REPLY = Path("demo-reply.wav")
DEMO_INSTRUCTIONS = "You are the rtws demo bot. Answer in one or two short sentences."


async def demo(args: argparse.Namespace, console: Console) -> int:
    """The no-key demo: the OpenAI fake server with its demo bot, in this process."""
    try:
        from rtws_openai import OpenAIRealtimeOptions, OpenAIRealtimeTransport
    except ImportError:
        raise CLIError(
            "the demo needs the OpenAI provider (rtws-openai), which is not installed",
            hint="pip install 'rtws[openai]' (in this repository: uv sync --all-packages)",
            code=EXIT_USAGE,
        ) from None
    if args.real and not os.environ.get("OPENAI_API_KEY"):
        raise CLIError(
            "rtws demo --real talks to the OpenAI API and needs OPENAI_API_KEY",
            hint="export OPENAI_API_KEY=sk-..., or leave out --real for the local demo bot",
            code=EXIT_USAGE,
        )
    check_media_flags(args, bool(args.input or args.output))
    files = bool(args.input or args.output)
    if not files and not (args.mic or args.speaker):
        reason = await devices_unavailable()
        if reason is not None:
            console.print(
                f"no usable sound devices ({reason.split(';')[0]}): "
                "using the bundled speech file instead",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
            files = True
    output_path = Path(args.output) if args.output else DEMO_REPLY
    with contextlib.ExitStack() as stack:
        input_path = input_wav(args.input) if args.input else stack.enter_context(bundled_speech())
        recorder = stack.enter_context(recorder_for(args.record, 24000))
        async with _demo_server(args, pace=0.0 if files else 1.0) as (url, key):
            fields: dict[str, Any] = {"instructions": DEMO_INSTRUCTIONS}
            if not args.echo_cancellation:
                fields["echo_cancellation"] = False
            elif not files and canceller_available() is not None:
                # No echo canceller on this machine: laptop speakers would leak the bot's
                # voice into the mic, so a half-duplex gate keeps it from barging in.
                fields["echo_gate_level"] = 0.6
            if url is not None and key is not None:
                fields.update({url_field(OpenAIRealtimeOptions) or "url": url, "api_key": key})
            options = OpenAIRealtimeOptions.model_validate(fields)
            if files:
                media: MediaManager = file_media(
                    input_path, output_path, realtime=args.realtime, recorder=recorder
                )
            else:
                media = device_media(args.mic, args.speaker, recorder=recorder)
            if args.cam:
                choose_camera(OpenAIRealtimeTransport, media, args.cam)
            transport = OpenAIRealtimeTransport(options, media)
            if not files and not args.real:
                _greet_once(transport)
            settings = SessionSettings(
                duration=args.duration,
                interactive=live_terminal(args.plain, console),
                recorder=recorder,
                finish_after_reply=files and args.duration is None,
                camera=bool(args.cam),
            )
            session = Session(transport, console, settings)
            code = await session.run()
    report_files(console, output_path if files else None, recorder)
    if session.ended_by == "answered" and not _has_audio(output_path):
        raise CLIError(f"the demo bot's reply in {output_path} is silent", code=EXIT_ERROR)
    return code


def _greet_once(transport: OpenAIRealtimeTransport) -> None:
    """The demo bot speaks first, so someone trying rtws hears at once that sound works.

    A bare ``response.create`` (no user input yet) is what makes the demo bot greet.
    """

    async def greet(_msg: rtvi.RTVIMessage) -> None:
        unsubscribe()
        with contextlib.suppress(Exception):  # a greeting is a nicety, never a failure
            await transport.send_event({"type": "response.create"})

    unsubscribe = transport.on("bot-ready", greet)


@contextlib.asynccontextmanager
async def _demo_server(
    args: argparse.Namespace, *, pace: float
) -> AsyncGenerator[tuple[str | None, str | None], None]:
    """(url, api key) of the fake server with the demo bot; (None, None) for ``--real``."""
    if args.real:
        yield None, None
        return
    from rtws_openai.testing import DEFAULT_API_KEY, DemoBot, FakeRealtimeServer

    server = FakeRealtimeServer(DEFAULT_API_KEY, port=args.port, bot=DemoBot(), pace=pace)
    try:
        await server.start()
    except OSError as exc:
        raise CLIError(
            f"cannot start the demo server on 127.0.0.1:{args.port}: {exc.strerror or exc}",
            hint="leave out --port to use a free one",
        ) from None
    try:
        yield server.url, DEFAULT_API_KEY
    finally:
        await server.stop()


@contextlib.contextmanager
def bundled_speech() -> Generator[Path, None, None]:
    """The short English phrase shipped with rtws, as a file path."""
    resource = importlib.resources.files("rtws") / "data" / "hello.wav"
    with importlib.resources.as_file(resource) as path:
        yield path


def _has_audio(path: Path) -> bool:
    if not path.exists():
        return False
    pcm, _ = read_wav(path)
    return bool(len(pcm)) and int(abs(pcm.astype("int32")).max()) > 100


__all__ = ["bundled_speech", "demo"]
