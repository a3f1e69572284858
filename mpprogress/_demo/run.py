"""Orchestration of ``mpprogress demo``: the site, the session, one worker process per company.

The parent serves the generated site, opens one operation per company ("Researching Acme
Robotics") and hands each company to a worker process; the worker finds that operation with
``mpprogress.get_tracker().get_operation(operation_id)`` and reports its four phases into it,
so the parent's one display (or, with ``--format json``, its stream of JSON lines) shows every
process.  At the end the parent prints each company's profile and the totals (the display has
printed each operation's summary as it finished).
"""

from __future__ import annotations

import multiprocessing
import queue
import shutil
import signal
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TextIO

from .._base.errors import failure_reason
from .._base.events import ProgressEventSerializer
from .._base.outcomes import FAILED, SUCCEEDED, WORDS
from .._base.snapshot import TrackerSnapshot
from .._core.tracker import BaseProgressTracker
from .._wiring import get_tracker, output_session
from .pipeline import CompanyProfile, CompanyTarget, PipelineConfig, research_company
from .server import SiteServer
from .site import DemoSite, generate_site

__all__ = ["CompanyJob", "DemoConfig", "research_job", "run_demo"]

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
        journal: an SQLite file to record the run in, if any.
        pipeline: the pipeline's knobs.
    """

    workers: int = 4
    companies: int = 4
    pages: int = 300
    seed: int = 1
    output: OutputFormat = "display"
    color: bool = True
    start_method: str | None = None
    journal: str | None = None
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


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore Ctrl-C while worker processes start, so they inherit that from their first instruction.

    Ctrl-C is the parent's to handle (it terminates the pool); a worker interrupted while still
    importing would only print a traceback over the display.  An ignored disposition survives
    fork and exec alike (a blocked signal mask does not survive ``spawn``).  The price: a
    Ctrl-C pressed during these few milliseconds is lost.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _init_worker() -> None:
    """Pool initializer: ignore Ctrl-C (also in a worker the pool starts later as a replacement)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


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
    shown = output_session(config.output, out, color=config.color, journal=config.journal)
    with SiteServer(site) as server, shown as tracker:
        try:
            results, errors = _research_companies(config, site, server.base_url, tracker)
        finally:
            for op in tracker.operations:  # only after an interruption are some still open
                _interrupt(tracker, op.operation_id)
        snapshot = tracker.snapshot()
        statuses = server.statuses
    ordered = [results[c.company.name] for c in site.sites if c.company.name in results]
    if config.output == "json":
        _write_json_report(out, ordered, errors, statuses)
    else:
        _write_text_report(out, ordered, errors, snapshot, statuses)
    return 1 if errors else 0


def _research_companies(
    config: DemoConfig, site: DemoSite, base_url: str, tracker: BaseProgressTracker
) -> tuple[dict[str, CompanyProfile], dict[str, BaseException]]:
    """Open one operation per company and research each in a worker process.

    Returns:
        The profiles and the errors, by company name.
    """
    results: dict[str, CompanyProfile] = {}
    errors: dict[str, BaseException] = {}
    context = multiprocessing.get_context(config.start_method or "spawn")
    # Pool rather than ProcessPoolExecutor: on Ctrl-C, leaving the block terminates the workers.
    jobs = []
    for company_site in site.sites:
        company = company_site.company
        target = CompanyTarget(company.name, company.slug, base_url)
        description = f"4-phase research of {target.root} on the local site"
        op = tracker.start_operation(f"research-{company.slug}", f"Researching {company.name}", description)
        jobs.append(CompanyJob(target, op.operation_id, config.pipeline))
    with ExitStack() as stack:
        with _sigint_ignored():
            pool = stack.enter_context(context.Pool(max(1, min(config.workers, len(jobs))), _init_worker))
        for job, profile, error in _research_all(pool, jobs):
            if profile is not None:
                results[job.target.name] = profile
            else:
                errors[job.target.name] = error or RuntimeError("no result")
            tracker.finish_operation(job.operation_id, success=profile is not None,
                                     reason=None if error is None else failure_reason(error))
    return results, errors


def _interrupt(tracker: BaseProgressTracker, operation_id: str) -> None:
    """Finish an operation that is still open, and its open phases, as interrupted."""
    op = tracker.get_operation(operation_id)
    if op is None or op.finished:
        return
    for phase_id in list(op.phases):
        op.finish_phase(phase_id, success=False, reason="interrupted")
    tracker.finish_operation(operation_id, success=False, reason="interrupted")


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
            f"{p.pages_extracted} extracted, {p.pages_failed} failed, {_counted(p.retries, 'retry', 'retries')}; "
            f"{p.words:,} words",
        ]
    lines += [f"  {name}: FAILED - {exc!r}" for name, exc in errors.items()]
    # The display printed each operation's summary as it finished; here, the totals.
    operations = snapshot.operations
    ended = Counter(op.outcome or "unfinished" for op in operations)  # the words the display used
    words = [word for word in (*WORDS, "unfinished") if ended[word] or word in (SUCCEEDED.word, FAILED.word)]
    longest = max((op.elapsed for op in operations), default=0.0)
    served = ", ".join(f"{count} x {code}" for code, count in sorted(statuses.items()))
    lines += [
        "",
        f"{_counted(len(operations), 'operation')}: {', '.join(f'{ended[word]} {word}' for word in words)}; "
        f"the longest took {longest:.1f}s.",
        f"The local site answered {sum(statuses.values())} requests: {served}.",
        "",
    ]
    width = shutil.get_terminal_size((100, 24)).columns
    out.write("\n".join(_fold(line, width) for line in lines))
    out.flush()


def _fold(line: str, width: int) -> str:
    """``line`` wrapped at word boundaries to ``width``, continuation lines indented under it."""
    indent = " " * (len(line) - len(line.lstrip(" ")) + 2)
    return textwrap.fill(line, width=max(width, 20), subsequent_indent=indent, break_on_hyphens=False) if line else ""


def _counted(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else plural or singular + 's'}"
