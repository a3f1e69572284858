"""Printing above the display, from whichever process holds the bars: ``tqdm.write`` and
``Progress.console.print``.

- In the process that draws the display (a session's parent, or bars on a display of their
  own), the live display redirects ``sys.stdout`` and ``sys.stderr`` while it runs, so a line
  written there appears above it.  Writes aimed at the real streams (``sys.__stderr__``, or a
  logging handler's stream captured before the display started) are sent through the current
  ``sys.stdout`` / ``sys.stderr`` for the same reason.
- In a worker process of a session, the worker's own stdout would tear the parent's display:
  the line is sent to the parent as an ``INFO`` record of the ``mpprogress.write`` logger, and
  the parent's logging shows it (above the display when the session's console handles logging).
- With no display at all, a line goes where tqdm would write it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import sys
from collections.abc import Callable, Iterator
from typing import IO, Any

from .._wiring import get_tracker
from .placement import WRITE_LOGGER, active_display

__all__ = ["display_console", "external_write_mode", "plain_text", "print_objects", "write"]

_SendLog = Callable[[logging.LogRecord], None]


def _worker_log() -> _SendLog | None:
    """How this process sends log records to its session, when it is a session's worker."""
    log = getattr(get_tracker(), "log", None)  # a worker's client tracker has one; others do not
    return log if callable(log) else None


def _is_terminal_stream(file: object) -> bool:
    return file is None or any(file is s for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__))


def _record(text: str) -> logging.LogRecord:
    return logging.LogRecord(WRITE_LOGGER, logging.INFO, "(write)", 0, text, None, None)


def write(s: object, file: IO[str] | None = None, end: str = "\n") -> None:
    """Print ``s`` above the display (see the module's docstring for where it goes).

    Args:
        s: what to print (``str(s)``).
        file: the stream; standard output by default.
        end: appended to ``s``.
    """
    if _is_terminal_stream(file):
        send = _worker_log()
        if send is not None:
            send(_record(f"{s}{end}".rstrip("\n")))
            return
    stream = _current(file)
    if stream is None:  # no standard output (pythonw, a closed stream): nothing to write to, as in tqdm
        return
    stream.write(str(s))
    stream.write(end)


def _current(file: IO[str] | None) -> IO[str] | None:
    """``file``, with the real terminal streams replaced by the current (maybe redirected) ones."""
    if file is None or file is sys.__stdout__:
        return sys.stdout
    if file is sys.__stderr__:
        return sys.stderr
    return file


class _LineSender(io.TextIOBase):
    """A text stream that sends each complete line to the session as a write record."""

    def __init__(self, send: _SendLog) -> None:
        self._send = send
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            self._send(_record(line))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._send(_record(self._pending))
            self._pending = ""


@contextlib.contextmanager
def external_write_mode(file: IO[str] | None = None, nolock: bool = False) -> Iterator[None]:
    """Inside the block, printing to stdout or stderr appears above the display.

    In the display's own process this is already so; in a session's worker, the block's
    ``print`` output is sent to the parent line by line.

    Args:
        file: accepted for tqdm's signature.
        nolock: accepted for tqdm's signature.
    """
    send = _worker_log()
    if send is None:
        yield
        return
    sender = _LineSender(send)
    try:
        with contextlib.redirect_stdout(sender), contextlib.redirect_stderr(sender):
            yield
    finally:
        sender.flush()


def display_console() -> Any:
    """The Rich console of the display this process draws, if it draws one (else ``None``)."""
    for tracker in (active_display(), get_tracker()):
        if tracker is None:
            continue
        console = getattr(tracker, "console", None)
        if console is not None:
            return console
        for callback in getattr(tracker, "callbacks", ()):
            console = getattr(callback, "console", None)
            if console is not None:
                return console
    return None


# Rich's markup tags (``[bold]``, ``[/]``, ``[link=...]``); ``\[`` is a literal bracket.
_TAG = re.compile(r"(\\*)\[([a-z#/@][^[]*?)]")


def plain_text(value: object) -> str:
    """``value`` as plain text: a string without Rich markup tags, anything else as ``str()``."""
    if not isinstance(value, str):
        return str(value)

    def untag(match: re.Match[str]) -> str:
        slashes, tag = match.group(1), match.group(2)
        if len(slashes) % 2:  # escaped: keep the bracket, drop one backslash
            return f"{slashes[:-1]}[{tag}]"
        return slashes

    return _TAG.sub(untag, value)


def print_objects(*objects: Any, sep: str = " ", end: str = "\n", **options: Any) -> None:
    """``console.print`` above the display: Rich renders them where it draws the display;
    elsewhere (a worker, no display) they are printed as plain text through ``write``."""
    console = display_console()
    if console is not None:
        console.print(*objects, sep=sep, end=end, **options)
        return
    write(sep.join(plain_text(value) for value in objects), end=end)
