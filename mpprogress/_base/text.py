"""One text sanitiser for everything that came from outside: titles, messages, log lines.

Standard library only.  The wire decoder uses it on every string a worker sends; the console
uses it on every string it draws (threaded-mode titles never crossed the wire).  One table of
what is stripped, so the two can never disagree: C0 and C1 control characters, DEL, and the
bidirectional overrides and isolates a terminal would obey (``U+202A``-``U+202E``,
``U+2066``-``U+2069``).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["CONTROL_CODES", "clean_line", "strip_controls"]

CONTROL_CODES: Final = frozenset(
    [*range(0x00, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
"""The code points no outside text may carry to a terminal."""

_STRIP_ALL: Final = dict.fromkeys(CONTROL_CODES)
_STRIP_KEEP_LINES: Final = {code: None for code in CONTROL_CODES if code not in (0x09, 0x0A)}
_SPACING: Final = re.compile(r"[\t\n\r]+")


def strip_controls(text: str, *, keep_lines: bool = False) -> str:
    """``text`` without control characters.

    Args:
        text: any string.
        keep_lines: keep tabs and line feeds (log records); everything else is removed.
    """
    return text.translate(_STRIP_KEEP_LINES if keep_lines else _STRIP_ALL)


def clean_line(value: object, limit: int = 500) -> str:
    """Make outside text safe for one display line: no control characters, no line breaks.

    Args:
        value: a title or message (anything; ``str()`` is taken).
        limit: longest text kept, in characters; longer text ends with an ellipsis.

    Returns:
        The text with each run of tabs and line breaks turned into one space and every other
        control character (escape, bell, C1 codes, bidi overrides) removed.
    """
    text = _SPACING.sub(" ", str(value)).translate(_STRIP_ALL)
    return text if len(text) <= limit else text[: limit - 1] + "…"

