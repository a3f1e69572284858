"""Journals of scripted runs for the report's tests: events fed to a real ``JournalSink`` at the
times of a fake clock, so every figure of the report is known in advance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpprogress._base.events import OperationFinished, OperationStarted, PhaseFinished, PhaseStarted, ProgressUpdate
from mpprogress.adapters.journal import JournalConfig, JournalSink
from mpprogress.testing import FakeClock

START = 1_000_000.0


@dataclass
class WorkerPhaseStarted(PhaseStarted):
    """A phase start naming its worker, as remote phases will."""

    worker: Any = None


@dataclass(frozen=True)
class Planned:
    """A phase of the script: from ``start`` to ``end`` seconds, ``items`` done linearly."""

    phase_id: str
    title: str
    start: float
    end: float
    items: int
    total: int | None = None
    reason: str | None = None  # None: success
    worker: tuple[str, int] | None = None
    parent: str | None = None
    finished: bool = True


def write_run(path: Path, phases: list[Planned], *, operation: str = "Crawl", length: float = 10.0,
              close: bool = True, argv: tuple[str, ...] = ("crawl.py", "--fast")) -> JournalSink:
    """Journal one run of ``phases`` in one operation (id ``op``) from 0 to ``length`` seconds,
    with a progress sample of each running phase at every whole second before its end."""
    clock = FakeClock(START)
    sink = JournalSink(path, config=JournalConfig(flush_interval=3600.0), get_time=clock, argv=list(argv))
    timed: list[tuple[float, int, Any]] = [
        (0.0, 0, OperationStarted(operation_id="op", title=operation)),
        (length, 3, OperationFinished(operation_id="op", title=operation, duration=length)),
    ]
    for plan in phases:
        timed.append((plan.start, 1, WorkerPhaseStarted(
            operation_id="op", phase_id=plan.phase_id, parent_phase_id=plan.parent, title=plan.title,
            total=plan.total, worker=plan.worker)))
        second = int(plan.start) + 1
        while second < min(plan.end, length):
            done = plan.items * (second - plan.start) / (plan.end - plan.start)
            timed.append((float(second), 2, ProgressUpdate(
                operation_id="op", phase_id=plan.phase_id, parent_phase_id=plan.parent, title=plan.title,
                current=round(done), total=plan.total, elapsed=second - plan.start)))
            second += 1
        if plan.finished:
            timed.append((plan.end, 2, PhaseFinished(
                operation_id="op", phase_id=plan.phase_id, parent_phase_id=plan.parent, title=plan.title,
                success=plan.reason is None, reason=plan.reason, duration=plan.end - plan.start,
                current=plan.items, total=plan.total)))
    for at, _, event in sorted(timed, key=lambda item: (item[0], item[1])):
        clock.now = START + at
        sink.handle(event)
        if isinstance(event, ProgressUpdate):
            assert sink.flush()
    clock.now = START + length
    if close:
        sink.close()
    else:
        assert sink.flush()
    return sink


CRAWL = [
    Planned("p1", "fetch 1", 0.0, 4.0, 40, 40, worker=("host-a", 101)),
    Planned("p2", "fetch 2", 5.0, 9.0, 40, 40, worker=("host-a", 101)),
    Planned("p3", "parse", 1.0, 3.0, 5, 20, reason="error", worker=("host-a", 102)),
    Planned("p4", "index", 3.5, 6.0, 10, 30, reason="lost", worker=("host-a", 102)),
    Planned("p5", "render", 2.0, 8.0, 12, None, reason="cancelled", worker=("host-b", 201)),
    Planned("p6", "merge", 8.0, 10.0, 100, 100),
]
"""Two hosts, three workers and the parent itself; every outcome but interrupted."""
