"""Orchestration of ``mpprogress demo``: the site, the session, one worker process per company.

The parent serves the generated site, opens one operation per company ("Researching Acme
Robotics") and hands each company to a worker process; the worker finds that operation with
``mpprogress.get_tracker().get_operation(operation_id)`` and reports its four phases into it,
so the parent's one display (or, with ``--format json``, its stream of JSON lines) shows every
process.  At the end the parent prints each company's profile and the operation summaries.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TextIO

from ..events import PHASE_FINISHED, PHASE_STARTED, PROGRESS_UPDATE, ProgressEventSerializer
from ..port import ProgressError
from ..session import get_tracker, set_tracker
from ..snapshot import OperationSnapshot, TrackerSnapshot
from ..tracker import BaseProgressTracker
from .pipeline import CompanyProfile, CompanyTarget, PipelineConfig, research_company
from .site import SiteServer, generate_site

__all__ = ["CompanyJob", "DemoConfig", "JsonLinesSink", "research_job", "run_demo"]

OutputFormat = Literal["display", "json"]


@dataclass(frozen=True)
class DemoConfig:
    """What ``mpprogress demo`` was asked to do.

    Attributes:
        workers: worker processes (at most one per company is used).
        companies: companies to research.
        pages: HTML pages per company site.
        seed: seed of the generated site.
        output: ``"display"`` (the live display) or ``"json"`` (events as JSON lines).
        color: whether the display may use colour.
        start_method: ``"spawn"``, ``"fork"`` or ``"forkserver"``; ``None`` for spawn.
        pipeline: the pipeline's knobs.
    """

    workers: int = 4
    companies: int = 4
    pages: int = 300
    seed: int = 1
    output: OutputFormat = "display"
    color: bool = True
    start_method: str | None = None
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)


@dataclass(frozen=True)
class CompanyJob:
    """One worker's assignment: which company, and the parent's operation to report into."""

    target: CompanyTarget
    operation_id: str
    config: PipelineConfig


def research_job(job: CompanyJob) -> CompanyProfile:
    """Worker entry point: research one company inside the parent's operation.

    A top-level function so ``spawn`` and ``forkserver`` workers can import it.

    Args:
        job: the company and the operation id.

    Returns:
        The company's profile.

    Raises:
        LookupError: this process cannot see the operation (no session reached it).
    """
    op = get_tracker().get_operation(job.operation_id)
    if op is None:
        raise LookupError(f"operation {job.operation_id} is not visible from this worker process")
    return research_company(op, job.target, job.config)


class JsonLinesSink:
    """Writes every event as one JSON line (``ProgressEventSerializer``) to a text stream.

    Args:
        stream: where to write; flushed after each line so a reader sees events live.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, *, event_type: str, **data: Any) -> None:
        line = ProgressEventSerializer.serialize_event(event_type, **data)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def close(self) -> None:
        """Flush the stream (it belongs to the caller and stays open)."""
        with self._lock:
            self._stream.flush()


@dataclass
class _Session:
    """The parent's tracker, the options worker pools need to reach it, and ``settle``: wait
    until a finished worker's last events have reached the tracker."""

    tracker: BaseProgressTracker
    bridge_queue: Any
    settle: Callable[[str], None]


@contextmanager
def open_session(config: DemoConfig, out: TextIO) -> Iterator[_Session]:
    """The parent's tracker with its output, and how worker processes reach it.

    The one place that decides how workers report.  Until ``mpprogress.session()`` lands it is
    a ``_QueueBridge`` over a ``multiprocessing`` queue handed to each worker by the pool's
    initializer; with it this becomes ``with session(console=..., sinks=...) as tracker: yield
    _Session(tracker, None, lambda operation_id: None)`` (workers find the address in their
    environment, and final states are acknowledged).
    """
    context = multiprocessing.get_context(config.start_method or "spawn")
    tracker = BaseProgressTracker()
    sink = JsonLinesSink(out) if config.output == "json" else _LinePrinter(sys.stderr)
    tracker.add_callback(sink)
    bridge = _QueueBridge(tracker, context)
    try:
        yield _Session(tracker, bridge.queue, bridge.settle)
    finally:
        bridge.close()
        tracker.close()
        sink.close()


class _MirrorTracker(BaseProgressTracker):
    """A worker's tracker: asking for an unknown operation opens a local mirror of it."""

    def get_operation(self, operation_id: str) -> Any:
        op = super().get_operation(operation_id)
        if op is None:
            try:
                op = self.start_operation(operation_id, operation_id)
            except ValueError:  # another thread opened it first
                op = super().get_operation(operation_id)
        return op


class _QueueForwarder:
    """A worker-side callback that puts every event on the bridge's queue."""

    def __init__(self, queue: Any) -> None:
        self._queue = queue

    def __call__(self, *, event_type: str, **data: Any) -> None:
        self._queue.put((event_type, data))


def _init_worker(bridge_queue: Any) -> None:
    """Pool initializer: Ctrl-C is the parent's to handle; with a bridge, report through it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if bridge_queue is not None:
        tracker = _MirrorTracker()
        tracker.add_callback(_QueueForwarder(bridge_queue))
        set_tracker(tracker)


_STATE_KEYS = frozenset(
    {"operation_id", "phase_id", "parent_phase_id", "title", "description", "current", "total",
     "percentage", "message", "rate", "peak_rate", "eta", "elapsed"}
)


class _QueueBridge:
    """Replays workers' phase events on the parent's tracker (a stand-in for the remote mode).

    Args:
        tracker: the parent's tracker, which holds the operations workers report into.
        context: the multiprocessing context the worker pool uses.
    """

    def __init__(self, tracker: BaseProgressTracker, context: Any) -> None:
        self.queue = context.Queue()
        self._tracker = tracker
        self._open: Counter[str] = Counter()
        self._seen: set[str] = set()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="mpprogress-demo-bridge", daemon=True)
        self._thread.start()

    def settle(self, operation_id: str, timeout: float = 10.0) -> None:
        """Wait until a phase of the operation was seen and none of them is still open."""
        with self._changed:
            self._changed.wait_for(
                lambda: operation_id in self._seen and not self._open[operation_id], timeout
            )

    def close(self) -> None:
        """Replay what is queued, then stop. Idempotent."""
        if self._thread.is_alive():
            self.queue.put(None)
            self._thread.join()
        self.queue.close()
        self.queue.join_thread()

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            # A phase of an operation that has finished meanwhile has nothing left to show.
            with suppress(ProgressError, ValueError, KeyError):
                self._apply(*item)

    def _apply(self, event_type: str, data: dict[str, Any]) -> None:
        tracker, operation_id = self._tracker, data.get("operation_id", "")
        parent_id = data.get("parent_phase_id")
        parent = tracker.get_phase(parent_id) if parent_id else tracker.get_operation(operation_id)
        if event_type == PHASE_STARTED and parent is not None:
            parent.start_phase(data["phase_id"], data["title"], data["total"], data["description"])
            self._count(operation_id, +1)
        elif event_type == PROGRESS_UPDATE:
            phase = tracker.get_phase(data["phase_id"])
            if phase is None or phase.finished:
                return
            if phase.total != data["total"]:
                phase.set_total(data["total"])
            extra = {key: value for key, value in data.items() if key not in _STATE_KEYS}
            phase.set_progress(data["current"], data["message"], **extra)
        elif event_type == PHASE_FINISHED and parent is not None:
            parent.finish_phase(data["phase_id"], data["success"], reason=data["reason"])
            self._count(operation_id, -1)

    def _count(self, operation_id: str, change: int) -> None:
        with self._changed:
            self._seen.add(operation_id)
            self._open[operation_id] += change
            self._changed.notify_all()


class _LinePrinter:
    """A plain line per phase start and finish: the display until the console sink lands."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._titles: dict[str, str] = {}

    def __call__(self, *, event_type: str, **data: Any) -> None:
        if event_type == "operation_started":
            self._titles[data["operation_id"]] = data["title"]
        elif event_type in ("phase_started", "phase_finished"):
            operation = self._titles.get(data["operation_id"], "")
            if event_type == "phase_started":
                line = f"  > {operation} - {data['title']}"
            else:
                mark = "ok" if data["success"] else f"FAILED ({data['reason']})"
                line = f"  {mark} {operation} - {data['title']} {data['current']}/{data['total']}"
            print(line, file=self._stream, flush=True)

    def close(self) -> None:
        """Nothing to release."""


def run_demo(config: DemoConfig, out: TextIO | None = None) -> int:
    """Run the demo: serve the site, research every company in a worker process, report.

    Args:
        config: what to run.
        out: where results (and, in JSON mode, events) go; ``sys.stdout`` by default.

    Returns:
        The exit status: 0 when every company was researched, 1 otherwise.
    """
    out = out or sys.stdout
    site = generate_site(config.seed, config.companies, config.pages)
    results: dict[str, CompanyProfile] = {}
    errors: dict[str, BaseException] = {}
    with SiteServer(site) as server, open_session(config, out) as session:
        tracker = session.tracker
        jobs = []
        for company_site in site.sites:
            company = company_site.company
            target = CompanyTarget(company.name, company.slug, server.base_url)
            op = tracker.start_operation(
                f"research-{company.slug}", f"Researching {company.name}",
                f"4-phase research of {server.base_url}{target.root}",
            )
            jobs.append(CompanyJob(target, op.operation_id, config.pipeline))
        context = multiprocessing.get_context(config.start_method or "spawn")
        workers = max(1, min(config.workers, len(jobs)))
        try:
            # Pool rather than ProcessPoolExecutor: on Ctrl-C, leaving the block terminates workers.
            with context.Pool(workers, _init_worker, (session.bridge_queue,)) as pool:
                for job, profile, error in _research_all(pool, jobs):
                    if profile is not None:
                        results[job.target.name] = profile
                        session.settle(job.operation_id)
                    else:
                        errors[job.target.name] = error or RuntimeError("no result")
                    tracker.finish_operation(job.operation_id, success=profile is not None)
        finally:
            for job in jobs:  # only after an interruption are some still open
                _interrupt(tracker, job.operation_id)
        snapshot = tracker.snapshot()
        statuses = server.statuses
    ordered = [results[c.company.name] for c in site.sites if c.company.name in results]
    if config.output == "json":
        _write_json_report(out, ordered, errors, statuses)
    else:
        _write_text_report(out, ordered, errors, snapshot, statuses)
    return 1 if errors else 0


def _interrupt(tracker: BaseProgressTracker, operation_id: str) -> None:
    """Finish an operation that is still open, and its open phases, as interrupted."""
    op = tracker.get_operation(operation_id)
    if op is None or op.finished:
        return
    for phase_id in list(op.phases):
        op.finish_phase(phase_id, success=False, reason="interrupted")
    tracker.finish_operation(operation_id, success=False)


Outcome = tuple[CompanyJob, CompanyProfile | None, BaseException | None]


def _research_all(pool: Any, jobs: list[CompanyJob]) -> Iterator[Outcome]:
    """Give every job to the pool; yield (job, profile, error) in the order they finish."""
    done: queue.Queue[Outcome] = queue.Queue()
    for job in jobs:
        pool.apply_async(
            research_job,
            (job,),
            callback=lambda profile, job=job: done.put((job, profile, None)),
            error_callback=lambda error, job=job: done.put((job, None, error)),
        )
    for _ in jobs:
        yield done.get()


def _write_json_report(
    out: TextIO, profiles: list[CompanyProfile], errors: dict[str, BaseException], statuses: dict[int, int]
) -> None:
    for profile in profiles:
        out.write(ProgressEventSerializer.serialize_event("demo_result", **asdict(profile)) + "\n")
    summary = {
        "companies": len(profiles) + len(errors),
        "succeeded": len(profiles),
        "errors": {name: repr(exc) for name, exc in errors.items()},
        "http_statuses": {str(code): count for code, count in sorted(statuses.items())},
    }
    out.write(ProgressEventSerializer.serialize_event("demo_summary", **summary) + "\n")
    out.flush()


def _write_text_report(
    out: TextIO,
    profiles: list[CompanyProfile],
    errors: dict[str, BaseException],
    snapshot: TrackerSnapshot,
    statuses: dict[int, int],
) -> None:
    lines = ["", "Results"]
    for p in profiles:
        employees = f"{p.employees:,} employees" if p.employees is not None else "staff unknown"
        lines += [
            f"  {p.name}: {p.industry or '?'}, founded {p.founded or '?'}, {p.headquarters or '?'}, {employees}",
            f"    products: {', '.join(p.products) or 'none found'}",
            f"    keywords: {', '.join(p.keywords)}",
            f"    pages: {p.links_discovered} discovered, {p.pages_selected} selected, "
            f"{p.pages_extracted} extracted, {p.pages_failed} failed, {p.retries} retries; {p.words:,} words",
        ]
    lines += [f"  {name}: FAILED - {exc!r}" for name, exc in errors.items()]
    lines += ["", "Operations"]
    for op in snapshot.operations:
        lines += _operation_summary(op)
    served = ", ".join(f"{count} x {code}" for code, count in sorted(statuses.items()))
    lines += ["", f"The local site answered {sum(statuses.values())} requests: {served}.", ""]
    lines.append("")
    out.write("\n".join(lines))
    out.flush()


def _operation_summary(op: OperationSnapshot) -> list[str]:
    mark = "ok" if op.success else "FAILED"
    lines = [f"  [{mark}] {op.title} in {op.elapsed:.1f}s"]
    for phase in op.all_phases():
        state = "ok" if phase.success else (phase.reason or "failed")
        rate = f"{phase.rate:,.0f}/s" if phase.rate else "-"
        count = f"{phase.current:g}/{phase.total}" if phase.total is not None else f"{phase.current:g}"
        lines.append(f"    {phase.title:<20} {count:>9}  {phase.elapsed:5.2f}s  {rate:>8}  {state}")
    return lines
