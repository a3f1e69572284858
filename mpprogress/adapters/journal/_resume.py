"""Reading where an earlier run left its phases, for ``JournalSink(path, resume=True)``.

A run that resumes continues the **latest earlier run** in the file, and through it the runs
that one continued (``runs.resumed_from``): the *chain*.  For each pair of stable keys
(``operation_key``, ``phase_key``), the newest run of the chain that has such a phase says
where it stood (its row's last state: ``current``, ``total``, and whether it finished
successfully); the item keys done are the union of the chain's ``done_items`` for those keys.
A phase whose keys name several phases in that run (two workers' ``"chunk"``) is ambiguous and
starts afresh.  A phase that recorded item keys resumes at their number: its items skipped
never count twice, whatever count was last sampled before a crash.

Everything but the item keys is read once, when the sink opens (one query per table over the
chain); item keys are read per phase when its loop asks (``phase.track(items, key=...)``).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field

from ..._base.resume import ResumePoint

__all__ = ["Chain", "DoneKeys", "load_chain"]

Keys = tuple[str, str]


@dataclass
class Chain:
    """The runs a new run resumes, newest first, and where their phases stood.

    Args:
        runs: run ids, newest first (empty: nothing to resume).
        points: where each pair of keys resumes.
    """

    runs: tuple[int, ...] = ()
    points: dict[Keys, ResumePoint] = field(default_factory=dict)

    @property
    def previous(self) -> int | None:
        """The run resumed (the newest of the chain), if any."""
        return self.runs[0] if self.runs else None


def load_chain(conn: sqlite3.Connection, newest: int | None = None) -> Chain:
    """The chain a run started now resumes: the latest run in the file and those it continued.

    Args:
        conn: the journal.
        newest: start the chain at this run instead of the latest (the report asks where a run
            started right after it would resume its phases: the one count both show).
    """
    row = conn.execute("SELECT max(run_id) FROM runs").fetchone() if newest is None else (newest,)
    run = None if row is None else row[0]
    runs: list[int] = []
    while run is not None and run not in runs:
        runs.append(int(run))
        found = conn.execute("SELECT resumed_from FROM runs WHERE run_id = ?", (run,)).fetchone()
        run = None if found is None else found[0]
    if not runs:
        return Chain()
    marks = ",".join("?" * len(runs))
    rank = {run_id: index for index, run_id in enumerate(runs)}  # 0: the newest
    best: dict[Keys, tuple[int, int, ResumePoint | None]] = {}  # keys -> (rank, rows there, point)
    query = (
        "SELECT p.run_id, o.operation_key, p.phase_key, p.current, p.total, p.finished_at IS NOT NULL AND p.success"
        " FROM phases p JOIN operations o ON o.run_id = p.run_id AND o.operation_id = p.operation_id"
        f" WHERE p.run_id IN ({marks})"
    )
    for run_id, op_key, key, current, total, succeeded in conn.execute(query, runs):
        keys, here = (op_key, key), rank[run_id]
        known = best.get(keys)
        if known is not None and known[0] < here:
            continue  # a newer run of the chain has it
        point = ResumePoint(current, total, bool(succeeded), run_id)
        rows = 1 if known is None or known[0] > here else known[1] + 1
        best[keys] = (here, rows, point if rows == 1 else None)
    done = _done_counts(conn, runs, marks)
    points = {}
    for keys, (_, _, found) in best.items():
        if found is None:
            continue  # ambiguous: several phases with these keys in that run
        count = done.get(keys, 0)
        points[keys] = found if not count or found.finished else ResumePoint(count, found.total, False, found.run_id,
                                                                             count)
    return Chain(tuple(runs), points)


def _done_counts(conn: sqlite3.Connection, runs: list[int], marks: str) -> dict[Keys, int]:
    query = (
        "SELECT o.operation_key, p.phase_key, count(DISTINCT d.item_key) FROM done_items d"
        " JOIN phases p ON p.phase_row = d.phase_row"
        " JOIN operations o ON o.run_id = p.run_id AND o.operation_id = p.operation_id"
        f" WHERE p.run_id IN ({marks}) GROUP BY o.operation_key, p.phase_key"
    )
    return {(op_key, key): int(count) for op_key, key, count in conn.execute(query, runs)}


class DoneKeys:
    """Reads the item keys a chain recorded done, per phase, on a connection of its own.

    Args:
        conn: a connection to the journal (used under this object's lock only).
        runs: the chain's run ids.
    """

    def __init__(self, conn: sqlite3.Connection, runs: tuple[int, ...]) -> None:
        self._conn = conn
        self._runs = runs
        self._lock = threading.Lock()

    def read(self, operation_key: str, phase_key: str) -> frozenset[str]:
        """The item keys done by the chain's phases with these keys."""
        if not self._runs:
            return frozenset()
        marks = ",".join("?" * len(self._runs))
        query = (
            "SELECT DISTINCT d.item_key FROM done_items d JOIN phases p ON p.phase_row = d.phase_row"
            " JOIN operations o ON o.run_id = p.run_id AND o.operation_id = p.operation_id"
            f" WHERE p.run_id IN ({marks}) AND o.operation_key = ? AND p.phase_key = ?"
        )
        with self._lock:
            return frozenset(row[0] for row in self._conn.execute(query, (*self._runs, operation_key, phase_key)))

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
