"""``rtws talk``/``rtws demo`` cancel echo on sound devices; ``--no-echo-cancellation`` stops it."""

from __future__ import annotations

from io import StringIO

import pytest
from rich.console import Console
from rtws_openai.testing import DEFAULT_API_KEY, FakeRealtimeServer, ScriptedBot

from rtws.audio.echo import EchoStats
from rtws.cli import build_parser
from rtws.cli.view import SessionView
from tests.test_cli import cli_env, run_cli_async


def render(view: SessionView) -> str:
    console = Console(file=StringIO(), width=100, color_system=None)
    console.print(view)
    out = console.file
    assert isinstance(out, StringIO)
    return out.getvalue()


def test_the_live_view_shows_what_the_canceller_removes_and_the_echo_delay() -> None:
    view = SessionView("openai")
    assert "no cancellation" in render(view)
    view.echo = EchoStats(sample_rate=48000)
    assert "waiting for the bot to speak" in render(view)
    view.echo = EchoStats(sample_rate=48000, erle_db=38.4, delay_ms=52.0)
    assert "cancelling · 38 dB removed · echo delay 52 ms" in render(view)


def test_both_session_commands_take_the_flag() -> None:
    parser = build_parser()
    for command in (["talk", "openai"], ["demo"]):
        assert parser.parse_args(command).echo_cancellation is True
        assert parser.parse_args([*command, "--no-echo-cancellation"]).echo_cancellation is False


@pytest.mark.devices
@pytest.mark.parametrize("flag", [None, "--no-echo-cancellation"])
async def test_talk_on_devices_runs_the_canceller_unless_told_not_to(flag: str | None) -> None:
    async with FakeRealtimeServer(bot=ScriptedBot()) as server:
        code, _, err = await run_cli_async(
            "talk", "openai",
            "--url", server.url,
            "--mic", "virtual_mic",
            "--speaker", "virtual_speaker",
            "--duration", "1.5",
            "--plain",
            "--debug",
            *([flag] if flag else []),
            env=cli_env(OPENAI_API_KEY=DEFAULT_API_KEY),
        )  # fmt: skip
    assert code == 0, err
    # The media layer's debug line, logged from the first mic block on while it runs.
    running = "echo canceller at " in err
    assert running is (flag is None), err[-2000:]
