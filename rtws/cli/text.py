"""Server text made safe to show in a terminal: one function every CLI output goes through.

Transcripts, error messages, close reasons and refusal bodies are written by
the server, and a terminal obeys what it is sent: ``ESC ] 0 ; … BEL`` retitles
the window, ``ESC [ 2 J`` clears the screen, others move the cursor to forge
lines or, on some terminals, answer back into the input. rich strips only a
few controls (BEL, backspace, CR, form feeds), so :func:`printable` shows
every other control character as a visible escape (``\\x1b``) instead.

It also replaces lone UTF-16 surrogates (``"\\ud800"`` is valid JSON) with
U+FFFD: Python cannot encode them to UTF-8, and one in a transcript made the
first write to the terminal raise ``UnicodeEncodeError``.
"""

from __future__ import annotations

import re

#: C0 controls but tab and newline, DEL, C1 controls (``\x9b`` is a one-byte CSI
#: on some terminals), bidirectional overrides (they reorder what is shown, so a
#: line can read differently from what it says), and surrogates.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes and lone surrogates replaced."""
    if _UNSAFE.search(text) is None:  # the common case: nothing to copy
        return text
    return _UNSAFE.sub(_escape, text)
