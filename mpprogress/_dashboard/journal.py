"""The dashboard of a journal: a finished run, or one another process is writing right now.

``JournalSource`` polls the SQLite file read-only (every ``poll`` seconds; WAL lets a reader
see each commit without disturbing the writer) and turns the latest run into the same rows a
live tracker gives: operations, phases with their last written state, workers (host and pid
of the phases; lost when one of their phases was lost; last heard from at their last write),
the newest log records, and the timeline picture.  Nothing can be cancelled from here.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from .._base.outcomes import is_detail, operation_outcome, phase_outcome
from .._base.text import clean_line
from ..adapters.journal._schema import JournalError, open_journal
from .model import LogBook, Row, State, eta_seconds, rounded
from .timeline import JournalTimeline

__all__ = ["JournalSource"]

def _outcome(success: int | None, reason: str | None, finished: bool, current: float = 0,
             total: int | None = None) -> str | None:
    """The word of a phase's outcome (``outcomes.py``); ``None`` while it runs."""
    return phase_outcome(bool(success), reason, current, total).word if finished else None


class JournalSource:
    """The latest run of a journal as dashboard states (see the module's note).

    Args:
        path: the journal file (it may not exist yet: the page waits for it).
        poll: seconds between two reads of the file.
    """

    def __init__(self, path: str | os.PathLike[str], poll: float = 0.5) -> None:
        self._path = Path(path)
        self._poll = poll
        self._conn: sqlite3.Connection | None = None
        self._at = float("-inf")
        self._run_id: int | None = None
        self._logs = LogBook()
        self._log_row = 0
        self._timeline = JournalTimeline(path)
        self._error: str | None = None
        self._finished = 0  # phases seen finished: one more has the timeline drawn again promptly

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None:
            try:
                self._conn = open_journal(self._path, readonly=True)
            except JournalError as exc:
                self._error = str(exc)
        return self._conn

    def collect(self, force: bool = False) -> State | None:
        """A fresh state read from the file, or ``None`` when it is not time to read again."""
        now = time.monotonic()
        if not force and now - self._at < self._poll:
            return None
        self._at = now
        conn = self._connection()
        meta: Row = {"source": "journal", "title": f"journal {self._path.name}", "can_cancel": False,
                     "live": False, "timeline": None}
        if conn is None:
            return State(meta={**meta, "error": self._error})
        try:
            conn.execute("BEGIN")  # one consistent read of everything below
            try:
                return self._read(conn, meta)
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            return State(meta={**meta, "error": f"cannot read {self._path}: {exc}"})

    def _read(self, conn: sqlite3.Connection, meta: Row) -> State:
        found = conn.execute(
            "SELECT run_id, started_at, ended_at, last_seen, host, pid FROM runs ORDER BY run_id DESC LIMIT 1"
        ).fetchone()
        if found is None:
            return State(meta={**meta, "error": "the journal holds no run yet"})
        run_id, started_at, ended_at, last_seen, host, pid = found
        if run_id != self._run_id:
            self._run_id, self._log_row, self._logs = run_id, 0, LogBook()
        drawn = self._timeline()
        meta.update(title=f"run {run_id} of {self._path.name} ({clean_line(host, 100)} pid {pid})",
                    live=ended_at is None, timeline=None if drawn is None else drawn[0],
                    last_write=last_seen, run_started=started_at)
        state = State(meta=meta)
        ended: dict[str, tuple[bool, str | None]] = {}
        for number, (op_id, title, op_start, op_end, success, reason) in enumerate(conn.execute(
            "SELECT operation_id, title, started_at, finished_at, success, reason FROM operations"
            " WHERE run_id = ? ORDER BY started_at", (run_id,),
        )):
            ended[op_id] = (bool(success), reason)
            state.operations[op_id] = {
                "title": clean_line(title, 200), "n": number, "started": op_start, "finished": op_end is not None,
                "outcome": None, "cancelled": reason == "cancelled",
                "duration": None if op_end is None else round(op_end - op_start, 1), "rate": None, "eta": None,
                "counts": {}, "running": 0, "pruned": 0,
            }
        self._phases(conn, run_id, state)
        for op_id, op in state.operations.items():  # from its own end and its phases' (outcomes.py)
            if op["finished"]:
                op["outcome"] = operation_outcome(*ended[op_id], op["counts"]).outcome.word
        finished = sum(1 for row in state.phases.values() if row["finished"])
        if finished != self._finished:
            self._finished = finished
            self._timeline.urge()
        for row in conn.execute(
            "SELECT rowid, at, level, logger, message, pid FROM logs WHERE run_id = ? AND rowid > ?"
            " ORDER BY rowid LIMIT 500", (run_id, self._log_row),
        ):
            self._log_row = row[0]
            self._logs.extend([{"at": row[1], "level": logging.getLevelName(row[2]), "logger": clean_line(row[3], 100),
                                "message": clean_line(row[4], 500), "pid": row[5], "worker": None}])
        state.logs = self._logs.entries()
        return state

    def _phases(self, conn: sqlite3.Connection, run_id: int, state: State) -> None:
        workers: dict[str, Row] = {}
        order: dict[str, int] = {}
        for row in conn.execute(
            "SELECT phase_id, operation_id, parent_phase_id, title, host, pid, started_at, finished_at, success,"
            " reason, duration, current, total, message, updated_at FROM phases WHERE run_id = ?"
            " ORDER BY started_at, phase_row", (run_id,),
        ):
            (phase_id, op_id, parent, title, host, pid, start, finish, success, reason, duration, current, total,
             message, updated) = row
            finished = finish is not None
            heard = max(value for value in (start, finish, updated) if value is not None)
            seconds = (finish if finished else max(updated or start, start)) - start
            rate = current / seconds if seconds > 0 else None
            eta = (total - current) / rate if not finished and total and rate else None
            outcome = _outcome(success, reason, finished, current, total)
            worker = None if pid is None else f"{host}:{pid}"
            depth = state.phases[parent]["depth"] + 1 if parent in state.phases else 0
            order[op_id] = order.get(op_id, -1) + 1
            state.phases[phase_id] = {
                "op": op_id, "parent": parent, "depth": depth, "n": order[op_id], "title": clean_line(title, 200),
                "current": current, "total": total,
                "pct": rounded(100.0 * current / total, 4) if total else None, "rate": rounded(rate),
                "eta": eta_seconds(eta), "message": clean_line(message, 300) if message else None, "started": start,
                "finished": finished, "outcome": outcome,
                "reason": clean_line(reason, 200) if finished and is_detail(reason) else None,
                "duration": None if duration is None else round(duration, 1), "cancelled": reason == "cancelled",
                "worker": worker,
            }
            op = state.operations.get(op_id)
            if op is not None:
                if finished:
                    op["counts"][outcome or "failed"] = op["counts"].get(outcome or "failed", 0) + 1
                else:
                    op["running"] += 1
            if worker is not None:
                seen: Any = workers.setdefault(worker, {"host": clean_line(host or "", 100), "pid": pid,
                                                        "state": "alive", "last": heard, "phases": 0, "running": 0})
                seen.update(last=max(seen["last"], heard), phases=seen["phases"] + 1,
                            running=seen["running"] + (not finished))
                if reason == "lost":
                    seen["state"] = "lost"
        state.workers = workers

    def timeline_svg(self, window: str | None = None) -> bytes | None:
        """The run's timeline picture, once there is a run (``window``: see ``hub.WINDOWS``)."""
        return self._timeline.window(window)

    def cancel(self, operation_id: str) -> bool:
        """Nothing can be cancelled from a journal: always ``False``."""
        return False

    def close(self) -> None:
        """Close the file. Idempotent."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
