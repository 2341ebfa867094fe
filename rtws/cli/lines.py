"""One line of the conversation as the CLI shows it: who said it, and how it prints.

Kept apart from :mod:`.view` because a line is the unit both outputs share:
the live view renders it with rich (:meth:`Line.rich`), plain output prints it
(:meth:`Line.plain`), and the session hears each one once it is final. The
view decides *which* lines there are; this decides what one looks like.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rich.text import Text

from .text import printable

Who = Literal["you", "bot", "call", "info", "error"]

LABELS: dict[Who, tuple[str, str]] = {
    "you": ("you", "bold cyan"),
    "bot": ("bot", "bold magenta"),
    "call": ("fn", "bold yellow"),
    "info": ("··", "dim"),
    "error": ("!!", "bold red"),
}


@dataclass(eq=False)
class Line:
    """One entry of the conversation; ``final`` is False while a transcript still streams."""

    who: Who
    text: str
    final: bool = True
    latency_ms: float | None = None
    interrupted: bool = False

    def plain(self) -> str:
        """The line as plain output prints it (server text made printable)."""
        text = printable(self.text) + (" [interrupted]" if self.interrupted else "")
        if self.latency_ms is not None:
            text += f"  ({self.latency_ms:.0f} ms)"
        return f"{LABELS[self.who][0]}: {text}" if self.who in ("you", "bot") else text

    def rich(self) -> Text:
        label, style = LABELS[self.who]
        text = Text.assemble((f"{label:>3} ", style))
        body_style = "red" if self.who == "error" else ("dim" if self.who == "info" else "")
        text.append(printable(self.text), style=body_style + (" italic" if not self.final else ""))
        if not self.final:
            text.append(" …", style="dim")
        if self.interrupted:
            text.append(" [interrupted]", style="yellow")
        if self.latency_ms is not None:
            text.append(f"  {self.latency_ms:.0f} ms", style="dim")
        return text
