"""``progress.console`` of the ``rich.progress`` front end: printing above the display, and the
parts of a Rich console's surface scripts use, without importing Rich here."""

from __future__ import annotations

import contextlib
import shutil
import sys
import traceback
from typing import Any

from .output import display_console, plain_text, print_objects

__all__ = ["ProgressConsole"]


class ProgressConsole:
    """``progress.console``: prints above the display, from any process (see ``output``).

    The rest of a Rich console's surface that scripts use (``file``, ``width``, ``size``,
    ``is_terminal``, ``rule``, ``status``, ``print_exception``) is the display's console where
    this process draws one, else plain equivalents on standard error.
    """

    @property
    def file(self) -> Any:
        """The stream printed to."""
        console = display_console()
        return console.file if console is not None else sys.stderr

    @property
    def width(self) -> int:
        """Columns."""
        console = display_console()
        return int(console.width) if console is not None else shutil.get_terminal_size().columns

    @property
    def height(self) -> int:
        """Lines."""
        console = display_console()
        return int(console.height) if console is not None else shutil.get_terminal_size().lines

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return self.width, self.height

    @property
    def is_terminal(self) -> bool:
        """Whether the stream is a terminal."""
        console = display_console()
        if console is not None:
            return bool(console.is_terminal)
        isatty = getattr(sys.stderr, "isatty", None)
        return bool(isatty and isatty())

    def rule(self, title: str = "", *, characters: str = "─", **options: Any) -> None:
        """A horizontal line, with ``title`` in it."""
        console = display_console()
        if console is not None:
            console.rule(title, characters=characters, **options)
            return
        text = f" {plain_text(title)} " if title else ""
        side = max(self.width - len(text), 0)
        print_objects(characters * (side // 2) + text + characters * (side - side // 2))

    def status(self, status: object, **options: Any) -> contextlib.AbstractContextManager[Any]:
        """A status spinner where the display's console has one; elsewhere the status is printed."""
        console = display_console()
        if console is not None:
            return console.status(status, **options)  # type: ignore[no-any-return]
        print_objects(status)
        return contextlib.nullcontext()

    def print_exception(self, **options: Any) -> None:
        """Print the exception being handled, above the display."""
        console = display_console()
        if console is not None:
            console.print_exception(**options)
            return
        print_objects("".join(traceback.format_exc()).rstrip("\n"))

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", **options: Any) -> None:
        """Print above the display."""
        print_objects(*objects, sep=sep, end=end, **options)

    def log(self, *objects: Any, sep: str = " ", end: str = "\n", **options: Any) -> None:
        """Print above the display (as ``print``)."""
        print_objects(*objects, sep=sep, end=end)

    def out(self, *objects: Any, sep: str = " ", end: str = "\n", **options: Any) -> None:
        """Print above the display (as ``print``)."""
        print_objects(*objects, sep=sep, end=end)
