"""What a CLI session shows, built only from RTVI events.

:class:`SessionView` folds events into a small model (state, levels, the
conversation, latency) and renders it with rich, so the live terminal view
and the plain line output come from the same code, and tests drive it by
feeding events and rendering to a recording console: no TTY needed.

The bot's words are shown a sentence per line, from the streaming
``bot-tts-text`` deltas: ``bot-output`` comes once per reply by default
(``TransportOptions.bot_output``), at its end, which is too late to print as
it is said, and a barge-in must show which sentence was cut, not the whole
reply.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Callable
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .. import rtvi
from ..audio.echo import EchoStats
from ..conversation.text import SentenceSplitter
from .lines import Line
from .text import printable

KEYS_HELP = "m mute · i next mic · s next speaker · q quit"
METER_WIDTH = 24
STATE_STYLES = {"ready": "bold green", "error": "bold red", "disconnected": "dim"}


class SessionView:
    """Session state from events; ``on_line`` hears every line once it is final."""

    def __init__(
        self,
        title: str,
        *,
        keys_help: bool = False,
        visible_lines: int = 12,
        on_line: Callable[[Line], None] | None = None,
    ) -> None:
        self.title = title
        self.keys_help = keys_help
        self.visible_lines = visible_lines
        self.on_line = on_line
        self.state = "disconnected"
        self.about: dict[str, Any] = {}
        self.mic_name = "—"
        self.speaker_name = "—"
        self.muted = False
        #: The camera's line (name, state, frames sent), when a session has one (--cam).
        self.camera_status: Callable[[], str] | None = None
        self.mic_level = 0.0
        self.bot_level = 0.0
        self.user_speaking = False
        self.bot_speaking = False
        self.latencies_ms: list[float] = []
        self.fatal_error: str | None = None
        self.lines: collections.deque[Line] = collections.deque(maxlen=500)
        self._user_partial: Line | None = None
        self._bot_partial: Line | None = None
        self._bot_sentences = SentenceSplitter()  # the deltas since the last bot-output
        self._bot_lines = 0  # sentences of those deltas already shown as lines
        self._cut_shown = False  # the cut reply's line is shown: its bot-output is not
        self._pending_latency: float | None = None
        self._measured_turns = False  # the provider reports turn_latency: ttfb is not shown
        self._turn_line: Line | None = None  # the current reply's first line
        #: The media's echo canceller figures, refreshed by the session before each redraw.
        self.echo: EchoStats | None = None

    # ------------------------------------------------------------------ input
    def handle(self, msg: rtvi.RTVIMessage) -> None:
        """Fold one event into the view."""
        match msg:
            case rtvi.TransportStateChanged(data=data):
                self.state = data.state
            case rtvi.BotReady(data=data):
                self.about = dict(data.about or {})
                self.info(f"connected: {self.describe_bot()}")
            case rtvi.UserAudioLevel(data=data):
                self.mic_level = data.value
            case rtvi.BotAudioLevel(data=data):
                self.bot_level = data.value
            case rtvi.UserStartedSpeaking():
                self.user_speaking = True
            case rtvi.UserStoppedSpeaking():
                self.user_speaking = False
                self._turn_line = None  # a new turn: its reply gets its own latency
            case rtvi.BotStartedSpeaking():
                self.bot_speaking = True
            case rtvi.BotStoppedSpeaking():
                self.bot_speaking = False
            case rtvi.UserTranscription(data=data):
                self._user_text(data.text, final=data.final)
            case rtvi.BotTTSText(data=data) | rtvi.BotLLMText(data=data):
                self._bot_delta(data.text)
            case rtvi.BotOutput(data=data) if data.spoken_status == "interrupted":
                self._bot_cut_output(data.text)
            case rtvi.BotOutput(data=data):
                self._bot_final(data.text)
            case rtvi.BotInterrupted():
                self._interrupted()
            case rtvi.Metrics(data=data):
                self._metrics(data)
            case rtvi.LLMFunctionCallInProgress(data=data):
                self.add(Line("call", f"{data.function_name or '?'}({_compact(data.arguments)})"))
            case rtvi.LLMFunctionCallStopped(data=data):
                outcome = "cancelled" if data.cancelled else f"→ {_compact(data.result)}"
                self.add(Line("call", f"{data.function_name or data.tool_call_id} {outcome}"))
            case rtvi.Error(data=data) if data.fatal:
                # The session is over: the CLI reports this once, as its exit message.
                self.fatal_error = data.error
                self.lines.append(Line("error", data.error))
            case rtvi.Error(data=data):
                self.add(Line("error", data.error))
            case rtvi.DeviceErrorEvent(data=data):
                self.add(Line("error", data.message))
            case rtvi.Reconnecting(data=data):
                self.info(
                    f"reconnecting (attempt {data.attempt} of {data.max_attempts}"
                    f"{f', in {data.delay_s:g} s' if data.delay_s else ''}): {data.reason}"
                )
            case rtvi.Reconnected(data=data):
                resumed = ", conversation resumed" if data.resumed else ""
                self.info(f"reconnected (attempt {data.attempt}{resumed})")
            case rtvi.MicUpdated(data=data):
                self.mic_name = str(data.device.get("name", "?"))
                self.info(f"microphone: {self.mic_name}")
            case rtvi.SpeakerUpdated(data=data):
                self.speaker_name = str(data.device.get("name", "?"))
                self.info(f"speaker: {self.speaker_name}")
            case _:
                pass

    def add(self, line: Line) -> None:
        self.lines.append(line)
        if line.final and self.on_line is not None:
            self.on_line(line)

    def info(self, text: str) -> None:
        self.add(Line("info", text))

    def error(self, text: str) -> None:
        self.add(Line("error", text))

    def set_devices(self, mic: str | None, speaker: str | None) -> None:
        self.mic_name = mic or "—"
        self.speaker_name = speaker or "—"

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        self.info("microphone muted" if muted else "microphone on")

    def describe_bot(self) -> str:
        parts = [str(self.about.get(k)) for k in ("provider", "model") if self.about.get(k)]
        return printable(" ".join(parts) or self.title)

    @property
    def transcript(self) -> list[Line]:
        """The finished user and bot lines, in order."""
        return [line for line in self.lines if line.who in ("you", "bot") and line.final]

    # ------------------------------------------------------------------ transcripts
    def _user_text(self, text: str, *, final: bool) -> None:
        partial = self._user_partial
        if not final:
            if partial is None:
                self._user_partial = Line("you", text, final=False)
                self.lines.append(self._user_partial)
            else:
                partial.text += text
            return
        self._user_partial = None
        if partial is not None:
            partial.text = text or partial.text
            partial.final = True
            if self.on_line is not None:
                self.on_line(partial)
        elif text:
            self.add(Line("you", text))

    def _bot_delta(self, text: str) -> None:
        """A sentence per line: each one complete is final, the one in progress streams."""
        self._cut_shown = False
        for sentence in self._bot_sentences.feed(text):
            self._bot_lines += 1
            partial, self._bot_partial = self._bot_partial, None
            if partial is None:
                self.add(self._bot_line(sentence, final=True))
            else:
                self._finish(partial, sentence)
        rest = self._bot_sentences.rest
        if not rest:
            return
        if self._bot_partial is None:
            self._bot_partial = self._bot_line(rest, final=False)
            self.lines.append(self._bot_partial)
        else:
            self._bot_partial.text = rest

    def _bot_line(self, text: str, *, final: bool) -> Line:
        """A new bot line; the turn's first one carries its latency."""
        line = Line("bot", text, final=final, latency_ms=self._take_latency())
        self._turn_line = self._turn_line or line
        return line

    def _finish(self, line: Line, text: str, *, interrupted: bool = False) -> None:
        line.text = text or line.text
        line.final = True
        line.interrupted = interrupted
        if self.on_line is not None:
            self.on_line(line)

    def _bot_final(self, text: str) -> None:
        """``bot-output``: the end of a reply (or of a sentence, with ``bot_output="sentence"``).

        Its text is whole; the deltas may have been split into lines already. Then
        only the unfinished rest is left to close; with no line shown, the text is.
        """
        partial, self._bot_partial = self._bot_partial, None
        split = self._bot_lines
        self._bot_sentences.flush()
        self._bot_lines = 0
        if partial is not None:
            self._finish(partial, "" if split else text)
        elif not split and text:
            self.add(self._bot_line(text, final=True))

    def _bot_cut_output(self, text: str) -> None:
        """The ``bot-output`` of a cut reply (``spoken_status="interrupted"``): shown at the
        barge-in already, unless no ``bot-interrupted`` came (the bot was not audible)."""
        if self._cut_shown:
            self._cut_shown = False
            return
        partial, self._bot_partial = self._bot_partial, None
        self._bot_sentences.flush()
        self._bot_lines = 0
        if partial is not None:
            self._finish(partial, "", interrupted=True)
        elif text:
            line = self._bot_line(text, final=True)
            line.interrupted = True
            self.add(line)

    def _interrupted(self) -> None:
        partial, self._bot_partial = self._bot_partial, None
        self._bot_sentences.flush()
        self._bot_lines = 0
        self._cut_shown = True
        if partial is not None:
            # The cut reply's last sentence will never be finished (its deltas stop
            # here): show it now, as far as it got. Left open, the next reply's text
            # would flow into it and take its [interrupted] label.
            self._finish(partial, "", interrupted=True)
            return
        for line in reversed(self.lines):
            if line.who == "bot":
                line.interrupted = True
                return

    def _metrics(self, data: rtvi.MetricsData) -> None:
        """Per-turn latency (docs/concepts/latency.md).

        ``turn_latency`` (end of the user's speech → first reply sample played) is what a
        user waits and what a recording shows: it goes on the reply's line, or, when that
        line was printed before playback began (its text comes with the first audio), on a
        line of its own. ``ttfb`` misses the VAD's wait and the playout, so it is only
        summed up in the status bar, labelled, for providers that cannot measure more.
        """
        extra = data.model_extra or {}
        turn = [rtvi.MetricValue.model_validate(m) for m in extra.get("turn_latency") or ()]
        values = [m.value * 1000.0 for m in turn if isinstance(m.value, int | float)]
        if values:
            if not self._measured_turns:
                self._measured_turns = True
                self.latencies_ms.clear()  # ttfb figures so far: another metric
            self.latencies_ms.append(values[-1])
            line = self._turn_line
            if line is None:
                self._pending_latency = values[-1]
            elif line.final:
                line.latency_ms = values[-1]
                self.info(f"turn latency {values[-1]:.0f} ms")
            else:
                line.latency_ms = values[-1]
            return
        if not self._measured_turns:
            self.latencies_ms.extend(
                m.value * 1000.0 for m in data.ttfb or () if isinstance(m.value, int | float)
            )

    def _take_latency(self) -> float | None:
        latency, self._pending_latency = self._pending_latency, None
        return latency

    # ------------------------------------------------------------------ output
    def __rich__(self) -> RenderableType:
        status = Table.grid(padding=(0, 1))
        status.add_column(style="bold", width=8)
        status.add_column(width=METER_WIDTH)
        status.add_column()
        mic_name = self.mic_name + ("  [muted]" if self.muted else "")
        status.add_row(
            "mic",
            _meter(0.0 if self.muted else self.mic_level),
            _device(mic_name, self.user_speaking),
        )
        status.add_row(
            "speaker", _meter(self.bot_level), _device(self.speaker_name, self.bot_speaking)
        )
        if self.camera_status is not None:
            status.add_row("cam", Text(""), Text(printable(self.camera_status())))
        latency = Text.assemble(("latency  ", "bold"), (self.latency_summary(), "dim"))
        echo = Text.assemble(("echo     ", "bold"), (self.echo_summary(), "dim"))
        shown = list(self.lines)[-self.visible_lines :]
        body = Group(status, latency, echo, Text(""), *(line.rich() for line in shown))
        state_style = STATE_STYLES.get(self.state, "yellow")
        return Panel(
            body,
            title=Text.assemble(
                ("rtws ", "bold"), (self.describe_bot(), ""), " · ", (self.state, state_style)
            ),
            title_align="left",
            subtitle=Text(KEYS_HELP, style="dim") if self.keys_help else None,
            subtitle_align="left",
        )

    def echo_summary(self) -> str:
        """The echo canceller's figures (``media.stats.echo``), or why there are none."""
        echo = self.echo
        if echo is None:
            return "no cancellation (headset, or --no-echo-cancellation)"
        if echo.erle_db is None:
            return "cancelling · waiting for the bot to speak"
        delay = f"{echo.delay_ms:.0f} ms" if echo.delay_ms is not None else "—"
        return f"cancelling · {echo.erle_db:.0f} dB removed · echo delay {delay}"

    def latency_summary(self) -> str:
        if not self.latencies_ms:
            return "no reply yet"
        last = self.latencies_ms[-1]
        avg = sum(self.latencies_ms) / len(self.latencies_ms)
        turns = len(self.latencies_ms)
        what = "" if self._measured_turns else "ttfb "  # not what the user waited: say so
        return (
            f"{what}last {last:.0f} ms · avg {avg:.0f} ms · {turns} turn{'s' if turns != 1 else ''}"
        )


def _meter(value: float) -> Text:
    filled = max(0, min(METER_WIDTH, round(value * METER_WIDTH)))
    style = "green" if value < 0.7 else ("yellow" if value < 0.9 else "red")
    return Text.assemble(("█" * filled, style), ("░" * (METER_WIDTH - filled), "dim"))


def _device(name: str, active: bool) -> Text:
    return Text.assemble(("● " if active else "  ", "bold green"), printable(name))


def _compact(value: object) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    except (TypeError, ValueError):
        text = str(value)
    return text if len(text) <= 120 else text[:117] + "..."
