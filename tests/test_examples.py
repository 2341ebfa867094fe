"""Every example and notebook runs, headless, against local fake servers; the docs build.

Examples run as subprocesses exactly as a user would start them; notebooks
run through nbclient in a real Jupyter kernel (so they prove they work inside
a running event loop); the docs site builds with ``mkdocs build --strict``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import wave
from collections.abc import AsyncGenerator
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import nbformat
import numpy as np
import pytest
import soxr
from nbclient import NotebookClient
from nbformat.notebooknode import NotebookNode

from rtws import MediaManager, PlaybackMark, RealTimeWebsocketTransport, rtvi
from rtws.audio import read_wav
from rtws.testing import (
    ProviderConformance,
    ProviderHarness,
    alignment,
    audible_span,
    dominant_frequency,
    tone,
)
from rtws.testing.signals import Int16Array

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DATA = ROOT / "tests" / "data"
SPEECH = DATA / "speech_16k.wav"


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a module (examples are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def run_example(*args: str, timeout: float = 60.0, env: dict[str, str] | None = None) -> str:
    """Run ``python examples/<args>``: its stdout, or a failure showing its stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, f"{args} exited {proc.returncode}:\n{err.decode()}\n{out.decode()}"
    return out.decode()


parrot = load_example("new_provider")


# ---------------------------------------------------------------- new_provider.py
async def test_new_provider_example_repeats_the_speech(tmp_path: Path) -> None:
    out_wav = tmp_path / "reply.wav"
    stdout = await run_example(
        "examples/new_provider.py",
        "--input",
        str(DATA / "speech_16k.wav"),
        "--output",
        str(out_wav),
    )
    lines = stdout.splitlines()
    assert lines[:3] == ["state: connecting", "state: connected", "state: ready"]
    assert lines[3].startswith('bot-ready: {"label":"rtvi-ai","type":"bot-ready"')
    assert "you: (2.8 s of speech)" in lines
    assert "bot: (parrot) I heard 2.8 s of you" in lines
    assert lines[-3:-1] == ["state: disconnecting", "state: disconnected"]
    assert lines[-1].startswith("done: 1 reply")
    # The reply is the speech itself, said back at the speaker's rate.
    reply, rate = read_wav(out_wav)
    speech, speech_rate = read_wav(DATA / "speech_16k.wav")
    expected = soxr.resample(speech, speech_rate, rate).astype(np.int16)
    # The server trims the silence around the speech: look for the middle two seconds.
    _lag, match = alignment(reply, expected[rate // 2 : rate * 5 // 2])
    assert match > 0.9


async def test_new_provider_example_against_a_separate_server(tmp_path: Path) -> None:
    async with parrot.ParrotServer() as server:
        stdout = await run_example(
            "examples/new_provider.py", "--url", server.url, "--input", str(DATA / "speech_16k.wav")
        )
        assert len(server.connections) == 1
    assert "bot: (parrot) I heard 2.8 s of you" in stdout.splitlines()


async def test_new_provider_example_serve_mode() -> None:
    """``--serve PORT`` runs only the server, for sessions from elsewhere (Ctrl-C ends it)."""
    server = await asyncio.create_subprocess_exec(
        sys.executable, "examples/new_provider.py", "--serve", "0",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        async with asyncio.timeout(30):
            line = (await server.stdout.readline()).decode()
        assert line.startswith("parrot server on ws://127.0.0.1:"), line
        url = line.split(" on ")[1].strip()
        stdout = await run_example("examples/new_provider.py", "--url", url, "--input", str(SPEECH))
        assert "bot: (parrot) I heard 2.8 s of you" in stdout.splitlines()
    finally:
        server.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            assert await server.wait() == 130


# --8<-- [start:harness]
class ParrotHarness(ProviderHarness):
    """The example provider (``parrot`` = examples/new_provider.py) under the conformance kit."""

    def __init__(self) -> None:
        self.server = parrot.ParrotServer()

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    def make_transport(self, media: MediaManager) -> RealTimeWebsocketTransport:
        return parrot.ParrotTransport(
            parrot.ParrotOptions(url=self.server.url, connect_timeout=3.0), media
        )

    async def server_say(self, pcm: Int16Array) -> None:
        await self.server.say(pcm, "conformance")

    async def server_interrupt(self) -> None:
        await self.server.barge_in()

    def received_audio(self) -> Int16Array:
        return np.frombuffer(bytes(self.server.audio_in), np.int16)

    def truncations(self) -> list[tuple[str, int]]:
        return list(self.server.heard)


class TestParrotConformance(ProviderConformance):
    def make_harness(self) -> ProviderHarness:
        return ParrotHarness()


# --8<-- [end:harness]


# ---------------------------------------------------------------- provider examples
QUESTION = "What is the weather in Paris?"


def reply_tone(seconds: float = 0.8, freq: float = 660.0) -> Int16Array:
    return tone(seconds, 24000, freq)


@contextlib.asynccontextmanager
async def openai_fake(*replies: Any) -> AsyncGenerator[Any]:
    """The OpenAI fake answering with ``replies``; it hears QUESTION in the user's audio."""
    from rtws_openai.testing import FakeRealtimeServer, ScriptedBot

    bot = ScriptedBot(replies, transcripts=[QUESTION])
    async with FakeRealtimeServer(bot=bot) as server:
        yield server


@contextlib.asynccontextmanager
async def gemini_fake(*replies: Any) -> AsyncGenerator[Any]:
    from rtws_gemini.testing import FakeGeminiServer

    async with FakeGeminiServer(playback_wait=0) as server:
        server.script(*replies)
        yield server


def openai_env() -> dict[str, str]:
    from rtws_openai.testing import DEFAULT_API_KEY

    return {"OPENAI_API_KEY": DEFAULT_API_KEY}


GEMINI_ENV = {"GEMINI_API_KEY": "fake-gemini-key", "GOOGLE_API_KEY": ""}


def played_tone(path: Path, freq: float) -> float:
    """Seconds of audible audio in the WAV at ``path``, checking it is the ``freq`` Hz tone."""
    pcm, rate = read_wav(path)
    span = audible_span(pcm)
    assert span is not None, f"{path.name} is silent"
    heard = pcm[span[0] : span[1] + 1]
    assert abs(dominant_frequency(heard, rate) - freq) < 5
    return len(heard) / rate


async def test_openai_minimal_example(tmp_path: Path) -> None:
    from rtws_openai.testing import Reply

    answer = tmp_path / "answer.wav"
    async with openai_fake(Reply.say("It is sunny in Paris.", audio=reply_tone())) as server:
        stdout = await run_example(
            "examples/openai_minimal.py", "--url", server.base_url,
            "--input", str(SPEECH), "--output", str(answer), env=openai_env(),
        )  # fmt: skip
        assert server.received[0]["session"]["instructions"] == (
            "You are a helpful assistant. Be brief."
        )
    assert stdout.splitlines() == [f"you: {QUESTION}", "bot: It is sunny in Paris."]
    assert abs(played_tone(answer, 660.0) - 0.8) < 0.03


async def test_gemini_minimal_example_url_from_environment(tmp_path: Path) -> None:
    from rtws_gemini.testing import Reply

    answer = tmp_path / "answer.wav"
    reply = Reply(text="Hello from Gemini.", heard=QUESTION, audio=reply_tone())
    async with gemini_fake(reply) as server:
        stdout = await run_example(
            "examples/gemini_minimal.py", "--input", str(SPEECH), "--output", str(answer),
            env={**GEMINI_ENV, "RTWS_EXAMPLE_URL": server.url},
        )  # fmt: skip
        assert len(server.connections) == 1
    assert stdout.splitlines() == [f"you: {QUESTION}", "bot: Hello from Gemini."]
    assert abs(played_tone(answer, 660.0) - 0.8) < 0.03


async def test_tools_example_openai() -> None:
    from rtws_openai.testing import Reply

    weather = parrot_free_weather("Paris")
    async with openai_fake(
        Reply.call("get_weather", {"city": "Paris"}),
        Reply.say(f"It is {weather['temperature_c']} degrees in Paris."),
    ) as server:
        stdout = await run_example(
            "examples/tools_weather.py", "--url", server.base_url, "--input", str(SPEECH),
            env=openai_env(),
        )  # fmt: skip
        outputs = [e for e in server.received if e["type"] == "conversation.item.create"]
        tools = server.received[0]["session"]["tools"]
    assert [t["name"] for t in tools] == ["get_weather"]
    assert json.loads(outputs[0]["item"]["output"]) == weather
    assert stdout.splitlines() == [
        f"you: {QUESTION}",
        f'tool: get_weather({{"city": "Paris"}}) -> {json.dumps(weather)}',
        f"bot: It is {weather['temperature_c']} degrees in Paris.",
    ]


async def test_tools_example_gemini() -> None:
    from rtws_gemini.testing import Reply, ToolCall

    weather = parrot_free_weather("Oslo")
    reply = Reply(
        text="Here you go: {results}",
        heard=QUESTION,
        tool_calls=[ToolCall("get_weather", {"city": "Oslo"})],
    )
    async with gemini_fake(reply) as server:
        stdout = await run_example(
            "examples/tools_weather.py", "--provider", "gemini", "--url", server.url,
            "--input", str(SPEECH), env=GEMINI_ENV,
        )  # fmt: skip
    lines = stdout.splitlines()
    assert lines[0] == f"you: {QUESTION}"
    assert lines[1] == f'tool: get_weather({{"city": "Oslo"}}) -> {json.dumps(weather)}'
    assert lines[2].startswith("bot: Here you go:") and str(weather["temperature_c"]) in lines[2]


def parrot_free_weather(city: str) -> dict[str, Any]:
    """What the example's deterministic weather function answers for ``city``."""
    return load_example("tools_weather").get_weather(city)


async def test_record_session_example_records_both_sides(tmp_path: Path) -> None:
    from rtws_openai.testing import Reply

    record = tmp_path / "talk.wav"
    async with openai_fake(Reply.say("Recorded.", audio=reply_tone(1.0))) as server:
        stdout = await run_example(
            "examples/record_session.py", "--url", server.base_url, "--input", str(SPEECH),
            "--record", str(record), env=openai_env(),
        )  # fmt: skip
    assert stdout.startswith("recorded ") and "bot 1.00 s of audio" in stdout
    stereo, rate = read_wav_channels(record)
    assert rate == 24000 and stereo.shape[1] == 2
    you, bot = stereo[:, 0], stereo[:, 1]
    speech, speech_rate = read_wav(SPEECH)
    _lag, match = alignment(you, soxr.resample(speech, speech_rate, rate).astype(np.int16))
    assert match > 0.95  # the left channel is what the mic said
    span = audible_span(bot)
    assert span is not None
    assert abs((span[1] - span[0] + 1) / rate - 1.0) < 0.01  # the right one, the whole reply
    assert span[0] > audible_span(you)[1]  # type: ignore[index]  # ...after the question


def read_wav_channels(path: Path) -> tuple[np.ndarray[Any, np.dtype[np.int16]], int]:
    with wave.open(str(path), "rb") as wav:
        frames = wav.readframes(wav.getnframes())
        return np.frombuffer(frames, np.int16).reshape(-1, wav.getnchannels()), wav.getframerate()


# ---------------------------------------------------------------- notebooks
def execute_notebook(name: str) -> NotebookNode:
    """Run a notebook top to bottom in a real kernel, from examples/ as its working directory."""
    nb = cast(NotebookNode, nbformat.read(EXAMPLES / name, as_version=4))
    client = NotebookClient(
        nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any failure
    return nb


def outputs(nb: NotebookNode, mime: str) -> list[str]:
    return [
        str(out["data"][mime])
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if mime in out.get("data", {})
    ]


def test_notebooks_are_generated_and_saved_without_outputs() -> None:
    check = subprocess.run(
        [sys.executable, str(EXAMPLES / "make_notebooks.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    for path in EXAMPLES.glob("*.ipynb"):
        nb = cast(NotebookNode, nbformat.read(path, as_version=4))
        cells = cast(list[NotebookNode], nb.cells)
        assert all(not c.get("outputs") for c in cells if c.cell_type == "code"), path.name


def test_quickstart_notebook() -> None:
    nb = execute_notebook("quickstart.ipynb")
    chat = next(m for m in outputs(nb, "text/markdown") if m.startswith("`disconnected`"))
    assert "🧑 **you:** Hello, who are you?" in chat  # the live view ended on the whole chat
    # One bot-output per reply (options.bot_output="reply"): the reply's whole text.
    assert "🤖 **bot:** Hello! I am a scripted stand-in for the model. Ask me anything." in chat
    assert any("<audio" in html for html in outputs(nb, "text/html"))


def test_bring_your_own_provider_notebook() -> None:
    nb = execute_notebook("bring_your_own_provider.ipynb")
    markdown = outputs(nb, "text/markdown")
    # The live view was updated in place to the session's end (it started at 0 events).
    view = next(m for m in markdown if m.startswith("**state**"))
    assert "`disconnected`" in view and "**events** 0 " not in view
    assert "**bot:** (parrot) I heard 2.8 s of you" in view
    checks = next(m for m in markdown if "test_states_connect_then_disconnect" in m)
    assert "❌" not in checks and checks.count("✅") >= 9
    assert any("<audio" in html for html in outputs(nb, "text/html"))


def test_inspecting_a_session_notebook() -> None:
    nb = execute_notebook("inspecting_a_session.ipynb")
    assert len(outputs(nb, "image/png")) == 1
    table = next(m for m in outputs(nb, "text/markdown") if m.startswith("| time |"))
    assert table.count("`user-transcription`") == 2 and table.count("`metrics`") == 2
    assert any("<audio" in html for html in outputs(nb, "text/html"))


def test_recorder_cuts_the_reply_where_the_user_interrupted(tmp_path: Path) -> None:
    recorder = load_example("record_session").Recorder(16000, 24000)
    recorder.mic(np.zeros(16000, np.int16).tobytes())  # one second of the user
    recorder.speaker(tone(1.0, 24000).tobytes(), "item")  # a two-second reply arrives...
    recorder.mic(np.zeros(8000, np.int16).tobytes())  # (the mic runs on meanwhile)
    recorder.speaker(tone(1.0, 24000).tobytes(), "item")
    # ...and the user barges in after 0.5 s of it: 1.5 s were still queued.
    recorder.interrupted(PlaybackMark("item", 500, 1500, 48000))
    recorder.mic(np.zeros(8000, np.int16).tobytes())
    assert recorder.save(tmp_path / "cut.wav") == 2.0
    stereo, _ = read_wav_channels(tmp_path / "cut.wav")
    span = audible_span(stereo[:, 1])
    assert span is not None
    assert abs(span[0] - 24000) <= 1  # from 1.0 s (a sine starts at 0)...
    assert abs(span[1] + 1 - 36000) <= 1  # ...to 1.5 s only
    assert recorder.bot_samples == 12000


# ---------------------------------------------------------------- docs
DOCS = ROOT / "docs"
SNIPPETS = sorted(p for p in (DOCS / "snippets").glob("*.py") if not p.name.startswith("_"))
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)
INCLUDE = re.compile(r'^--8<-- "(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"$')


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[p.stem for p in SNIPPETS])
async def test_doc_snippet_runs(snippet: Path) -> None:
    stdout = await run_example(str(snippet.relative_to(ROOT)))
    assert stdout.splitlines()[-1] == "ok"


def test_python_in_the_docs_comes_from_tested_files() -> None:
    """Guides show Python only through includes of files the suite runs, so none can rot."""
    tested = (EXAMPLES, DOCS / "snippets", ROOT / "tests")
    includes = 0
    for page in DOCS.rglob("*.md"):
        for fence in FENCE.finditer(page.read_text()):
            info = fence["info"].strip()
            if "python" not in info and info not in ("py", "python3"):
                continue
            for line in fence["body"].splitlines():
                match = INCLUDE.match(line)
                assert match, f"{page.relative_to(ROOT)}: inline Python in the docs: {line!r}"
                path = ROOT / match["path"]
                assert path.is_file(), f"{page.name} includes a missing file {match['path']}"
                assert any(path.is_relative_to(d) for d in tested), f"{path} is not tested"
                if match["section"]:
                    assert f"# --8<-- [start:{match['section']}]" in path.read_text()
                includes += 1
    assert includes >= 15


def test_event_table_lists_every_rtvi_type() -> None:
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    table: str = hooks.event_table()
    rows = table.splitlines()[2:]
    assert sorted(r.split("`")[1] for r in rows) == sorted(rtvi.message_types())
    ready = next(r for r in rows if r.startswith("| `bot-ready` |"))
    assert "`version?: str`" in ready and "rtvi.BotReady" in ready
    assert "| `{}` |" not in table  # every payload model has fields
    page = "intro\n<!-- rtvi-event-table -->\noutro"
    assert hooks.on_page_markdown(page) == f"intro\n{table}\noutro"


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs is not installed")
async def test_docs_build_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    async with asyncio.timeout(120):
        out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    pages = {p: p.read_text() for p in site.rglob("*.html")}
    assert not [p for p, html in pages.items() if "--8&lt;--" in html or "--8<--" in html]
    events = (site / "reference" / "events" / "index.html").read_text()
    for kind in rtvi.message_types():
        assert f"<code>{kind}</code>" in events, kind
    guide = (site / "providers" / "index.html").read_text()
    assert "ParrotHarness" in guide and "handle_user_audio_stream" in guide
    reference = (site / "providers" / "openai" / "index.html").read_text()
    assert "turn_detection" in reference  # mkdocstrings rendered the options model
