"""``rtws devices`` and ``rtws talk <provider>`` (``rtws demo`` lives in :mod:`.demo`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic_core import PydanticSerializationError, to_jsonable_python
from rich.console import Console
from rich.table import Table

from ..errors import ConfigurationError, DeviceError
from ..media.base import AudioDevice
from ..media.sounddevice import SoundDeviceMediaManager
from ..providers import available_providers, closest_provider, load_provider
from ..transport import RealTimeWebsocketTransport
from .camera import cameras_note, choose_camera
from .devices import device_note, stream_format
from .errors import EXIT_USAGE, CLIError
from .media import (
    RecordingFileMedia,
    RecordingSoundDeviceMedia,
    check_media_flags,
    device_media,
    file_media,
    input_wav,
    recorder_for,
    report_files,
)
from .options import build_options, load_config, options_model, url_field
from .session import Session, SessionSettings, live_terminal


# ====================================================================== devices
async def devices(args: argparse.Namespace, console: Console) -> int:
    """List microphones and speakers (``--json`` for scripts)."""
    media = SoundDeviceMediaManager()
    try:
        mics = await media.get_all_mics()
        speakers = await media.get_all_speakers()
    except DeviceError as exc:
        raise CLIError(
            str(exc), hint="install PortAudio, or start virtual devices: scripts/audio-sandbox up"
        ) from None
    if not mics and not speakers:
        raise CLIError(
            "PortAudio found no microphone and no speaker",
            hint="is a sound server running? on a headless machine: scripts/audio-sandbox up",
        )
    everything = [*mics, *speakers]
    cams = await media.get_all_cams()
    if args.json:
        doc = {
            "mics": [_device_doc(media, d, everything) for d in mics],
            "speakers": [_device_doc(media, d, everything) for d in speakers],
            "cameras": [c.model_dump() for c in cams],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        for title, found in (("Microphones", mics), ("Speakers", speakers)):
            console.print(_device_table(media, title, found, everything))
        console.print(_camera_table(cams))
        console.print(
            "[dim]opens at: the rate and channels a session's stream uses "
            "(PortAudio's listed defaults can differ)[/dim]"
        )
    return 0


def _device_doc(
    media: SoundDeviceMediaManager, device: AudioDevice, everything: list[AudioDevice]
) -> dict[str, Any]:
    doc = device.model_dump()
    try:
        doc["stream_sample_rate"], doc["stream_channels"] = media.stream_format(device)
    except DeviceError as exc:
        doc["stream_sample_rate"], doc["stream_channels"] = None, None
        doc["stream_error"] = str(exc)
    doc["note"] = device_note(device, everything)
    return doc


def _device_table(
    media: SoundDeviceMediaManager,
    title: str,
    found: list[AudioDevice],
    everything: list[AudioDevice],
) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("", width=1)
    table.add_column("id", overflow="fold")
    table.add_column("name", overflow="fold")
    table.add_column("opens at", justify="right")
    table.add_column("note", style="dim")
    for device in found:
        table.add_row(
            "*" if device.is_default else "",
            device.id,
            device.name,
            stream_format(media, device),
            device_note(device, everything) or "",
        )
    if not found:
        table.add_row("", "(none)", "", "", "")
    return table


def _camera_table(cams: list[AudioDevice]) -> Table:
    table = Table(title="Cameras", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("", width=1)
    table.add_column("id", overflow="fold")
    table.add_column("name", overflow="fold")
    for cam in cams:
        table.add_row("*" if cam.is_default else "", cam.id, cam.name)
    if not cams:
        table.add_row("", "(none)", cameras_note() or "")
    return table


# ====================================================================== talk
async def talk(args: argparse.Namespace, console: Console) -> int:
    """A live session with any installed provider."""
    cls = _provider(args.provider)
    model = options_model(cls)
    if args.list_options:
        console.print(_options_table(args.provider, model.model_fields))
        return 0
    config = load_config(Path(args.config), args.provider) if args.config else None
    overrides: dict[str, Any] = {}
    if args.url:
        field = url_field(model)
        if field is None:
            raise CLIError(
                f"{args.provider} options have no URL field for --url",
                hint=f"set it with --option (see rtws talk {args.provider} --list-options)",
                code=EXIT_USAGE,
            )
        overrides[field] = args.url
    if not args.echo_cancellation:
        overrides["echo_cancellation"] = False
    options = build_options(
        model, args.provider, config=config, assignments=args.option or (), overrides=overrides
    )
    input_path = input_wav(args.input) if args.input else None
    output_path = Path(args.output) if args.output else None
    files = input_path is not None or output_path is not None
    check_media_flags(args, files)
    media: RecordingFileMedia | RecordingSoundDeviceMedia
    if files:
        media = file_media(input_path, output_path, realtime=args.realtime)
    else:
        media = device_media(args.mic, args.speaker)
    if args.cam:
        choose_camera(cls, media, args.cam)
    transport = cls(options, media)
    # The instance's rate: a provider whose rates are options (Deepgram) sets them there.
    with recorder_for(args.record, transport.output_sample_rate) as recorder:
        media.recorder = recorder
        settings = SessionSettings(
            camera=bool(args.cam),
            duration=args.duration,
            interactive=live_terminal(args.plain, console),
            recorder=recorder,
            finish_after_reply=input_path is not None and args.duration is None,
        )
        code = await Session(transport, console, settings).run()
    report_files(console, output_path, recorder)
    return code


def _provider(name: str) -> type[RealTimeWebsocketTransport]:
    try:
        return load_provider(name)
    except ConfigurationError as exc:
        installed = available_providers()
        meant = closest_provider(name)
        if meant in installed:
            hint = f"rtws talk {meant}"
        elif meant is not None:
            hint = f"pip install 'rtws[{meant}]', then: rtws talk {meant}"
        elif installed:
            hint = f"use one of: {', '.join(installed)}"
        else:
            hint = "install a provider, e.g. pip install 'rtws[openai]'"
        raise CLIError(str(exc), hint=hint, code=EXIT_USAGE) from None


def _options_table(provider: str, fields: dict[str, Any]) -> Table:
    table = Table(title=f"{provider} options (--option KEY=VALUE)", title_justify="left")
    table.add_column("option")
    table.add_column("default", overflow="fold")
    table.add_column("description")
    for name, field in fields.items():
        default = "(required)" if field.is_required() else _show_default(name, field)
        table.add_row(name, default, field.description or "")
    return table


def _show_default(name: str, field: Any) -> str:
    if any(word in name for word in ("key", "secret", "token")):
        return "(from the environment)" if field.default_factory is not None else "None"
    value = field.get_default(call_default_factory=True)
    try:
        text = json.dumps(to_jsonable_python(value), separators=(",", ":"))
    except (TypeError, ValueError, PydanticSerializationError):
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
