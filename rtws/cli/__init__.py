"""The ``rtws`` command line: ``rtws devices``, ``rtws talk <provider>``, ``rtws demo``.

``main`` parses arguments, runs one command on a fresh event loop and turns
every failure into one line plus a hint (``--debug`` adds the traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import traceback
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

try:
    from rich.console import Console
    from rich.logging import RichHandler
except ModuleNotFoundError as exc:  # `pip install rtws` alone: the library, not the command
    if not (exc.name or "").startswith("rich"):
        raise
    raise SystemExit(
        "rtws: error: the rtws command needs its extra: pip install 'rtws[cli]'"
    ) from None

from .. import __version__
from ..providers import available_providers
from .errors import EXIT_INTERRUPTED, describe
from .text import printable

Command = Callable[[argparse.Namespace, Console], Coroutine[Any, Any, int]]

EPILOG = """\
examples:
  rtws demo                                  talk to the local demo bot (no API key)
  rtws demo --input hello.wav --output reply.wav
  rtws devices
  rtws talk openai --option voice=marin --record session.wav
  rtws talk gemini --config gemini.toml --mic "USB" --duration 60
keys while talking: m mute, i next mic, s next speaker, q quit
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rtws`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _never_fail_to_print()
    setup_logging(args.verbose, args.debug)
    console = Console(highlight=False)
    command: Command = args.command_fn
    try:
        return asyncio.run(command(args, console))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("rtws: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        error = describe(exc)
        # Plain print, not rich: a rich console would wrap the line at the terminal width.
        print(f"rtws: error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"rtws: hint: {error.hint}", file=sys.stderr)
        return error.code


def build_parser() -> argparse.ArgumentParser:
    from . import commands, demo  # media and provider code: imported once parsing starts

    providers = ", ".join(available_providers()) or "none installed"
    parser = argparse.ArgumentParser(
        prog="rtws",
        description="Talk to real-time voice LLMs from the terminal.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"rtws {__version__} (providers: {providers})"
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)"
    )
    common.add_argument("--debug", action="store_true", help="debug logs and tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = sub.add_parser("devices", parents=[common], help="list microphones and speakers")
    dev.add_argument("--json", action="store_true", help="machine-readable output")
    dev.set_defaults(command_fn=commands.devices)

    talk = sub.add_parser(
        "talk",
        parents=[common],
        help="a voice session with an installed provider",
        description=f"A live voice session. Installed providers: {providers}.",
    )
    talk.add_argument("provider", help=f"provider name ({providers})")
    talk.add_argument(
        "-o",
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="set a provider option (repeatable; values are JSON or text; dotted keys nest)",
    )
    talk.add_argument("--config", metavar="FILE.toml", help="provider options from a TOML file")
    talk.add_argument("--url", help="the provider's websocket URL (e.g. a local fake server)")
    talk.add_argument(
        "--list-options", action="store_true", help="show the provider's options and exit"
    )
    _session_flags(talk)
    talk.set_defaults(command_fn=commands.talk)

    demo_parser = sub.add_parser(
        "demo",
        parents=[common],
        help="talk to the built-in demo bot (no API key)",
        description="The no-key demo: a local fake of the OpenAI Realtime API answered by a "
        "demo bot, on your mic and speaker, or on WAV files when there is no sound card.",
    )
    demo_parser.add_argument(
        "--real", action="store_true", help="talk to OpenAI (needs OPENAI_API_KEY)"
    )
    demo_parser.add_argument(
        "--port", type=int, default=0, help="port of the local demo server (default: a free one)"
    )
    _session_flags(demo_parser)
    demo_parser.set_defaults(command_fn=demo.demo)
    return parser


def _session_flags(parser: argparse.ArgumentParser) -> None:
    media = parser.add_argument_group("audio")
    media.add_argument("--mic", help="microphone id or (part of a) name; see `rtws devices`")
    media.add_argument("--speaker", help="speaker id or (part of a) name")
    media.add_argument(
        "--cam",
        metavar="NAME|PATH",
        help="camera on: an image or video file, or a camera id or (part of a) name",
    )
    media.add_argument(
        "--input", metavar="FILE.wav", help="read the user's speech from a WAV file (headless)"
    )
    media.add_argument(
        "--output", metavar="FILE.wav", help="write the bot's audio to a WAV file (headless)"
    )
    media.add_argument(
        "--realtime",
        action="store_true",
        help="pace --input/--output in real time (default: as fast as the session goes)",
    )
    media.add_argument(
        "--no-echo-cancellation",
        dest="echo_cancellation",
        action="store_false",
        help="let the mic hear the speaker (a headset, or the OS cancels echo already); "
        "by default sound devices cancel the bot's echo",
    )
    media.add_argument(
        "--record",
        metavar="FILE.wav",
        help="record both sides to a stereo WAV (left = microphone, right = bot)",
    )
    run = parser.add_argument_group("session")
    run.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    run.add_argument(
        "--plain", action="store_true", help="line output and no keys, even on a terminal"
    )


def _never_fail_to_print() -> None:
    """A character the terminal's encoding lacks is shown escaped, never an exception.

    Server text is made printable before it is shown (:mod:`rtws.cli.text`);
    this is the backstop for a terminal that is not UTF-8 (``LANG=C``).
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


class _PrintableRecords(logging.Filter):
    """Log messages quote servers too (a malformed frame, a close reason): made printable."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = printable(record.getMessage()), None
        return True


def setup_logging(verbose: int, debug: bool) -> None:
    """Quiet by default: what matters is shown in the view, failures as one line."""
    level = logging.DEBUG if debug or verbose >= 2 else logging.INFO if verbose else logging.ERROR
    handler = RichHandler(
        console=Console(stderr=True), show_time=False, show_path=False, markup=False
    )
    handler.addFilter(_PrintableRecords())
    logging.basicConfig(level=level, handlers=[handler], format="%(name)s: %(message)s")


__all__ = ["build_parser", "main"]
