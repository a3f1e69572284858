"""Reading files through a ``Progress`` task: ``Progress.open``, ``Progress.wrap_file`` and the
module-level ``open`` / ``wrap_file`` of ``mpprogress.rich``, as ``rich.progress`` has them.

The reader advances its task by the bytes read (``read``, ``readinto``, ``readline``, lines of a
``for`` loop) and sets it to the position on ``seek``; text modes wrap it in an
``io.TextIOWrapper``, as Rich does.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from types import TracebackType
from typing import IO, Any, BinaryIO, Protocol

__all__ = ["ReadContext", "Reader", "open_reader", "wrap_reader"]


class _Tasks(Protocol):
    """What the readers use of a ``Progress``."""

    def add_task(self, description: str, start: bool = True, total: float | None = 100.0, **fields: Any) -> Any: ...

    def update(self, task_id: Any, **changes: Any) -> None: ...

    def advance(self, task_id: Any, advance: float = 1) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Reader(io.RawIOBase, BinaryIO):  # as rich.progress._Reader
    """A binary file whose reads advance a task."""

    def __init__(self, handle: BinaryIO, progress: _Tasks, task: Any, close_handle: bool = True) -> None:
        self.handle = handle
        self.progress = progress
        self.task = task
        self.close_handle = close_handle
        self._closed = False

    def __enter__(self) -> Reader:
        self.handle.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Reader:
        return self

    def __next__(self) -> bytes:
        line = next(self.handle)
        self.progress.advance(self.task, advance=len(line))
        return line

    @property
    def closed(self) -> bool:
        """Whether this reader is closed (its handle stays open for ``wrap_file``)."""
        return self._closed

    def fileno(self) -> int:
        """The handle's descriptor."""
        return self.handle.fileno()

    def isatty(self) -> bool:
        """Whether the handle is a terminal."""
        return self.handle.isatty()

    @property
    def mode(self) -> str:
        """The handle's mode."""
        return self.handle.mode

    @property
    def name(self) -> str:
        """The handle's name."""
        return self.handle.name

    def readable(self) -> bool:
        """Whether the handle reads."""
        return self.handle.readable()

    def seekable(self) -> bool:
        """Whether the handle seeks."""
        return self.handle.seekable()

    def writable(self) -> bool:
        """No: a reader."""
        return False

    def read(self, size: int = -1) -> bytes:
        """Read and advance the task by what was read."""
        block = self.handle.read(size)
        self.progress.advance(self.task, advance=len(block))
        return block

    def readinto(self, b: Any) -> int:
        """Read into ``b`` and advance the task by what was read."""
        n = self.handle.readinto(b)  # type: ignore[attr-defined]
        self.progress.advance(self.task, advance=n)
        return int(n)

    def readline(self, size: int | None = -1) -> bytes:
        """Read a line and advance the task by it."""
        line = self.handle.readline(-1 if size is None else size)
        self.progress.advance(self.task, advance=len(line))
        return line

    def readlines(self, hint: int = -1) -> list[bytes]:
        """Read lines and advance the task by them."""
        lines = self.handle.readlines(hint)
        self.progress.advance(self.task, advance=sum(map(len, lines)))
        return lines

    def close(self) -> None:
        """Close the reader (and its handle when it opened it)."""
        if self.close_handle:
            self.handle.close()
        self._closed = True

    def seek(self, offset: int, whence: int = 0) -> int:
        """Seek, and set the task to the new position."""
        position = self.handle.seek(offset, whence)
        self.progress.update(self.task, completed=position)
        return position

    def tell(self) -> int:
        """The handle's position."""
        return self.handle.tell()

    def write(self, s: Any) -> int:
        """Refused: a reader."""
        raise io.UnsupportedOperation("write")

    def writelines(self, lines: Iterable[Any]) -> None:
        """Refused: a reader."""
        raise io.UnsupportedOperation("writelines")


class ReadContext:
    """What the module-level ``open`` / ``wrap_file`` return: the ``Progress`` runs while the
    reader is open in a ``with`` block."""

    def __init__(self, progress: _Tasks, reader: Any) -> None:
        self.progress = progress
        self.reader = reader

    def __enter__(self) -> Any:
        self.progress.start()
        return self.reader.__enter__()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()
        self.reader.__exit__(exc_type, exc, tb)


def open_reader(
    progress: _Tasks, file: str | bytes | os.PathLike[Any], mode: str = "r", buffering: int = -1,
    encoding: str | None = None, errors: str | None = None, newline: str | None = None, *,
    total: int | None = None, task_id: Any = None, description: str = "Reading...",
) -> IO[Any]:
    """``Progress.open``: open ``file`` for reading (``"rb"``, ``"r"`` or ``"rt"``) through a task."""
    normalized = "".join(sorted(mode))
    if normalized not in ("br", "rt", "r"):
        raise ValueError(f"invalid mode {mode!r}")
    line_buffering = buffering == 1
    if buffering == 1:
        buffering = -1
    elif normalized != "br" and buffering == 0:
        raise ValueError("can't have unbuffered text I/O")
    if total is None:
        total = os.stat(file).st_size
    if task_id is None:
        task_id = progress.add_task(description, total=total)
    else:
        progress.update(task_id, total=total)
    reader = Reader(open(file, "rb", buffering=buffering), progress, task_id, close_handle=True)  # noqa: SIM115 - the reader owns it
    if normalized == "br":
        return reader
    return io.TextIOWrapper(reader, encoding=encoding, errors=errors, newline=newline, line_buffering=line_buffering)


def wrap_reader(
    progress: _Tasks, file: BinaryIO, total: int | None = None, *, task_id: Any = None,
    description: str = "Reading...",
) -> Reader:
    """``Progress.wrap_file``: reads of an open binary file advance a task (the file stays open)."""
    if total is None and task_id is None:
        raise ValueError("unable to get the total number of bytes, please specify 'total'")
    if task_id is None:
        task_id = progress.add_task(description, total=total)
    elif total is not None:
        progress.update(task_id, total=total)
    return Reader(file, progress, task_id, close_handle=False)
