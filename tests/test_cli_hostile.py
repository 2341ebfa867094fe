"""Server text never reaches the terminal raw, and cannot crash ``rtws talk`` (issue 16).

A hostile fake server on 127.0.0.1 puts terminal control sequences (window
title, clear screen, a one-byte CSI) and a lone surrogate (valid JSON, not
encodable) into transcripts and into a refused handshake's body. The real
CLI runs against it in a subprocess — plain output on pipes, and the live
view on a pseudo-terminal — and its output must show those characters
escaped, never obey them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rich.console import Console
from rtws_openai.testing import DEFAULT_API_KEY, FakeRealtimeServer, Reply, ScriptedBot

from rtws import rtvi
from rtws.cli.text import printable
from rtws.cli.view import SessionView
from tests.test_cli import SPEECH, PtyCLI, cli_env, error_lines, run_cli_async

TITLE = "\x1b]0;PWNED\x07"  # sets the terminal window's title
CLEAR = "\x1b[2J"  # clears the screen
CSI = "\x9b31m"  # a one-byte CSI on terminals that honour C1 controls
BOT_TEXT = f"Hello {TITLE}there{CLEAR} friend{CSI} \ud800 bye."
USER_TEXT = f"hi {CLEAR}bot \udfff"
RAW = ("\x1b]0;", "\x1b[2J", "\x9b", "\x07")


def assert_no_raw_controls(text: str) -> None:
    for seq in RAW:
        assert seq not in text, f"{seq!r} reached the terminal raw"


def test_printable_escapes_controls_and_replaces_lone_surrogates() -> None:
    assert printable(BOT_TEXT) == (
        "Hello \\x1b]0;PWNED\\x07there\\x1b[2J friend\\x9b31m \ufffd bye."
    )
    assert printable("tab\tand\nnewline stay; ünïcödé and emoji 😀 too") == (
        "tab\tand\nnewline stay; ünïcödé and emoji 😀 too"
    )
    assert printable("\u202eevil") == "\\u202eevil"  # a bidi override cannot reorder the line
    printable(BOT_TEXT).encode("utf-8")  # always encodable


async def test_plain_output_shows_hostile_transcripts_escaped_and_survives(tmp_path: Path) -> None:
    bot = ScriptedBot([Reply.say(BOT_TEXT)], transcripts=[USER_TEXT])
    async with FakeRealtimeServer(bot=bot) as server:
        code, out, err = await run_cli_async(
            "talk", "openai",
            "--url", server.url,
            "--input", str(SPEECH),
            "--output", str(tmp_path / "out.wav"),
            "--duration", "3",
            env=cli_env(OPENAI_API_KEY=DEFAULT_API_KEY),
        )  # fmt: skip
    assert code == 0, err
    assert "probably a bug" not in err and "Traceback" not in err
    assert_no_raw_controls(out + err)
    assert "you: hi \\x1b[2Jbot \ufffd" in out.splitlines()
    assert any(
        line.startswith("bot: Hello \\x1b]0;PWNED\\x07there\\x1b[2J friend\\x9b31m \ufffd bye.")
        for line in out.splitlines()
    ), out


async def test_a_refusal_body_with_control_sequences_is_one_escaped_line(tmp_path: Path) -> None:
    async with FakeRealtimeServer() as server:
        server.reject(401, message=f"Incorrect API key {TITLE}{CLEAR}\ud800 provided")
        code, _, err = await run_cli_async(
            "talk", "openai", "--url", server.url, "--output", str(tmp_path / "o.wav"), "-v",
            env=cli_env(OPENAI_API_KEY=DEFAULT_API_KEY),
        )  # fmt: skip
    assert code == 1
    assert_no_raw_controls(err)
    lines = error_lines(err[err.index("rtws: error: ") :])
    assert "Incorrect API key \\x1b]0;PWNED\\x07\\x1b[2J\ufffd provided" in lines[0]
    assert "OPENAI_API_KEY" in lines[1]


async def test_the_live_view_on_a_terminal_never_obeys_server_text(tmp_path: Path) -> None:
    bot = ScriptedBot([Reply.say(BOT_TEXT)], transcripts=[USER_TEXT])
    async with FakeRealtimeServer(bot=bot) as server:
        cli = PtyCLI(
            "talk", "openai",
            "--url", server.url,
            "--option", f"api_key={DEFAULT_API_KEY}",
            "--input", str(SPEECH),
            "--output", str(tmp_path / "o.wav"),
            "--realtime", "--duration", "60",
        )  # fmt: skip
        try:
            await asyncio.to_thread(cli.wait_for, "PWNED")
            await asyncio.to_thread(cli.wait_for, "bye.")
            cli.press("q")
            assert await asyncio.to_thread(cli.proc.wait, 20) == 0, cli.text()[-2000:]
        finally:
            cli.close()
    text = cli.text()
    assert "Traceback" not in text and "probably a bug" not in text
    assert "\x1b]0;PWNED" not in text  # the window title was never set
    assert CLEAR not in text and "\x9b" not in text
    assert "\\x1b]0;PWNED\\x07" in text  # shown, escaped


@pytest.mark.parametrize("fatal", [False, True])
def test_the_rendered_view_escapes_errors_reasons_and_titles(fatal: bool) -> None:
    view = SessionView("openai")
    view.set_devices(f"mic{CLEAR}", "speaker")
    view.handle(rtvi.BotReady(data=rtvi.BotReadyData(about={"provider": f"x{TITLE}"})))
    view.handle(rtvi.Error(data=rtvi.ErrorData(error=f"bad {TITLE}\ud800", fatal=fatal)))
    view.handle(
        rtvi.Reconnecting(
            data=rtvi.ReconnectingData(attempt=1, max_attempts=3, delay_s=0.5, reason=CLEAR)
        )
    )
    console = Console(record=True, width=200, color_system=None, force_terminal=False)
    console.print(view)
    text = console.export_text()
    assert_no_raw_controls(text)
    assert "bad \\x1b]0;PWNED\\x07\ufffd" in text and "mic\\x1b[2J" in text
    for line in view.lines:
        assert_no_raw_controls(line.plain())
