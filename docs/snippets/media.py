"""Doc snippet (concepts/media.md): file media, and listing sound devices."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from _parrot import ParrotOptions, ParrotServer, ParrotTransport

from rtws import FileMediaManager
from rtws.audio import read_wav

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


async def files(url: str, out_dir: Path) -> None:
    # --8<-- [start:files]
    media = FileMediaManager(
        input=EXAMPLES / "data" / "speech_16k.wav",  # the "microphone" (or a numpy array)
        output=out_dir / "bot.wav",  # what the "speaker" played
        realtime=False,  # as fast as possible; True paces it like a sound card
    )
    transport = ParrotTransport(ParrotOptions(url=url), media)
    async with transport:
        await media.wait_input_done()  # the file, then 1.5 s of silence, were captured
        await media.wait_output_idle()  # the reply was played
    played = media.output_audio()  # np.int16 at media.output_rate
    # --8<-- [end:files]
    assert len(played) / media.output_rate > 2.0
    assert len(read_wav(out_dir / "bot.wav")[0]) == len(played)


async def devices() -> None:
    # --8<-- [start:devices]
    from rtws.media.sounddevice import SoundDeviceMediaManager

    media = SoundDeviceMediaManager()  # the system's default mic and speaker
    for device in await media.get_all_mics() + await media.get_all_speakers():
        print(f"{device.kind:11} {device.id:30} {device.default_sample_rate} Hz")
    # Pick one by id, by (part of) its name, or by PortAudio index:
    # SoundDeviceMediaManager(input_device="USB", output_device="default@ALSA")
    # --8<-- [end:devices]


async def main() -> None:
    async with ParrotServer() as server:
        with tempfile.TemporaryDirectory() as tmp:
            await files(server.url, Path(tmp))
    try:
        await devices()
    except OSError as exc:  # no PortAudio library: the snippet still documents the API
        print(f"no PortAudio here: {exc}")
    print("ok")


asyncio.run(main())
