"""Reading one run out of a journal file (read-only: a journal being written can be read)."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import defaultdict
from pathlib import Path

from ..adapters.journal._resume import load_chain
from ..adapters.journal._schema import JournalError, open_journal
from .figures import RunFigures, RunInfo, build_figures, operation_row, phase_figures

__all__ = ["ReportError", "load_run"]

_RECENT_PROBLEMS = 20


class ReportError(JournalError):
    """The run asked for is not in the journal (or the journal cannot be read)."""


def load_run(path: str | Path, run_id: int | None = None) -> RunFigures:
    """The figures of one run of the journal at ``path``.

    Args:
        path: the journal file.
        run_id: the run to read; the latest one by default.

    Raises:
        ReportError: no such run (or no run at all) in the file.
        JournalError: the file is not a journal this version can read.
    """
    conn = open_journal(path, readonly=True)
    try:
        return _load(conn, Path(path), run_id)
    except sqlite3.Error as exc:
        raise ReportError(f"cannot read journal {path}: {exc}") from exc
    finally:
        conn.close()


def _load(conn: sqlite3.Connection, path: Path, run_id: int | None) -> RunFigures:
    runs = [int(row[0]) for row in conn.execute("SELECT run_id FROM runs ORDER BY run_id")]
    if not runs:
        raise ReportError(f"journal {path} holds no run yet")
    chosen = runs[-1] if run_id is None else run_id
    if chosen not in runs:
        raise ReportError(f"journal {path} has no run {run_id} (its runs: {_ranges(runs)})")
    run = _run(conn, chosen)
    phases = [phase_figures(row, run.end, *resumed) for row, resumed in _phase_rows(conn, chosen, run.resumed_from)]
    operations = [
        operation_row(row)
        for row in conn.execute(
            "SELECT operation_id, title, started_at, finished_at, success, reason FROM operations"
            " WHERE run_id = ? ORDER BY started_at", (chosen,),
        )
    ]
    curves: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for phase_id, at, current in conn.execute(
        "SELECT p.phase_id, s.at, s.current FROM samples s JOIN phases p ON p.phase_row = s.phase_row"
        " WHERE p.run_id = ? ORDER BY s.phase_row, s.at", (chosen,),
    ):
        curves[phase_id].append((at, current))
    for phase in phases:  # a count the item keys raised past the last sample (``_phase_rows``)
        points = curves[phase.phase_id]
        if points and points[-1][1] < phase.current:
            points.append((max(points[-1][0], phase.end), phase.current))
    by_level = {
        logging.getLevelName(level): count
        for level, count in conn.execute(
            "SELECT level, count(*) FROM logs WHERE run_id = ? GROUP BY level ORDER BY level", (chosen,)
        )
    }
    problems = [
        (at, logging.getLevelName(level), logger, message)
        for at, level, logger, message in conn.execute(
            "SELECT at, level, logger, message FROM logs WHERE run_id = ? AND level >= ? ORDER BY at DESC LIMIT ?",
            (chosen, logging.WARNING, _RECENT_PROBLEMS),
        )
    ][::-1]
    others = [other for other in runs if other != chosen]
    return build_figures(run, others, operations, phases, curves, (by_level, problems))


def _phase_rows(
    conn: sqlite3.Connection, run_id: int, resumed_from: int | None,
) -> list[tuple[tuple[object, ...], tuple[float, bool]]]:
    """The run's phase rows, each with where it resumed: ``(count, done earlier)``.

    A phase not finished successfully shows the count a run resuming this one starts it at
    (``load_chain``: the item keys recorded done, which the writer commits every flush, while a
    progress sample is written about once a second): after a SIGKILL the report and the next
    run's resume say the same number.  Where a phase of a resumed run started is read the same
    way, from the run it resumed: the first phase with those keys took that point.
    """
    points = load_chain(conn, run_id).points
    earlier = load_chain(conn, resumed_from).points if resumed_from is not None else {}
    rows = []
    for row in conn.execute(
        "SELECT p.phase_id, p.operation_id, p.parent_phase_id, p.phase_key, p.title, p.host, p.pid, p.started_at,"
        " p.finished_at, p.success, p.reason, p.duration, p.current, p.total, o.operation_key FROM phases p"
        " LEFT JOIN operations o ON o.run_id = p.run_id AND o.operation_id = p.operation_id"
        " WHERE p.run_id = ? ORDER BY p.started_at, p.phase_row", (run_id,),
    ):
        *fields, operation_key = row
        keys = (operation_key, fields[3])
        point = points.get(keys)
        if point is not None and point.done_keys and point.run_id == run_id and not point.finished:
            fields[12] = point.current
        start = earlier.pop(keys, None)
        rows.append((tuple(fields), (0 if start is None else start.current, start is not None and start.finished)))
    return rows


def _run(conn: sqlite3.Connection, run_id: int) -> RunInfo:
    (started_at, ended_at, last_seen, host, pid, argv, version, dropped_logs, write_errors, resumed) = conn.execute(
        "SELECT started_at, ended_at, last_seen, host, pid, argv, version, dropped_logs, write_errors, resumed_from"
        " FROM runs WHERE run_id = ?", (run_id,),
    ).fetchone()
    if ended_at is not None:
        end = ended_at
    else:  # killed or crashed: the last moment the journal heard of
        latest = conn.execute(
            "SELECT max(coalesce(finished_at, updated_at, started_at)) FROM phases WHERE run_id = ?", (run_id,)
        ).fetchone()[0]
        end = max(value for value in (started_at, last_seen, latest) if value is not None)
    try:
        args = [str(arg) for arg in json.loads(argv)]
    except (ValueError, TypeError):
        args = [str(argv)]
    return RunInfo(run_id, started_at, ended_at, end, host, pid, args, version, dropped_logs, write_errors, resumed)


def _ranges(numbers: list[int]) -> str:
    """``1-3, 7`` for ``[1, 2, 3, 7]``."""
    parts: list[str] = []
    start = previous = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if number is not None:
            start = previous = number
    return ", ".join(parts)
