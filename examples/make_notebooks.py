"""Writes the example notebooks (``examples/*.ipynb``) from the cell sources below.

Notebooks are JSON, which diffs and reviews badly; keeping their source here
as plain strings makes a change one readable hunk. The notebooks are saved
without outputs: CI executes them (tests/test_examples.py), and a test
checks that the files on disk match this script.

    python examples/make_notebooks.py          # rewrite the notebooks
    python examples/make_notebooks.py --check  # exit 1 if any is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

HERE = Path(__file__).resolve().parent


def md(source: str) -> tuple[str, str]:
    return ("markdown", source.strip("\n"))


def code(source: str) -> tuple[str, str]:
    return ("code", source.strip("\n"))


# ---------------------------------------------------------------- quickstart
QUICKSTART = [
    md("""
# Quickstart

A voice session with OpenAI Realtime from a notebook: connect, say something, watch the
transcript arrive live, listen to the answer. It runs against the local fake of the API
that ships with `rtws-openai`, so it needs no key and no sound card; the last section
shows what changes for the real thing.

Jupyter already runs an event loop, so everything below uses top-level `await` — never
`asyncio.run()`.
"""),
    code("""
import asyncio

import numpy as np
from IPython.display import Audio, Markdown, display
from rtws_openai import OpenAIRealtimeOptions, OpenAIRealtimeTransport
from rtws_openai.testing import DEFAULT_API_KEY, FakeRealtimeServer, Reply, ScriptedBot

from rtws import FileMediaManager, rtvi
from rtws.audio import read_wav
"""),
    md("""
## A stand-in for the API

`FakeRealtimeServer` speaks the OpenAI Realtime GA protocol on 127.0.0.1. Its "model" is
scripted here: it hears one question and answers it (with stand-in speech).
"""),
    code("""
bot = ScriptedBot(
    [Reply.say("Hello! I am a scripted stand-in for the model. Ask me anything.")],
    transcripts=["Hello, who are you?"],
)
server = await FakeRealtimeServer(bot=bot).start()
server.base_url
"""),
    md("""
## Connect, talk, watch

`FileMediaManager` is the sound card: the microphone says a WAV file, the speaker is
recorded. The chat below is a display handle, updated from event handlers while the
session runs.
"""),
    code("""
options = OpenAIRealtimeOptions(
    base_url=server.base_url,  # leave out for the real API
    api_key=DEFAULT_API_KEY,  # the real API: your key, or OPENAI_API_KEY in the environment
    instructions="You are a friendly assistant. Be brief.",
)
speech, rate = read_wav("data/speech_16k.wav")
media = FileMediaManager(None, input_rate=rate, realtime=False)
transport = OpenAIRealtimeTransport(options, media)

chat: list[str] = []
status = {"state": "disconnected"}
view = display(Markdown("*not connected*"), display_id=True)


def refresh() -> None:
    view.update(Markdown(f"`{status['state']}`\\n\\n" + "\\n\\n".join(chat)))


@transport.event_handler("transport-state-changed")
def on_state(msg: rtvi.TransportStateChanged) -> None:
    status["state"] = msg.data.state
    refresh()


@transport.event_handler("user-transcription")
def on_user(msg: rtvi.UserTranscription) -> None:
    if msg.data.final:
        chat.append(f"🧑 **you:** {msg.data.text}")
        refresh()


@transport.event_handler("bot-output")
def on_bot(msg: rtvi.BotOutput) -> None:
    chat.append(f"🤖 **bot:** {msg.data.text}")
    refresh()


answered = asyncio.Event()
transport.on("bot-stopped-speaking", lambda msg: answered.set())

async with transport:  # returns once the session is ready
    media.feed(np.concatenate([speech, np.zeros(rate, np.int16)]))  # then 1 s of silence
    await asyncio.wait_for(answered.wait(), timeout=30)
"""),
    md("What the speaker played:"),
    code("""
answer = media.output_audio()
Audio(answer, rate=media.output_rate)
"""),
    code("""
# The chat shows the whole exchange; the session is closed and the server heard us.
assert status["state"] == "disconnected"
assert chat[0] == "🧑 **you:** Hello, who are you?", chat
said = " ".join(line.removeprefix("🤖 **bot:** ") for line in chat[1:])  # a sentence at a time
assert said == "Hello! I am a scripted stand-in for the model. Ask me anything.", chat
assert len(answer) / media.output_rate > 1.0
assert len(server.audio_in) // 2 / 24000 > len(speech) / rate  # all of it, at 24 kHz
await server.stop()
"""),
    md("""
## The real thing

With a key in `OPENAI_API_KEY` and a microphone, drop the fake server and the file media:

```python
transport = OpenAIRealtimeTransport(OpenAIRealtimeOptions(instructions="Be brief."))
transport.on("bot-output", lambda msg: print("bot:", msg.data.text))
await transport.connect()  # the default mic and speaker
# ... talk ...
await transport.disconnect()
```

Gemini Live works the same way with `rtws_gemini.GeminiLiveTransport`.
"""),
    md("""
## Deepgram Voice Agent

The same session with `rtws_deepgram`, against its fake of the Voice Agent API: speech in,
a reply out, and a typed turn (`send-text`, which Deepgram calls `InjectUserMessage`).
"""),
    code("""
from rtws_deepgram import DeepgramVoiceAgentTransport
from rtws_deepgram.testing import FakeDeepgramAgent, options_for
from rtws_deepgram.testing import Reply as AgentReply

async with FakeDeepgramAgent(pace=0) as agent_server:
    agent_server.script(AgentReply(text="Hi, I am the Deepgram fake.", heard="Hello there"))
    dg_media = FileMediaManager(None, input_rate=rate, realtime=False)
    deepgram = DeepgramVoiceAgentTransport(options_for(agent_server), dg_media)
    said: list[str] = []
    deepgram.on("bot-output", lambda msg: said.append(msg.data.text))
    async with deepgram:
        dg_media.feed(np.concatenate([speech, np.zeros(rate, np.int16)]))
        await agent_server.wait_until(lambda: len(said) == 1, 30)
        await deepgram.send_message(rtvi.SendText(data=rtvi.SendTextData(content="Thanks!")))
        await agent_server.wait_until(lambda: len(said) == 2, 30)
said
"""),
    code("""
assert said == ["Hi, I am the Deepgram fake.", "You said: Thanks."], said
Audio(dg_media.output_audio(), rate=dg_media.output_rate)
"""),
]


# ---------------------------------------------------------------- bring your own provider
BYOP = [
    md("""
# Bring your own provider

A provider teaches rtws one more voice protocol. It is a **translation table**: the
abstract `RealTimeWebsocketTransport` already does devices, PCM streaming, resampling,
the playout buffer, interruption, state, events and reconnection; a provider only maps
its wire messages to six hooks (plus `send_message`).

Here we write one for *parrot*, a tiny made-up protocol whose server repeats what you
say. The server comes from [`new_provider.py`](new_provider.py) (it is also the
provider's test double); everything on the client side is written below. The notebook
runs inside Jupyter's event loop: top-level `await`, never `asyncio.run`.
"""),
    code("""
import asyncio
import base64
from typing import Any

import numpy as np
from IPython.display import Audio, Markdown, display
from new_provider import ParrotServer  # the protocol's fake server

from rtws import AudioChunk, FileMediaManager, RealTimeWebsocketTransport, TransportOptions, rtvi
from rtws.audio import read_wav

server = await ParrotServer().start()
server.url
"""),
    md("""
## The protocol

JSON text frames; the message kind is in an `op` field.

| client → server | server → client |
| --- | --- |
| `hello {rate}` | `welcome {session}` |
| `mic {pcm}` — 16 kHz PCM16, base64 | `listening` — its VAD heard the user start |
| `say {text}` | `thinking` — the user stopped |
| `heard {reply, ms}` — how much of a reply was heard | `transcript {text}` |
| `bye` | `reply {id, pcm}` — 24 kHz PCM16, base64; `reply_end {id, text}` |

## The provider

Each hook is a line or two. `attach_llm_listeners` is the dispatch table: one handler
per server message, each calling a base helper (`play_bot_audio`,
`user_started_speaking`, `emit`, …). `message_types` tells the base where this protocol
keeps the message kind.
"""),
    code("""
class ParrotOptions(TransportOptions):
    url: str


class ParrotTransport(RealTimeWebsocketTransport):
    provider_name = "parrot"
    input_sample_rate = 16000
    output_sample_rate = 24000
    options: ParrotOptions

    async def initialize_llm(self) -> None:
        self._welcome = asyncio.Event()

    async def attach_llm_listeners(self) -> None:
        self.on_llm_message("welcome", lambda m: self._welcome.set())
        self.on_llm_message("listening", self._on_listening)
        self.on_llm_message("thinking", lambda m: self.user_stopped_speaking())
        self.on_llm_message("transcript", self._on_transcript)
        self.on_llm_message("reply", lambda m: self.play_bot_audio(unb64(m["pcm"]), m["id"]))
        self.on_llm_message("reply_end", self._on_reply_end)

    def message_types(self, message: dict[str, Any]) -> tuple[str, ...]:
        return (message["op"],) if isinstance(message.get("op"), str) else ()

    async def connect_llm(self) -> None:
        self._welcome.clear()
        await self.open_websocket(self.options.url)
        await self.send_json({"op": "hello", "rate": self.input_sample_rate})
        await self._welcome.wait()

    async def disconnect_llm(self) -> None:
        await self.send_json({"op": "bye"})

    async def handle_user_audio_stream(self, chunk: AudioChunk) -> None:
        await self.send_json({"op": "mic", "pcm": base64.b64encode(chunk.pcm).decode()})

    async def send_ready_message(self) -> None:
        self.emit_bot_ready({"provider": "parrot"})

    async def send_message(self, message: rtvi.RTVIMessage) -> None:
        if isinstance(message, rtvi.SendText):
            await self.send_json({"op": "say", "text": message.data.content})
            return
        await super().send_message(message)

    async def _on_listening(self, msg: dict[str, Any]) -> None:
        mark = self.user_started_speaking()  # the speaker is silent from here on
        if mark.item_id is not None and mark.dropped_ms > 0:
            await self.send_json({"op": "heard", "reply": mark.item_id, "ms": mark.played_ms})

    def _on_transcript(self, msg: dict[str, Any]) -> None:
        self.emit(rtvi.user_transcription(msg["text"], final=True))

    def _on_reply_end(self, msg: dict[str, Any]) -> None:
        self.bot_audio_done(msg["id"])
        self.emit(rtvi.bot_output(msg["text"], spoken=True))


def unb64(data: str) -> bytes:
    return base64.b64decode(data)
"""),
    md("""
## A session, with a live view

`FileMediaManager` stands in for the sound card: the "microphone" says a WAV file and
the "speaker" is recorded. (With `media=None` the transport would open the default
microphone and speaker instead.) The view below updates on every event while the session
runs.
"""),
    code("""
speech, rate = read_wav("data/speech_16k.wav")
media = FileMediaManager(None, input_rate=rate, realtime=False)
transport = ParrotTransport(ParrotOptions(url=server.url), media)

view = {"state": "disconnected", "you": "", "bot": "", "mic": 0.0, "speaker": 0.0, "events": 0}


def bar(value: float) -> str:
    return "█" * round(value * 20) + "·" * (20 - round(value * 20))


def render() -> Markdown:
    return Markdown(
        f"**state** `{view['state']}` · **events** {view['events']}  \\n"
        f"mic `{bar(view['mic'])}` speaker `{bar(view['speaker'])}`  \\n"
        f"**you:** {view['you']}  \\n**bot:** {view['bot']}"
    )


handle = display(render(), display_id=True)
replied = asyncio.Event()


def on_event(msg: rtvi.RTVIMessage) -> None:
    view["events"] += 1
    match msg:
        case rtvi.TransportStateChanged():
            view["state"] = msg.data.state
        case rtvi.UserTranscription():
            view["you"] = msg.data.text
        case rtvi.BotOutput():
            view["bot"] = msg.data.text
        case rtvi.UserAudioLevel():
            view["mic"] = msg.data.value
        case rtvi.BotAudioLevel():
            view["speaker"] = msg.data.value
        case rtvi.BotStoppedSpeaking():
            replied.set()
    handle.update(render())


transport.on("*", on_event)
async with transport:
    media.feed(np.concatenate([speech, np.zeros(rate, np.int16)]))  # then a second of silence
    await asyncio.wait_for(replied.wait(), timeout=30)
"""),
    md("The parrot's reply — your own voice, said back at 24 kHz:"),
    code("""
reply = media.output_audio()
Audio(reply, rate=media.output_rate)
"""),
    code("""
# What the view shows is what happened.
assert view["state"] == "disconnected"
assert view["you"] == "(2.8 s of speech)", view
assert view["bot"] == "(parrot) I heard 2.8 s of you", view
assert len(reply) / media.output_rate > 2.5
"""),
    md("""
## Prove it with the conformance kit

`rtws.testing` checks the transport contract against any provider: state order,
`bot-ready`, hook order, audio both ways, barge-in with a sane `PlaybackMark`, event
shapes, and a clean, reusable disconnect. A provider supplies a small harness around
its fake server. In a test suite you would inherit `ProviderConformance` in a
`Test…` class and let pytest run it; here `run()` does the same inside the notebook.
"""),
    code("""
from rtws.testing import ProviderConformance, ProviderHarness


class ParrotHarness(ProviderHarness):
    async def start(self) -> None:
        self.server = await ParrotServer().start()

    async def stop(self) -> None:
        await self.server.stop()

    def make_transport(self, media):
        return ParrotTransport(ParrotOptions(url=self.server.url, connect_timeout=3.0), media)

    async def server_say(self, pcm) -> None:
        await self.server.say(pcm)

    async def server_interrupt(self) -> None:
        await self.server.barge_in()

    def received_audio(self):
        return np.frombuffer(bytes(self.server.audio_in), np.int16)

    def truncations(self):
        return list(self.server.heard)


class ParrotConformance(ProviderConformance):
    def make_harness(self) -> ProviderHarness:
        return ParrotHarness()


results = await ParrotConformance().run()
mark = {"ok": "✅", "skipped": "⏭️"}  # skipped: the harness lacks that check's action
lines = [
    f"- {mark.get(r.split(':')[0], '❌')} `{name}` {'' if r == 'ok' else r}"
    for name, r in results.items()
]
display(Markdown("\\n".join(lines)))
"""),
    code("""
assert results, "no checks ran"
assert all(r == "ok" or r.startswith("skipped:") for r in results.values()), results
await server.stop()
"""),
]


# ---------------------------------------------------------------- inspecting a session
INSPECT = [
    md("""
# Inspecting a session

Everything a session does is an event, and `FileMediaManager` keeps what the speaker
played, so a session can be taken apart afterwards: waveforms, levels, latency per turn,
and the recording itself. This one talks to the parrot bot of
[`new_provider.py`](new_provider.py) (its server repeats each utterance), two turns.
"""),
    code("""
import asyncio
import json
import time

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Audio, Markdown, display
from new_provider import ParrotOptions, ParrotServer, ParrotTransport

from rtws import FileMediaManager, rtvi
from rtws.audio import level, read_wav

server = await ParrotServer().start()
speech, rate = read_wav("data/speech_16k.wav")
"""),
    md("""
## Record the session

Every event is logged with its time. The conversation is scripted: say something, wait
for the reply to end, say something shorter. A live line shows progress.
"""),
    code("""
media = FileMediaManager(None, input_rate=rate, realtime=False)
transport = ParrotTransport(ParrotOptions(url=server.url), media)
log: list[tuple[float, rtvi.RTVIMessage]] = []
t0 = time.perf_counter()
turn_over = asyncio.Event()
live = display(Markdown("starting…"), display_id=True)


def record(msg: rtvi.RTVIMessage) -> None:
    log.append((time.perf_counter() - t0, msg))
    if msg.type == "bot-stopped-speaking":
        turn_over.set()
    if not msg.type.endswith("audio-level"):
        live.update(Markdown(f"{len(log)} events · last: `{msg.type}`"))


transport.on("*", record)
utterances = [speech, speech[: len(speech) // 2]]
async with transport:
    for said in utterances:
        turn_over.clear()
        media.feed(np.concatenate([said, np.zeros(rate, np.int16)]))
        await asyncio.wait_for(turn_over.wait(), timeout=30)
"""),
    md("## What happened, in order (levels left out)"),
    code("""
rows = [
    f"| {t * 1000:.1f} ms | `{m.type}` | `{json.dumps(m.to_dict().get('data', ''))}` |"
    for t, m in log
    if not m.type.endswith("audio-level")
]
display(Markdown("| time | event | data |\\n| ---: | --- | --- |\\n" + "\\n".join(rows)))
"""),
    md("""
## Waveforms, levels and latency per turn

The mic panel is what the server received (16 kHz), the speaker panel what was really
played (24 kHz); the orange curve is the level, the same dBFS meter the `*-audio-level`
events use. The file media ran as fast as possible, so each panel has its own clock:
seconds of audio, not of wall time. Latency is the `ttfb` metric: from the end of the
user's turn to the bot's first audio. Against this local parrot, which answers at once
with no model behind it, that is a few milliseconds: rtws's and the loopback socket's own
share of a turn, not what a user waits for. With a real model the same metric is
hundreds of milliseconds (see docs/concepts/latency.md for what it measures exactly).
"""),
    code("""
heard_by_server = np.frombuffer(bytes(server.audio_in), np.int16)
played = media.output_audio()
ttfb = [v.value for _, m in log if isinstance(m, rtvi.Metrics) and m.data.ttfb for v in m.data.ttfb]


def levels(pcm: np.ndarray, sr: int, window_s: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    n = int(sr * window_s)
    values = np.array([level(pcm[i : i + n]) for i in range(0, len(pcm) - n + 1, n)])
    return np.arange(len(values)) * window_s, values


fig, (mic_ax, speaker_ax, latency_ax) = plt.subplots(3, 1, figsize=(9, 7), constrained_layout=True)
for ax, pcm, sr, name in (
    (mic_ax, heard_by_server, 16000, "mic → server"),
    (speaker_ax, played, media.output_rate, "speaker"),
):
    ax.plot(np.arange(len(pcm)) / sr, pcm / 32768, lw=0.3, color="tab:gray")
    ax.set(title=name, xlabel="seconds of audio", ylabel="waveform", ylim=(-1, 1))
    level_ax = ax.twinx()
    level_ax.plot(*levels(pcm, sr), color="tab:orange")
    level_ax.set(ylabel="level", ylim=(0, 1))
latency_ax.bar([f"turn {i + 1}" for i in range(len(ttfb))], [v * 1000 for v in ttfb])
latency_ax.set(
    title="time to first audio per turn: local parrot, no model (rtws's own overhead)",
    ylabel="ms",
)
plt.show()
"""),
    md("## The recording"),
    code("Audio(played, rate=media.output_rate)"),
    code("""
# The plots and the table show what happened: two turns, each answered, each measured.
said = [m.data.text for _, m in log if isinstance(m, rtvi.UserTranscription)]
assert said == ["(2.8 s of speech)", "(1.6 s of speech)"], said
assert len(ttfb) == 2, ttfb
assert all(0 < v < 5 for v in ttfb), ttfb
assert len(fig.axes) == 5  # 3 panels + 2 level axes
assert len(latency_ax.patches) == 2
assert abs(len(played) / media.output_rate - 4.4) < 0.3  # both replies, nothing else
await server.stop()
"""),
]

# ---------------------------------------------------------------- seeing
SEEING = [
    md("""
# A voice session that sees

The camera is a picture here (any PNG, JPEG or video file works, and so does a real
camera with `rtws[video]`): the bot is asked about it, and the cell after the session
shows the frame that was really sent. The no-key demo bot behind the local OpenAI fake
"sees" by naming the picture's dominant colour, which is true of whatever it is shown.
"""),
    code("""
import asyncio
import tempfile
from pathlib import Path

import cv2
import numpy as np
from IPython.display import Image, Markdown, display
from rtws_openai import OpenAIRealtimeOptions, OpenAIRealtimeTransport
from rtws_openai.testing import DEFAULT_API_KEY, DemoBot, FakeRealtimeServer

from rtws import FileMediaManager
from rtws.audio import read_wav
"""),
    md("""
## The camera: a picture made here

A yellow card with a dark stripe, 1280x720, as a camera would give it.
"""),
    code("""
card = np.zeros((720, 1280, 3), np.uint8)
card[:] = (30, 215, 240)  # BGR: yellow
card[300:420] = (60, 40, 40)
picture = Path(tempfile.mkdtemp()) / "card.png"
cv2.imwrite(str(picture), card)
"""),
    md("""
## Ask about it

The camera starts off, as in a browser; `enable_cam(True)` switches it on. OpenAI takes
the latest frame into the conversation when the user starts speaking (Gemini would get
one every second).
"""),
    code("""
server = await FakeRealtimeServer(bot=DemoBot(asr=False, tts=False)).start()
speech, rate = read_wav("data/speech_16k.wav")
media = FileMediaManager(None, input_rate=rate, realtime=True, camera=picture)
options = OpenAIRealtimeOptions(base_url=server.base_url, api_key=DEFAULT_API_KEY)
transport = OpenAIRealtimeTransport(options, media)
said: list[str] = []
transport.on("bot-output", lambda msg: said.append(msg.data.text))
answered = asyncio.Event()
transport.on("bot-stopped-speaking", lambda msg: answered.set())

transport.enable_cam(True)
async with transport:
    silence = np.zeros(rate, np.int16)  # a second first: the camera's first frame is taken
    media.feed(np.concatenate([silence, speech, silence]))
    await asyncio.wait_for(answered.wait(), timeout=30)
display(Markdown(f"🤖 **bot:** {said[0]}"))
"""),
    md("## The frame that was sent"),
    code("""
mime, sent = server.connections[0].images[-1]  # what the server received
frame = transport.video.stats.last_frame
display(Image(data=sent, format="jpeg"))
taken = transport.video.stats.frames_sent
display(Markdown(f"{frame.width}x{frame.height} {mime}, {len(sent) / 1000:.1f} kB, {taken} taken"))
"""),
    code("""
# The bot described the picture it received, and the picture is the one we made.
assert said[0].startswith("I see a picture of 768 by 432 pixels, mostly yellow."), said
assert sent == frame.jpeg
assert (frame.width, frame.height) == (768, 432)
await server.stop()
"""),
]

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "quickstart.ipynb": QUICKSTART,
    "bring_your_own_provider.ipynb": BYOP,
    "inspecting_a_session.ipynb": INSPECT,
    "seeing.ipynb": SEEING,
}


def build(name: str, cells: list[tuple[str, str]]) -> NotebookNode:
    nb = nbformat.v4.new_notebook()
    stem = name.removesuffix(".ipynb")
    for i, (kind, source) in enumerate(cells):
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(source)
        else:
            cell = nbformat.v4.new_code_cell(source)
        cell["id"] = f"{stem}-{i:02d}"  # stable ids: regenerating changes nothing
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    return nb


def render(name: str) -> str:
    return nbformat.writes(build(name, NOTEBOOKS[name])) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale notebooks")
    args = parser.parse_args()
    stale: list[str] = []
    for name in NOTEBOOKS:
        path = HERE / name
        text = render(name)
        if path.exists() and path.read_text() == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text)
            print(f"wrote {path.relative_to(HERE.parent)}")
    if args.check and stale:
        print("out of date (run python examples/make_notebooks.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
