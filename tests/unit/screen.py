"""Just enough of a VT100 terminal to replay what Rich writes, and read the screen back; and the
recorded terminals the console tests draw on.

Printable characters (wide ones take two cells), the pending-wrap rule of real terminals (a
character written in the last column leaves the cursor there until the next character wraps
it to a new line), carriage return, line feed (as a terminal in cooked mode shows it: to the
start of the next line), cursor up, and erase in line.  Colours and modes are ignored.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable

from rich.cells import cell_len
from rich.console import Console

_CSI = re.compile(r"\x1b\[([?0-9;]*)([A-Za-z])")


class Screen:
    """An endless screen ``width`` cells wide (nothing scrolls off), fed with terminal output."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.rows: list[dict[int, str]] = [{}]
        self.row = 0
        self.col = 0
        self.wrap_pending = False

    def feed(self, text: str) -> Screen:
        """Apply ``text`` as a terminal would; returns ``self``."""
        position = 0
        while position < len(text):
            match = _CSI.match(text, position)
            if match is not None:
                self._control(match.group(1), match.group(2))
                position = match.end()
                continue
            self._char(text[position])
            position += 1
        return self

    def _control(self, params: str, command: str) -> None:
        if command == "A":
            self.row = max(0, self.row - int(params or "1"))
            self.wrap_pending = False
        elif command == "K":
            line = self.rows[self.row]
            if params == "2":
                line.clear()
            else:  # to the end of the line
                for col in [c for c in line if c >= self.col]:
                    del line[col]
        # SGR (m), cursor visibility (?25h/l) and other modes change nothing we read back.

    def _char(self, char: str) -> None:
        if char == "\r":
            self.col, self.wrap_pending = 0, False
        elif char == "\n":
            self._next_line()
        elif char >= " ":
            if self.wrap_pending:
                self._next_line()
            self.rows[self.row][self.col] = char
            self.col += max(1, cell_len(char))
            if self.col >= self.width:
                self.col, self.wrap_pending = self.width - 1, True

    def _next_line(self) -> None:
        self.row += 1
        self.col, self.wrap_pending = 0, False
        while len(self.rows) <= self.row:
            self.rows.append({})

    def lines(self) -> list[str]:
        """The screen's text, one string per line, trailing blanks and blank lines removed."""
        texts = []
        for cells in self.rows:
            text, col = "", 0
            for position in sorted(cells):
                text += " " * (position - col) + cells[position]
                col = position + max(1, cell_len(cells[position]))
            texts.append(text.rstrip())
        while texts and not texts[-1]:
            texts.pop()
        return texts


def terminal(width: int = 140, height: int = 30) -> Console:
    """A console that takes itself for a terminal, drawing into memory without colours."""
    return Console(file=io.StringIO(), force_terminal=True, color_system=None, width=width, height=height)


def output(console: Console) -> str:
    """Everything drawn on a ``terminal()`` so far, control codes and all."""
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]


def screen(console: Console) -> list[str]:
    """What a ``terminal()`` shows now: its output replayed on a ``Screen``."""
    return Screen(console.width).feed(output(console)).lines()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.01)
