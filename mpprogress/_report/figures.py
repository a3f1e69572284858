"""The figures of one journaled run, computed from its rows (pure functions, no I/O).

Every output format (text, JSON, HTML) is drawn from one ``RunFigures``: per operation and
phase the duration, items, rate, outcome and reason; the slowest phases; failures and the
workers that were lost; each worker's busy and idle time; and throughput over time.

One rate for one piece of work: a rate is the items done in this run over the time phases were
running (a phase's own duration; for an operation or the run, the time at least one of its
top-level phases ran), so a one-phase run shows one number everywhere.  Items an earlier run
did (a resumed phase's starting count) are not counted as this run's work, and a phase done
in an earlier run has no rate: none was measured.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from .._base.outcomes import is_detail, operation_outcome, phase_outcome

__all__ = [
    "DONE_EARLIER",
    "OUTCOMES",
    "OperationFigures",
    "PhaseFigures",
    "RunFigures",
    "RunInfo",
    "Throughput",
    "WorkerFigures",
    "build_figures",
    "outcome_of",
    "ran",
    "throughput",
]

OUTCOMES: Final = ("failed", "lost", "interrupted", "cancelled", "incomplete", "unfinished", "succeeded")
"""Every outcome, the most serious first (a merged bar takes the most serious of its phases): the
words of ``outcomes.OUTCOMES``, and ``unfinished`` for what the journal never saw end."""
UNFINISHED: Final = "unfinished"
SLOWEST: Final = 10
BUCKETS: Final = 120


@dataclass(frozen=True)
class RunInfo:
    """The run itself: who wrote it, and whether it was closed cleanly."""

    run_id: int
    started_at: float
    ended_at: float | None
    end: float  # ended_at, or the last moment the journal knew of (a run not closed cleanly)
    host: str
    pid: int
    argv: list[str]
    version: str
    dropped_logs: int
    write_errors: int
    resumed_from: int | None = None  # the run this one continued (``session(resume=True)``)

    @property
    def closed_cleanly(self) -> bool:
        """Whether the journal was closed (not killed, not crashed)."""
        return self.ended_at is not None


@dataclass(frozen=True)
class PhaseFigures:
    """One phase: when, how much, how fast, and how it ended."""

    phase_id: str
    operation_id: str
    parent_phase_id: str | None
    key: str
    title: str
    host: str | None
    pid: int | None
    started_at: float
    end: float  # finished_at, or the run's end for a phase still running then
    finished: bool
    duration: float
    current: float
    total: int | None
    rate: float | None
    outcome: str
    reason: str | None
    resumed_from: float = 0  # the count it resumed at (items an earlier run did)
    done_earlier: bool = False  # finished successfully in an earlier run: skipped in this one

    @property
    def new_items(self) -> float:
        """Items done in this run."""
        return max(0, self.current - self.resumed_from)


@dataclass(frozen=True)
class OperationFigures:
    """One operation and the sum of its phases."""

    operation_id: str
    title: str
    started_at: float
    end: float
    duration: float
    phases: int
    items: float
    rate: float | None
    outcome: str
    reason: str | None


@dataclass(frozen=True)
class WorkerFigures:
    """One worker process (or, without worker identity, one operation's phases in this process)."""

    label: str
    host: str | None
    pid: int | None
    phases: int
    busy: float  # seconds in at least one phase
    idle: float  # seconds between its first start and its last end in none
    failed: int
    lost: int
    ran: str = ""  # what it ran: its phases' titles (``ran``)


@dataclass(frozen=True)
class Throughput:
    """Items per second in equal time buckets from ``start``."""

    start: float
    bucket_seconds: float
    items_per_second: list[float]


@dataclass(frozen=True)
class RunFigures:
    """Everything the report shows about one run."""

    run: RunInfo
    other_runs: list[int]
    operations: list[OperationFigures]
    phases: list[PhaseFigures]
    slowest: list[PhaseFigures]
    failures: list[PhaseFigures]
    workers: list[WorkerFigures]
    throughput: Throughput
    outcomes: dict[str, int]
    items: float  # done in this run
    logs_by_level: dict[str, int]
    recent_problems: list[tuple[float, str, str, str]]  # (at, level, logger, message), warnings and worse
    rate: float | None = None  # items over the time at least one phase ran
    busy: float = 0.0  # seconds at least one top-level phase ran
    items_earlier: float = 0  # items resumed phases had done in earlier runs

    @property
    def lost_workers(self) -> list[WorkerFigures]:
        """The workers that lost at least one phase."""
        return [worker for worker in self.workers if worker.lost]

    def to_json(self) -> str:
        """The figures as JSON (``mpprogress report --format json``)."""
        data: dict[str, Any] = {"format": "mpprogress.report/2", **asdict(self)}
        data["run"]["closed_cleanly"] = self.run.closed_cleanly
        data["lost_workers"] = [asdict(worker) for worker in self.lost_workers]
        data["recent_problems"] = [dict(zip(("at", "level", "logger", "message"), row, strict=True))
                                   for row in self.recent_problems]
        return json.dumps(data, ensure_ascii=False)


def outcome_of(success: int | None, reason: str | None, current: float = 0, total: int | None = None) -> str:
    """The word of a phase's outcome (``outcomes.phase_outcome``), ``unfinished`` if it never ended."""
    if success is None:
        return UNFINISHED
    return phase_outcome(bool(success), reason, current, total).word


def _operation_outcome(op: _Operation, members: Sequence[PhaseFigures]) -> str:
    """The word of an operation's outcome from its own end and its phases' (``operation_outcome``)."""
    if op.success is None:
        return UNFINISHED
    ended = Counter(p.outcome for p in members if p.outcome != UNFINISHED)
    return operation_outcome(bool(op.success), op.reason, ended).outcome.word


def _rate(items: float, seconds: float) -> float | None:
    return items / seconds if seconds > 0 else None


def _union_length(intervals: Iterable[tuple[float, float]]) -> tuple[float, float, float]:
    """(covered length, first start, last end) of ``intervals``."""
    covered, first, last = 0.0, float("inf"), float("-inf")
    run_start = run_end = None
    for start, end in sorted(intervals):
        first, last = min(first, start), max(last, end)
        if run_end is None or start > run_end:
            if run_end is not None and run_start is not None:
                covered += run_end - run_start
            run_start, run_end = start, end
        else:
            run_end = max(run_end, end)
    if run_end is not None and run_start is not None:
        covered += run_end - run_start
    return covered, first, last


def worker_label(host: str | None, pid: int | None, operation: str) -> str:
    """How a worker is named: ``host pid N``, or the operation for phases without a worker."""
    if pid is None and host is None:
        return f"(this process) {operation}"
    return " ".join(part for part in (host, None if pid is None else f"pid {pid}") if part)


def ran(phases: Sequence[PhaseFigures], shown: int = 2) -> str:
    """What a worker ran: its top-level phases' titles, most frequent first (``Fetch x4, Parse
    (+3 more)``)."""
    counts = Counter(p.title for p in phases if p.parent_phase_id is None) or Counter(p.title for p in phases)
    named = [title if number == 1 else f"{title} x{number:,}" for title, number in counts.most_common(shown)]
    rest = len(counts) - len(named)
    return ", ".join(named) + (f" (+{rest:,} more)" if rest else "")


def _workers(phases: Sequence[PhaseFigures], titles: dict[str, str]) -> list[WorkerFigures]:
    groups: dict[tuple[str | None, int | None, str], list[PhaseFigures]] = defaultdict(list)
    for phase in phases:
        anonymous = phase.host is None and phase.pid is None
        groups[(phase.host, phase.pid, phase.operation_id if anonymous else "")].append(phase)
    found = []
    for (host, pid, operation_id), members in groups.items():
        busy, first, last = _union_length((p.started_at, p.end) for p in members if p.parent_phase_id is None)
        label = worker_label(host, pid, titles.get(operation_id, operation_id))
        counts = Counter(p.outcome for p in members)
        found.append(WorkerFigures(label, host, pid, len(members), busy, max(0.0, last - first - busy),
                                   counts["failed"], counts["lost"], ran(members)))
    return sorted(found, key=lambda w: (w.host or "", w.pid or 0, w.label))


def throughput(
    start: float, end: float, curves: Iterable[Sequence[tuple[float, float]]], buckets: int = BUCKETS
) -> Throughput:
    """Items per second over ``[start, end]``: each phase's progress between two of its samples
    is spread evenly over the time between them.

    Args:
        start: the run's start.
        end: the run's end.
        curves: per phase, its ``(time, current)`` points in time order (from its start at 0).
        buckets: how many equal buckets.
    """
    span = max(end - start, 1e-9)
    width = span / buckets
    amounts = [0.0] * buckets
    for points in curves:
        for (t0, c0), (t1, c1) in itertools.pairwise(points):
            delta = c1 - c0
            if delta <= 0:
                continue
            if t1 <= t0:
                amounts[min(buckets - 1, max(0, int((t1 - start) / width)))] += delta
                continue
            per_second = delta / (t1 - t0)
            first = max(0, int((t0 - start) / width))
            last = min(buckets - 1, int((t1 - start) / width))
            for index in range(first, last + 1):
                low, high = start + index * width, start + (index + 1) * width
                overlap = min(high, t1) - max(low, t0)
                if overlap > 0:
                    amounts[index] += per_second * overlap
    return Throughput(start, width, [amount / width for amount in amounts])


@dataclass(frozen=True)
class _Operation:
    operation_id: str
    title: str
    started_at: float
    finished_at: float | None
    success: int | None
    reason: str | None


def build_figures(
    run: RunInfo,
    other_runs: list[int],
    operations: Sequence[_Operation],
    phases: Sequence[PhaseFigures],
    curves: dict[str, list[tuple[float, float]]],
    logs: tuple[dict[str, int], list[tuple[float, str, str, str]]],
) -> RunFigures:
    """Every figure of a run from its rows (see ``reader.load_run``)."""
    titles = {op.operation_id: op.title for op in operations}
    by_operation: dict[str, list[PhaseFigures]] = defaultdict(list)
    for phase in phases:
        by_operation[phase.operation_id].append(phase)
        if phase.operation_id not in titles:
            titles[phase.operation_id] = phase.operation_id
    known = {op.operation_id for op in operations}
    unseen = [  # phases of an operation whose start the journal did not see (a sink attached late)
        _Operation(operation_id, operation_id, min(p.started_at for p in members), None, None, None)
        for operation_id, members in by_operation.items() if operation_id not in known
    ]
    ops = []
    for op in [*operations, *unseen]:
        members = by_operation.get(op.operation_id, [])
        end = op.finished_at if op.finished_at is not None else run.end
        items = sum(p.new_items for p in members)
        ops.append(OperationFigures(op.operation_id, op.title, op.started_at, end, end - op.started_at,
                                    len(members), items, _rate(items, _busy(members)),
                                    _operation_outcome(op, members), _detail(op.reason)))
    failures = [p for p in phases if p.outcome not in ("succeeded", UNFINISHED)]
    slowest = heapq.nlargest(SLOWEST, phases, key=lambda p: p.duration)
    start = min([run.started_at, *(p.started_at for p in phases)])
    starts = {p.phase_id: (p.started_at, p.resumed_from) for p in phases}  # a resumed curve starts there
    lines = ([starts[pid], *points] if pid in starts else points for pid, points in curves.items())
    items, busy = sum(p.new_items for p in phases), _busy(phases)
    return RunFigures(
        run=run, other_runs=other_runs, operations=ops, phases=list(phases), slowest=slowest,
        failures=failures, workers=_workers(phases, titles), throughput=throughput(start, run.end, lines),
        outcomes=dict(Counter(p.outcome for p in phases)), items=items,
        logs_by_level=logs[0], recent_problems=logs[1], rate=_rate(items, busy), busy=busy,
        items_earlier=sum(p.current - p.new_items for p in phases),
    )


def _busy(phases: Sequence[PhaseFigures]) -> float:
    """Seconds at least one of the top-level phases that ran in this run was running."""
    return _union_length((p.started_at, p.end) for p in phases if p.parent_phase_id is None and not p.done_earlier)[0]


DONE_EARLIER: Final = "resumed, done earlier"
"""The reason shown for a phase that finished in an earlier run (and was skipped in this one)."""


def phase_figures(
    row: Sequence[Any], run_end: float, resumed_from: float = 0, done_earlier: bool = False,
) -> PhaseFigures:
    """A phase from its row: ``phase_id, operation_id, parent_phase_id, phase_key, title, host, pid,
    started_at, finished_at, success, reason, duration, current, total``.

    Args:
        row: the phase's row.
        run_end: the end of its run (of a phase still running then).
        resumed_from: the count it resumed at (an earlier run's work).
        done_earlier: it finished successfully in an earlier run: no rate was measured.
    """
    (phase_id, operation_id, parent, key, title, host, pid, started_at, finished_at, success, reason, duration,
     current, total) = row
    finished = finished_at is not None
    end = finished_at if finished else max(run_end, started_at)
    seconds = duration if finished and duration is not None else end - started_at
    rate = None if done_earlier else _rate(max(0, current - resumed_from), seconds)
    outcome = outcome_of(success, reason, current, total)
    if done_earlier and success:
        reason = DONE_EARLIER
    return PhaseFigures(phase_id, operation_id, parent, key, title, host, pid, started_at, end, finished, seconds,
                        current, total, rate, outcome, _detail(reason), resumed_from, done_earlier)


def _detail(reason: str | None) -> str | None:
    """What a reason says beyond its outcome's word (``"RuntimeError: boom"``), else ``None``."""
    return reason if reason == DONE_EARLIER or is_detail(reason) else None


def operation_row(row: Sequence[Any]) -> _Operation:
    """An operation from its row: ``operation_id, title, started_at, finished_at, success, reason``."""
    return _Operation(*row)
