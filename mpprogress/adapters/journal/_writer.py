"""The journal's writer: turns a batch of events into rows, in one transaction.

Used only by ``JournalSink``'s writer thread (``journal.py``), the one user of the connection.
Progress samples come separately from the lifecycle events: only the latest state of each phase
is kept until it is written, and it is written when its phase was last sampled at least
``sample_interval`` seconds ago (and always when the phase finishes, or the sink closes).
"""

from __future__ import annotations

import functools
import json
import os
import socket
import sqlite3
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import TypeAlias

from ..._base.events import OperationFinished, OperationStarted, PhaseFinished, PhaseStarted, ProgressUpdate
from ..._base.resume import ResumePoint
from ..._base.text import clean_line
from ._schema import phase_key, stable_key

__all__ = ["JournalWriter", "LogEntry", "Pending", "start_run", "worker_of"]

_TEXT_LIMIT = 2000  # characters of a title, message or reason kept


@dataclass(frozen=True)
class LogEntry:
    """One log record, as the journal keeps it."""

    at: float
    level: int
    logger: str
    message: str
    host: str | None
    pid: int | None


Pending: TypeAlias = OperationStarted | PhaseStarted | PhaseFinished | OperationFinished | LogEntry
"""What waits in the lifecycle queue: everything but progress samples."""


def worker_of(source: object) -> tuple[str | None, int | None]:
    """The ``(host, pid)`` of the worker an event (or log record) came from, if it says.

    Accepts a ``worker`` attribute that is missing or ``None``, a ``(host, pid)`` pair, a
    mapping, or an object with ``host`` and ``pid``.
    """
    worker = getattr(source, "worker", None)
    if worker is None:
        return None, None
    if isinstance(worker, Mapping):
        host, pid = worker.get("host"), worker.get("pid")
    elif isinstance(worker, (tuple, list)) and len(worker) == 2:
        host, pid = worker
    else:
        host, pid = getattr(worker, "host", None), getattr(worker, "pid", None)
    return (None if host is None else clean_line(host, 255)), (pid if isinstance(pid, int) else None)


@functools.lru_cache(maxsize=1)
def _version() -> str:
    try:
        return metadata.version("mpprogress")
    except metadata.PackageNotFoundError:
        return "unknown"


def start_run(
    conn: sqlite3.Connection, started_at: float, argv: Sequence[str] | None = None, resumed_from: int | None = None
) -> int:
    """Add this process's run to the ``runs`` table (continuing run ``resumed_from``); return its ``run_id``."""
    version = _version()
    args = [str(arg) for arg in (sys.argv if argv is None else argv)]
    conn.execute("BEGIN IMMEDIATE")
    try:
        cursor = conn.execute(
            "INSERT INTO runs (started_at, last_seen, host, pid, argv, version, resumed_from)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (started_at, started_at, socket.gethostname(), os.getpid(), json.dumps(args), version, resumed_from),
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _text(value: object) -> str | None:
    return None if value is None else clean_line(value, _TEXT_LIMIT)


def _number(value: object) -> int | float:
    """A count as SQLite can bind it (numpy and other number types become int or float)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return float(value)  # type: ignore[arg-type]


def _total(value: object) -> int | None:
    return None if value is None else int(_number(value))


class JournalWriter:
    """Writes one run's events (on one thread at a time).

    Args:
        conn: the journal, in autocommit mode (``open_journal``).
        run_id: the run being written (``start_run``).
        sample_interval: seconds between two samples of one phase.
        resumed: where phases of this run resumed, by (operation key, phase key) (filled by the
            sink as the tracker asks): a resumed phase's row starts at that count, so a crash
            before its first sample does not lose where it stood.
    """

    def __init__(
        self, conn: sqlite3.Connection, run_id: int, sample_interval: float,
        resumed: Mapping[tuple[str, str], ResumePoint] | None = None,
    ) -> None:
        self._conn = conn
        self._run_id = run_id
        self._interval = sample_interval
        self._resumed = resumed if resumed is not None else {}
        self._operation_keys: dict[str, str] = {}  # operation_id -> operation_key, of this run
        self._open: dict[str, tuple[int, str]] = {}  # phase_id -> (phase_row, phase_key), running phases
        self._sampled: dict[str, float] = {}  # phase_id -> when its last sample was written
        self.samples_written = 0

    def write(
        self, events: Sequence[tuple[float, Pending]], samples: Mapping[str, tuple[float, ProgressUpdate]],
        now: float, *, force: bool = False, keys: Mapping[str, list[str]] | None = None,
    ) -> tuple[dict[str, tuple[float, ProgressUpdate]], dict[str, list[str]]]:
        """Write ``events`` in order, then the item keys done, then the samples that are due, in
        one transaction.

        Args:
            events: ``(time, event)`` pairs, in the order they happened.
            samples: the latest state of each phase updated since the last call.
            now: the time of this write (decides which samples are due).
            force: write every sample (the sink is closing).
            keys: item keys done, by phase id.

        Returns:
            The samples not due yet, and the keys of phases not written yet (their start has
            not come), to offer again next time.

        Raises:
            sqlite3.Error: nothing of this batch was written (the caller retries it).
        """
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            finished: set[str] = set()
            for at, event in events:
                self._apply(at, event, finished)
            waiting = self._write_keys(keys) if keys else {}
            later = self._write_samples(samples, finished, now, force)
            self._conn.execute("UPDATE runs SET last_seen = ? WHERE run_id = ?", (now, self._run_id))
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            self._reload()  # what this batch put in the caches was rolled back too
            raise
        return later, waiting

    def _write_keys(self, keys: Mapping[str, list[str]]) -> dict[str, list[str]]:
        waiting: dict[str, list[str]] = {}
        for phase_id, names in keys.items():
            known = self._open.get(phase_id)
            row = known[0] if known is not None else self._row_of(phase_id)
            if row is None:
                waiting[phase_id] = names
                continue
            self._conn.executemany("INSERT OR IGNORE INTO done_items (phase_row, item_key) VALUES (?, ?)",
                                   [(row, name) for name in names])
        return waiting

    def end_run(self, now: float, dropped_logs: int, write_errors: int) -> None:
        """Mark the run as closed cleanly."""
        self._conn.execute(
            "UPDATE runs SET ended_at = ?, last_seen = ?, dropped_logs = ?, write_errors = ? WHERE run_id = ?",
            (now, now, dropped_logs, write_errors, self._run_id),
        )

    def _apply(self, at: float, event: Pending, finished: set[str]) -> None:
        if isinstance(event, PhaseFinished):
            self._phase_finished(at, event)
            finished.add(event.phase_id)
        elif isinstance(event, PhaseStarted):
            self._phase_started(at, event)
        elif isinstance(event, LogEntry):
            self._log(at, event)
        elif isinstance(event, OperationStarted):
            self._operation_started(at, event)
        else:
            self._operation_finished(at, event)

    def _operation_started(self, at: float, event: OperationStarted) -> None:
        host, pid = worker_of(event)
        key = stable_key(event.operation_id, event.title)
        self._operation_keys[event.operation_id] = key
        self._conn.execute(
            "INSERT OR IGNORE INTO operations (run_id, operation_id, operation_key, title, description, host, pid,"
            " started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (self._run_id, event.operation_id, key, _text(event.title), _text(event.description), host, pid, at),
        )

    def _operation_finished(self, at: float, event: OperationFinished) -> None:
        self._operation_keys.pop(event.operation_id, None)
        self._conn.execute(  # an operation this sink did not see start
            "INSERT OR IGNORE INTO operations (run_id, operation_id, operation_key, title, started_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (self._run_id, event.operation_id, stable_key(event.operation_id, event.title), _text(event.title),
             at - event.duration),
        )
        self._conn.execute(
            "UPDATE operations SET finished_at = ?, success = ?, reason = ?, duration = ?"
            " WHERE run_id = ? AND operation_id = ?",
            (at, event.success, _text(event.reason), event.duration, self._run_id, event.operation_id),
        )

    def _phase_started(self, at: float, event: PhaseStarted | ProgressUpdate | PhaseFinished) -> int:
        """Add the phase's row (also for a phase first seen updating or finishing); its ``phase_row``."""
        known = self._open.get(event.phase_id)
        if known is not None:
            return known[0]
        parent = None if event.parent_phase_id is None else self._open.get(event.parent_phase_id)
        key = phase_key(None if parent is None else parent[1], event.phase_id, event.title)
        host, pid = worker_of(event)
        point = self._resumed.get((self._operation_keys.get(event.operation_id, ""), key))
        cursor = self._conn.execute(
            "INSERT OR IGNORE INTO phases (run_id, operation_id, phase_id, parent_phase_id, phase_key, title,"
            " description, host, pid, started_at, total, updated_at, current)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self._run_id, event.operation_id, event.phase_id, event.parent_phase_id, key, _text(event.title),
             _text(event.description), host, pid, at, _total(event.total), at,
             0 if point is None else _number(point.current)),
        )
        row = cursor.lastrowid if cursor.rowcount == 1 else self._row_of(event.phase_id)
        assert row is not None
        self._open[event.phase_id] = (row, key)
        return row

    def _phase_finished(self, at: float, event: PhaseFinished) -> None:
        row = self._phase_started(at - event.duration, event)
        current = _number(event.current)
        self._conn.execute(
            "UPDATE phases SET finished_at = ?, success = ?, reason = ?, duration = ?, current = ?, total = ?,"
            " updated_at = ? WHERE phase_row = ?",
            (at, event.success, _text(event.reason), event.duration, current, _total(event.total), at, row),
        )
        self._conn.execute("INSERT OR REPLACE INTO samples (phase_row, at, current) VALUES (?, ?, ?)",
                           (row, at, current))
        self.samples_written += 1
        del self._open[event.phase_id]
        self._sampled.pop(event.phase_id, None)

    def _log(self, at: float, entry: LogEntry) -> None:
        self._conn.execute(
            "INSERT INTO logs (run_id, at, level, logger, message, host, pid) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self._run_id, at, entry.level, entry.logger, entry.message, entry.host, entry.pid),
        )

    def _write_samples(
        self, samples: Mapping[str, tuple[float, ProgressUpdate]], finished: set[str], now: float, force: bool
    ) -> dict[str, tuple[float, ProgressUpdate]]:
        later: dict[str, tuple[float, ProgressUpdate]] = {}
        for phase_id, (at, update) in samples.items():
            if phase_id in finished:
                continue  # the finish wrote the final state
            last = self._sampled.get(phase_id)
            if not force and last is not None and now - last < self._interval:
                later[phase_id] = (at, update)
                continue
            row = self._phase_started(at - update.elapsed, update)
            current = _number(update.current)
            self._conn.execute("INSERT OR REPLACE INTO samples (phase_row, at, current) VALUES (?, ?, ?)",
                               (row, at, current))
            self._conn.execute(
                "UPDATE phases SET current = ?, total = ?, message = ?, updated_at = ? WHERE phase_row = ?",
                (current, _total(update.total), _text(update.message), at, row),
            )
            self._sampled[phase_id] = now
            self.samples_written += 1
        return later

    def _row_of(self, phase_id: str) -> int | None:
        found = self._conn.execute(
            "SELECT phase_row FROM phases WHERE run_id = ? AND phase_id = ?", (self._run_id, phase_id)
        ).fetchone()
        return None if found is None else int(found[0])

    def _reload(self) -> None:
        try:
            self._open = {
                phase_id: (int(row), key)
                for phase_id, row, key in self._conn.execute(
                    "SELECT phase_id, phase_row, phase_key FROM phases WHERE run_id = ? AND finished_at IS NULL",
                    (self._run_id,),
                )
            }
        except sqlite3.Error:
            self._open = {}  # rows are found again by id (``_row_of``) as their events come

