"""``rich.progress``-style front end: ``from mpprogress.rich import Progress, track``.

The same calls as ``rich.progress.Progress`` (``add_task``, ``update``, ``advance``...), drawn on
mpprogress's one display and usable inside worker processes.  See ``frontends/rich.py``.
``open`` and ``wrap_file`` read a file through a task of a ``Progress`` of their own, as
``rich.progress.open`` and ``rich.progress.wrap_file`` do.
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO

from ._frontends.rich import Progress, Task, TaskID, track
from ._frontends.rich_files import ReadContext

__all__ = ["Progress", "Task", "TaskID", "open", "track", "wrap_file"]


def open(
    file: str | bytes | os.PathLike[Any], mode: str = "r", buffering: int = -1, encoding: str | None = None,
    errors: str | None = None, newline: str | None = None, *, total: int | None = None,
    description: str = "Reading...", disable: bool = False, **options: Any,
) -> ReadContext:
    """Read ``file`` (``"rb"``, ``"r"`` or ``"rt"``) with a task counting its bytes::

        with mpprogress.rich.open("data.json", "rb") as f:
            data = json.load(f)

    Args:
        file: the path.
        mode: ``"rb"``, ``"r"`` or ``"rt"``.
        buffering: as for ``io.open``.
        encoding: as for ``io.open``.
        errors: as for ``io.open``.
        newline: as for ``io.open``.
        total: the bytes to expect (the file's size by default).
        description: the task's description.
        disable: count nothing on the display.
        **options: ``rich.progress.open``'s drawing options: accepted and ignored.

    Returns:
        A context manager giving the file object.
    """
    progress = Progress(disable=disable)
    reader = progress.open(
        file, mode, buffering, encoding, errors, newline, total=total, description=description
    )
    return ReadContext(progress, reader)


def wrap_file(
    file: BinaryIO, total: int, *, description: str = "Reading...", disable: bool = False, **options: Any
) -> ReadContext:
    """Read the open binary ``file`` with a task counting its bytes (the file stays open).

    Args:
        file: an open binary file.
        total: the bytes to expect.
        description: the task's description.
        disable: count nothing on the display.
        **options: ``rich.progress.wrap_file``'s drawing options: accepted and ignored.

    Returns:
        A context manager giving the wrapped file.
    """
    progress = Progress(disable=disable)
    return ReadContext(progress, progress.wrap_file(file, total=total, description=description))
