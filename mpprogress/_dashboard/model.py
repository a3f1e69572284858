"""What the page shows, as plain JSON-ready rows, and the difference between two states.

A ``State`` holds tables of rows keyed by id (``operations``, ``phases``, ``workers``), the
newest log records and a few facts about the source (``meta``).  The server keeps the state it
last sent and pushes only ``diff(old, new)``: rows that changed, ids that went away, log records
not sent yet.  Rows hold no clock-driven numbers (no elapsed time: the page counts it from
``started``), and rates are rounded, so a row changes only when what it shows does.

Every string in a row has passed through ``clean_line`` (no control characters, bounded
length); the page still treats all of it as text.  Standard library only.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from .._base.outcomes import is_detail, operation_outcome
from .._base.snapshot import OperationSnapshot, PhaseSnapshot, TrackerSnapshot, outcome_of
from .._base.text import clean_line

__all__ = ["TABLES", "LogBook", "Row", "State", "diff", "eta_seconds", "operation_row", "phase_row", "rounded",
           "state_of"]

Row = dict[str, Any]
TABLES: Final = ("operations", "phases", "workers")


@dataclass
class State:
    """Everything one push can describe (see the module's note)."""

    operations: dict[str, Row] = field(default_factory=dict)
    phases: dict[str, Row] = field(default_factory=dict)
    workers: dict[str, Row] = field(default_factory=dict)
    logs: list[Row] = field(default_factory=list)  # the newest records, oldest first, each with a "seq"
    meta: Row = field(default_factory=dict)

    def document(self) -> Row:
        """The whole state, as the page's ``snapshot`` message carries it."""
        return {"meta": self.meta, "operations": self.operations, "phases": self.phases, "workers": self.workers,
                "logs": self.logs}


def rounded(value: float | None, digits: int = 3) -> float | None:
    """``value`` to ``digits`` significant digits (``None`` for none or not finite)."""
    if value is None or not math.isfinite(value):
        return None
    if value == 0:
        return 0.0
    return float(round(value, digits - 1 - math.floor(math.log10(abs(value)))))


def eta_seconds(value: float | None) -> float | None:
    """An ETA as the page gets it: cut to whole seconds, as the console writes it (``0:14:34``,
    not a rounded ``0:14:30``); under a second to two digits, for ``<0:00:01``."""
    if value is None or not math.isfinite(value) or value < 0:
        return None
    return rounded(value, 2) if value < 1 else float(math.floor(value))


def _number(value: float) -> float:
    return value if isinstance(value, int) else rounded(value, 6) or 0.0


def phase_row(phase: PhaseSnapshot, order: int, worker: str | None) -> Row:
    """One phase as the page shows it.

    ``stalled``: its worker has been silent past the aggregator's stall timeout (in doubt, not
    final), so it has no ETA; ``resumed``: the count it resumed at from an earlier run (``None``
    when it started afresh).
    """
    outcome = (phase.outcome or outcome_of(phase.success, phase.reason)) if phase.finished else None
    stalled = phase.stalled and not phase.finished
    return {
        "op": phase.operation_id, "parent": phase.parent_phase_id, "depth": phase.depth, "n": order,
        "title": clean_line(phase.title, 200), "current": _number(phase.rollup_current), "total": phase.rollup_total,
        "pct": rounded(phase.percentage, 4), "rate": rounded(phase.rate),
        "eta": None if stalled else eta_seconds(phase.eta), "stalled": stalled,
        "resumed": None if phase.resumed_from is None else _number(phase.resumed_from),
        "message": clean_line(phase.message, 300) if phase.message else None,
        "started": round(phase.started_at.timestamp(), 3), "finished": phase.finished, "outcome": outcome,
        # what a failure's reason says beyond its word: the exception (``"RuntimeError: boom"``)
        "reason": clean_line(phase.reason, 200) if phase.finished and is_detail(phase.reason) else None,
        "duration": round(phase.elapsed, 1) if phase.finished else None,
        "cancelled": phase.cancelled, "worker": worker,
    }


def operation_row(op: OperationSnapshot, order: int) -> Row:
    """One operation as the page shows it (its phases are rows of their own)."""
    if not op.finished:
        outcome = None
    else:  # the one vocabulary (outcomes.py)
        outcome = op.outcome or operation_outcome(op.success, "cancelled" if op.cancelled else None,
                                                  op.finished_counts).outcome.word
    counts = dict(op.finished_counts)
    running = stalled = 0
    for phase in op.all_phases():
        if not phase.finished:
            running += 1
            stalled += phase.stalled
    return {
        "title": clean_line(op.title, 200), "n": order, "started": round(op.started_at.timestamp(), 3),
        "finished": op.finished, "outcome": outcome, "cancelled": op.cancelled,
        "duration": round(op.elapsed, 1) if op.finished else None,
        # A phase in doubt (stalled): when all is done is unknown.
        "rate": rounded(op.rate), "eta": None if stalled else eta_seconds(op.eta), "counts": counts, "running": running,
        "stalled": stalled, "pruned": op.pruned,
    }


def state_of(snapshot: TrackerSnapshot, worker_of_phase: dict[str, str], meta: Row) -> State:
    """The operations and phases of a tracker's snapshot (``worker_of_phase``: phase id -> worker key)."""
    state = State(meta=meta)
    for number, op in enumerate(snapshot.operations):
        state.operations[op.operation_id] = operation_row(op, number)
        for order, phase in enumerate(op.all_phases()):
            state.phases[phase.phase_id] = phase_row(phase, order, worker_of_phase.get(phase.phase_id))
    return state


def _table_diff(old: dict[str, Row], new: dict[str, Row]) -> tuple[dict[str, Row], list[str]]:
    changed = {key: row for key, row in new.items() if old.get(key) != row}
    removed = [key for key in old if key not in new]
    return changed, removed


def diff(old: State, new: State) -> Row | None:
    """The patch that turns ``old`` into ``new`` on the page, or ``None`` when nothing changed."""
    patch: Row = {}
    for table in TABLES:
        changed, removed = _table_diff(getattr(old, table), getattr(new, table))
        if changed:
            patch[table] = changed
        if removed:
            patch[table + "_removed"] = removed
    last = old.logs[-1]["seq"] if old.logs else 0
    logs = [entry for entry in new.logs if entry["seq"] > last]
    if logs:
        patch["logs"] = logs
    if new.meta != old.meta:
        patch["meta"] = new.meta
    return patch or None


class LogBook(logging.Handler):
    """The newest log records (the workers' as they are re-emitted here, and this process's).

    Add it to a logger (``logging.getLogger().addHandler(book)``); ``entries()`` is what the page
    shows.  Bounded: older records are let go.

    Args:
        keep: how many records are kept.
        level: the lowest level recorded.
    """

    def __init__(self, keep: int = 200, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._entries: deque[Row] = deque(maxlen=keep)
        self._seq = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Keep ``record`` (formatting errors are logging's usual ``handleError``)."""
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not format must not break logging
            self.handleError(record)
            return
        worker = record.processName if record.processName and record.processName.startswith("worker-") else None
        entry = {"at": round(record.created, 3), "level": record.levelname, "logger": clean_line(record.name, 100),
                 "message": clean_line(message, 500), "pid": record.process, "worker": worker}
        with self._guard():
            self._seq += 1
            entry["seq"] = self._seq
            self._entries.append(entry)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        # logging's own handler lock (re-entrant: ``handle`` holds it around ``emit``), which
        # logging makes anew in a forked child: one held by a parent thread at the fork is not.
        self.acquire()
        try:
            yield
        finally:
            self.release()

    @property
    def seq(self) -> int:
        """How many records were kept so far (it grows with every record)."""
        return self._seq

    def entries(self) -> list[Row]:
        """The kept records, oldest first."""
        with self._guard():
            return list(self._entries)

    def extend(self, rows: Iterable[Row]) -> None:
        """Keep rows read from elsewhere (a journal's log records), numbering them."""
        with self._guard():
            for row in rows:
                self._seq += 1
                self._entries.append({**row, "seq": self._seq})


def now() -> float:
    """The wall clock the page's times are in."""
    return time.time()
