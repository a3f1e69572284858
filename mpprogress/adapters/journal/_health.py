"""Whether a journal records its run, and saying so when it does not (``JournalSink``).

A journal's failures go to standard error directly, not through ``logging`` alone: with
``forward_logs=True`` the journal is itself a logging handler, and a journal that cannot write
cannot record why it cannot (a full disk reached nothing but the journal, and the run exited 0).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from ..._base.events import OperationFinished, PhaseFinished, PhaseStarted
from ._resume import load_chain
from ._schema import JournalError, open_journal
from ._writer import LogEntry, Pending

__all__ = ["check_identity", "identity", "read_back", "unwritten", "warn"]

_log = logging.getLogger("mpprogress.journal")

Identity = tuple[int, int]


def warn(path: Path, text: str) -> None:
    """Say ``text`` about the journal at ``path`` on standard error (and, at debug level, to the
    ``mpprogress.journal`` logger: a warning there would show twice on a session's display)."""
    line = f"mpprogress: warning: journal {path}: {text}"
    with contextlib.suppress(Exception):  # a closed or missing stderr: the log record remains
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    _log.debug(line)


def identity(path: Path) -> Identity:
    """The device and inode of the file at ``path`` (``OSError`` if there is none)."""
    info = os.stat(path)
    return info.st_dev, info.st_ino


def check_identity(path: Path, expected: Identity) -> None:
    """Raise ``JournalError`` if ``path`` no longer names the file being written.

    A file deleted (or replaced) during the run is otherwise written on without an error, into
    an inode no one will read again.
    """
    try:
        found = identity(path)
    except OSError as exc:
        raise JournalError("the file was deleted during the run") from exc
    if found != expected:
        raise JournalError("the file was replaced during the run")


def read_back(path: Path, run_id: int, expected: Identity) -> str | None:
    """Why the run cannot be read back closed from the file with a fresh connection, or ``None``.

    The writer's own connection does not notice a write-ahead log truncated or overwritten from
    outside; a new reader does, when it reads what the next run's resume reads.
    """
    try:
        check_identity(path, expected)
        conn = open_journal(path, readonly=True)
        try:
            row = conn.execute("SELECT ended_at FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            load_chain(conn, run_id)  # what a run resuming this one reads
            conn.execute("SELECT count(*) FROM done_items d JOIN phases p ON p.phase_row = d.phase_row"
                         " WHERE p.run_id = ?", (run_id,)).fetchone()
        finally:
            conn.close()
    except (JournalError, sqlite3.Error, OSError) as exc:
        return f"the file cannot be read back ({exc}): it was damaged from outside; a run resuming from it fails"
    if row is None or row[0] is None:
        return "the file read back does not hold this run as closed: it was changed from outside"
    return None


def unwritten(events: Sequence[tuple[float, Pending]]) -> str:
    """What of ``events`` (still waiting to be written) was lost, counted by kind: ``"; not
    written: 3 phase finishes, ..."``, or ``""``."""
    kinds = (("phase finishes", PhaseFinished), ("phase starts", PhaseStarted),
             ("operation finishes", OperationFinished), ("log records", LogEntry))
    counts = [(sum(isinstance(event, kind) for _, event in events), name) for name, kind in kinds]
    found = [f"{count} {name}" for count, name in counts if count]
    return "; not written: " + ", ".join(found) if found else ""
