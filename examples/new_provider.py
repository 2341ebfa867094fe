"""A new rtws provider from scratch, in one file: protocol, server, provider, session.

"Parrot" is a made-up voice bot protocol, small enough to read in a minute,
with the parts every real one has: a handshake, streamed mic audio, a
server-side voice activity detector, streamed replies with ids, barge-in
and a "this much was heard" message for truncation. The server repeats
what you said in your own voice.

Run it:

    python examples/new_provider.py                       # talk to it (sound card)
    python examples/new_provider.py --input speech.wav --output reply.wav
    python examples/new_provider.py --serve 8765          # only the server
    python examples/new_provider.py --url ws://127.0.0.1:8765/parrot --input speech.wav

The protocol — JSON text frames, the message kind in an ``op`` field:

    client → server                     server → client
    hello {rate}                        welcome {session}
    mic {pcm}      16 kHz PCM16, b64    listening            (VAD: user started)
    say {text}                          thinking             (VAD: user stopped)
    heard {reply, ms}                   transcript {text}
    bye                                 reply {id, pcm}      24 kHz PCM16, b64
                                        reply_end {id, text}
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soxr
from websockets.asyncio.server import Server, ServerConnection, serve

from rtws import AudioChunk, FileMediaManager, RealTimeWebsocketTransport, TransportOptions, rtvi
from rtws.audio import read_wav

Int16Array = npt.NDArray[np.int16]


def b64(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode()


# --8<-- [start:transport]
class ParrotOptions(TransportOptions):
    """The shared options (timeouts, reconnection, buffering) plus where the server is."""

    url: str = "ws://127.0.0.1:8765/parrot"


class ParrotTransport(RealTimeWebsocketTransport):
    """The whole provider: a translation table between the parrot protocol and rtws."""

    provider_name = "parrot"
    options_class = ParrotOptions
    input_sample_rate = 16000  # what the server wants from the mic
    output_sample_rate = 24000  # what its replies are

    options: ParrotOptions

    async def initialize_llm(self) -> None:
        self.session_id: str | None = None
        self._welcome = asyncio.Event()

    async def attach_llm_listeners(self) -> None:
        self.on_llm_message("welcome", self._on_welcome)
        self.on_llm_message("listening", self._on_listening)
        self.on_llm_message("thinking", lambda m: self.user_stopped_speaking())
        self.on_llm_message("transcript", self._on_transcript)
        self.on_llm_message("reply", lambda m: self.play_bot_audio(unb64(m["pcm"]), m["id"]))
        self.on_llm_message("reply_end", self._on_reply_end)

    def message_types(self, message: dict[str, Any]) -> tuple[str, ...]:
        op = message.get("op")  # this protocol names the kind "op", not "type"
        return (op,) if isinstance(op, str) else ()

    async def connect_llm(self) -> None:
        self._welcome.clear()
        await self.open_websocket(self.options.url)
        await self.send_json({"op": "hello", "rate": self.input_sample_rate})
        await self._welcome.wait()  # connect_timeout bounds this

    async def disconnect_llm(self) -> None:
        await self.send_json({"op": "bye"})

    async def handle_user_audio_stream(self, chunk: AudioChunk) -> None:
        await self.send_json({"op": "mic", "pcm": b64(chunk.pcm)})

    async def send_ready_message(self) -> None:
        self.emit_bot_ready({"provider": "parrot", "session": self.session_id})

    async def send_message(self, message: rtvi.RTVIMessage) -> None:
        if isinstance(message, rtvi.SendText):
            await self.send_json({"op": "say", "text": message.data.content})
            return
        await super().send_message(message)  # disconnect-bot; anything else is unsupported

    # ---- incoming messages
    def _on_welcome(self, msg: dict[str, Any]) -> None:
        self.session_id = msg["session"]
        self._welcome.set()

    # --8<-- [start:barge-in]
    async def _on_listening(self, msg: dict[str, Any]) -> None:
        mark = self.user_started_speaking()  # the speaker is silent from here on
        if mark.item_id is not None and mark.dropped_ms > 0:
            await self.send_json({"op": "heard", "reply": mark.item_id, "ms": mark.played_ms})

    # --8<-- [end:barge-in]

    def _on_transcript(self, msg: dict[str, Any]) -> None:
        self.user_transcript(msg["text"], final=True)  # one final transcript per utterance

    def _on_reply_end(self, msg: dict[str, Any]) -> None:
        self.bot_audio_done(msg["id"])  # play the tail out even if under the prebuffer
        self.bot_transcript(msg["text"], reply_id=msg["id"])
        self.bot_reply_done(msg["id"])  # bot-output with its words, bot-llm-stopped


# --8<-- [end:transport]


def unb64(data: str) -> bytes:
    return base64.b64decode(data)


# --8<-- [start:server]
class ParrotServer:
    """The parrot protocol's server: an energy VAD that repeats each utterance back.

    It is also the provider's test double, so it records what it received and
    lets a test make it speak (:meth:`say`) or barge in (:meth:`barge_in`).
    """

    FRAME = 320  # 20 ms at 16 kHz
    LOUD = 300  # RMS above which a frame is speech
    END_FRAMES = 25  # 500 ms of quiet ends the turn

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.audio_in = bytearray()  # every mic sample received, in order
        self.heard: list[tuple[str, int]] = []  # (reply id, ms) from "heard" messages
        self.connections: list[ServerConnection] = []
        self._server: Server | None = None
        self._replies = 0

    @property
    def url(self) -> str:
        assert self._server is not None, "the server is not running"
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://{self.host}:{port}/parrot"

    async def start(self) -> ParrotServer:
        self._server = await serve(self._session, self.host, self.port)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> ParrotServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _session(self, ws: ServerConnection) -> None:
        self.connections.append(ws)
        pending = np.zeros(0, np.int16)  # samples not yet a whole frame
        utterance: list[Int16Array] = []
        quiet = 0
        async for frame in ws:
            msg = json.loads(frame)
            op = msg.get("op")
            if op == "hello":
                await ws.send(json.dumps({"op": "welcome", "session": f"s{len(self.connections)}"}))
            elif op == "say":
                await self._reply(ws, tone(0.3), f"You said: {msg['text']}")
            elif op == "heard":
                self.heard.append((msg["reply"], msg["ms"]))
            elif op == "bye":
                await ws.close()
            elif op == "mic":
                pcm = unb64(msg["pcm"])
                self.audio_in += pcm
                pending = np.concatenate([pending, np.frombuffer(pcm, np.int16)])
                while len(pending) >= self.FRAME:
                    frame_pcm, pending = pending[: self.FRAME], pending[self.FRAME :]
                    loud = np.sqrt(np.mean(frame_pcm.astype(np.float64) ** 2)) > self.LOUD
                    if loud and not utterance:
                        await ws.send(json.dumps({"op": "listening"}))
                    if loud or utterance:
                        utterance.append(frame_pcm)
                        quiet = 0 if loud else quiet + 1
                    if utterance and quiet >= self.END_FRAMES:
                        speech = np.concatenate(utterance[: -self.END_FRAMES])
                        utterance, quiet = [], 0
                        await self._answer(ws, speech)

    async def _answer(self, ws: ServerConnection, speech: Int16Array) -> None:
        seconds = len(speech) / 16000
        await ws.send(json.dumps({"op": "thinking"}))
        await ws.send(json.dumps({"op": "transcript", "text": f"({seconds:.1f} s of speech)"}))
        echo = soxr.resample(speech, 16000, 24000).astype(np.int16)
        await self._reply(ws, echo, f"(parrot) I heard {seconds:.1f} s of you")

    async def _reply(self, ws: ServerConnection, pcm: Int16Array, text: str) -> None:
        self._replies += 1
        reply = f"r{self._replies}"
        for i in range(0, len(pcm), 2400):  # 100 ms per message
            await ws.send(
                json.dumps({"op": "reply", "id": reply, "pcm": b64(pcm[i : i + 2400].tobytes())})
            )
        await ws.send(json.dumps({"op": "reply_end", "id": reply, "text": text}))

    # ---- test controls
    async def say(self, pcm: Int16Array, text: str = "") -> None:
        """Send ``pcm`` (24 kHz) as a reply on the newest connection."""
        await self._reply(self.connections[-1], pcm, text)

    async def barge_in(self) -> None:
        """Act as if the VAD heard the user start speaking."""
        await self.connections[-1].send(json.dumps({"op": "listening"}))


# --8<-- [end:server]


def tone(seconds: float, freq: float = 880.0, rate: int = 24000) -> Int16Array:
    t = np.arange(round(seconds * rate)) / rate
    return (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


# --8<-- [start:session]
async def talk(url: str, wav_in: Path | None, wav_out: Path | None, seconds: float) -> int:
    """One session: print what happens; with ``wav_in``, say it and wait for the reply."""
    media: FileMediaManager | None = None  # None: the default microphone and speaker
    speech = np.zeros(0, np.int16)
    if wav_in is not None:
        speech, rate = read_wav(wav_in)
        # A silent mic to start with: the speech is fed once the session is ready, and
        # followed by a second of silence so the server hears the turn end.
        speech = np.concatenate([speech, np.zeros(rate, np.int16)])
        media = FileMediaManager(None, input_rate=rate, output=wav_out, realtime=False)
    transport = ParrotTransport(ParrotOptions(url=url, connect_timeout=5.0), media)
    replies: list[str] = []
    replied = asyncio.Event()

    @transport.event_handler("transport-state-changed")
    def state(msg: rtvi.RTVIMessage) -> None:
        assert isinstance(msg, rtvi.TransportStateChanged)
        print(f"state: {msg.data.state}")

    @transport.event_handler("bot-ready")
    def ready(msg: rtvi.RTVIMessage) -> None:
        print(f"bot-ready: {msg.to_json()}")

    @transport.event_handler("user-transcription")
    def you(msg: rtvi.RTVIMessage) -> None:
        assert isinstance(msg, rtvi.UserTranscription)
        print(f"you: {msg.data.text}")

    @transport.event_handler("bot-output")
    def bot(msg: rtvi.RTVIMessage) -> None:
        assert isinstance(msg, rtvi.BotOutput)
        replies.append(msg.data.text)
        print(f"bot: {msg.data.text}")

    transport.on("bot-stopped-speaking", lambda msg: replied.set())

    async with transport:
        if media is not None:
            media.feed(speech)
            await asyncio.wait_for(replied.wait(), timeout=30)
        else:
            await asyncio.sleep(seconds)
    if media is not None:
        played = media.output_audio()
        print(
            f"done: {len(replies)} reply, {len(played) / media.output_rate:.2f} s of audio played"
        )
    return 0 if replies or media is None else 1


# --8<-- [end:session]


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", help="a running parrot server (default: start one here)")
    parser.add_argument("--input", type=Path, help="WAV to say instead of the microphone")
    parser.add_argument("--output", type=Path, help="WAV to record the reply to (with --input)")
    parser.add_argument(
        "--seconds", type=float, default=30.0, help="session length without --input"
    )
    parser.add_argument("--serve", type=int, metavar="PORT", help="only run the server on PORT")
    args = parser.parse_args(argv)
    if args.serve is not None:
        async with ParrotServer(port=args.serve) as server:
            print(f"parrot server on {server.url}", flush=True)
            await asyncio.Future()  # until Ctrl-C
        return 0
    if args.url:
        return await talk(args.url, args.input, args.output, args.seconds)
    async with ParrotServer() as server:
        return await talk(server.url, args.input, args.output, args.seconds)


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(130)
