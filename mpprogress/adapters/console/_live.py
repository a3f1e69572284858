"""Small parts of the console's live display: the frame as Live draws it, the loop of its
refresh and heartbeat threads, and the log handler that writes above it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from rich.console import Group, RenderableType
from rich.logging import RichHandler
from rich.text import Text

from ..._base.text import clean_line

__all__ = ["MAX_FAILURES", "ConsoleLogHandler", "heartbeat_tick", "on_screen", "repeat"]

_log = logging.getLogger("mpprogress")

MAX_FAILURES = 3
"""A display thread whose step fails this many times in a row gives up."""


def on_screen(frame: RenderableType) -> RenderableType:
    """``frame`` as the live display draws it: with a blank line under the last row.

    The terminal echoes keys (``^C``) where the cursor is, which Live leaves after the last
    row.  A row that fills the width would make the echo wrap onto a new line that Live's
    cursor moves do not count, and the next redraw (or the end of the display) would leave
    the frame's first line behind on the screen.  On the blank line an echo wraps nothing,
    and the next redraw erases it.
    """
    return Group(frame, Text(""))


def repeat(step: Callable[[], bool], interval: float, stop: threading.Event) -> None:
    """Call ``step`` every ``interval`` seconds until ``stop`` is set or it returns ``False``."""
    failures = 0
    while not stop.is_set():
        try:
            if not step():
                return
            failures = 0
        except Exception:
            failures += 1
            _log.exception("console display failed to draw a frame (%s)", threading.current_thread().name)
            if failures >= MAX_FAILURES:
                return
        stop.wait(interval)


def heartbeat_tick(plain_interval: float) -> float:
    """How often the heartbeat looks for quiet phases: often enough to be at most a quarter
    interval late, never busier than 20 times a second, at least once a second."""
    return min(max(plain_interval / 4, 0.05), 1.0)


class ConsoleLogHandler(RichHandler):
    """``RichHandler`` that never parses markup and strips control characters."""

    def render_message(self, record: logging.LogRecord, message: str) -> Text:
        text = Text(clean_line(message, limit=10_000))
        return self.highlighter(text) if self.highlighter else text
