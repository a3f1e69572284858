"""The report says what is true: one rate for one piece of work, a resumed phase's earlier items
not counted as this run's, no rate where none was measured, which operation a ranked phase
belongs to, and what each worker ran."""

from __future__ import annotations

import re
from pathlib import Path

from mpprogress._core.tracker import BaseProgressTracker
from mpprogress._report import load_run, render
from mpprogress.adapters.journal import JournalSink
from tests.unit.journal_runs import Planned, write_run


def test_a_one_phase_run_has_one_rate_whatever_the_setup_and_idle_time_around_it(tmp_path: Path) -> None:
    path = tmp_path / "one.db"
    write_run(path, [Planned("w", "Work", 1.0, 3.0, 100, 100)], operation="Run", length=5.0)
    figures = load_run(path)
    (phase,), (operation,) = figures.phases, figures.operations
    assert phase.rate == operation.rate == figures.rate == 50.0  # 100 items in the 2 s the phase ran
    text = render(figures, "text", width=140)
    assert "100 (50.0/s while phases ran)" in text
    assert set(re.findall(r"\d+(?:\.\d+)?/s", text.split("Throughput over time")[0])) == {"50.0/s"}


def _crawl(path: Path, items: list[str], stop_after: int | None = None) -> None:
    """One run over ``items`` in phase Fetch, and a finished phase Plan; "killed" as the
    ``stop_after``-th item's body starts (everything flushed, the run never closed)."""
    journal = JournalSink(path, resume=True)
    tracker = BaseProgressTracker(journal=journal, max_update_rate=None)
    op = tracker.start_operation("crawl", "Crawl")
    with op.phase("Plan", total=5) as plan:
        for _ in plan.track(range(5)):
            pass
    fetch = op.start_phase("fetch", "Fetch", total=len(items))
    for number, _ in enumerate(fetch.track(items, key=str)):
        if stop_after is not None and number + 1 == stop_after:
            assert journal.flush()
            journal._writer.end_run = lambda *args: None  # type: ignore[method-assign]  # as after SIGKILL
            journal.close()
            return
    op.finish_phase("fetch")
    tracker.finish_operation("crawl")
    tracker.close()
    journal.close()


def test_a_resumed_run_counts_only_its_own_items_and_gives_no_rate_for_phases_done_earlier(tmp_path: Path) -> None:
    path = tmp_path / "crawl.db"
    items = [f"i{n}" for n in range(10)]
    _crawl(path, items, stop_after=4)
    _crawl(path, items)
    figures = load_run(path)
    assert figures.run.resumed_from == 1
    phases = {p.title: p for p in figures.phases}
    plan, fetch = phases["Plan"], phases["Fetch"]
    assert (plan.done_earlier, plan.rate, plan.outcome, plan.reason, plan.new_items) == (
        True, None, "succeeded", "resumed, done earlier", 0)
    assert (fetch.done_earlier, fetch.resumed_from, fetch.current, fetch.new_items) == (False, 3, 10, 7)
    assert fetch.rate is not None and abs(fetch.rate - 7 / fetch.duration) < 1e-6
    assert figures.items == 7 and figures.items_earlier == 8  # Plan's 5 and the 3 Fetch recorded done
    text = render(figures, "text", width=160)
    assert re.search(r"items\s+7 \(.*/s while phases ran\); 8 more done in earlier runs", text)
    plan_row = next(line for line in text.splitlines() if line.startswith("Plan "))
    assert "resumed, done earlier" in plan_row and "/s" not in plan_row  # no "0.0/s"


def test_ranked_phases_name_their_operation_and_the_html_has_a_phase_table_per_operation(tmp_path: Path) -> None:
    path = tmp_path / "two.db"
    write_run(path, [Planned("a", "Page Selection", 0.0, 2.0, 10, 10, worker=("h", 7)),
                     Planned("b", "Page Selection", 2.0, 5.0, 10, 10, worker=("h", 7)),
                     Planned("c", "Parse", 1.0, 3.0, 10, 10, worker=("h", 8))], operation="Research Stripe")
    figures = load_run(path)
    text = render(figures, "text", width=160)
    slowest = text.split("Slowest phases")[1].split("Failures")[0]
    assert re.search(r"operation\s+┃\s+phase", slowest)
    assert len(re.findall(r"Research Stripe\s+│ Page Selection", slowest)) == 2
    page = render(figures, "html")
    assert "<h3>Phases of Research Stripe</h3>" in page and 'id="phases-0"' in page
    assert "<th>operation</th><th>phase</th>" in page.split("<h2>Slowest phases</h2>")[1]
    workers = {w.label: w.ran for w in figures.workers}
    assert workers == {"h pid 7": "Page Selection x2", "h pid 8": "Parse"}
    assert "<title>pid 7: Page Selection x2</title>" in page  # each lane says what it ran
