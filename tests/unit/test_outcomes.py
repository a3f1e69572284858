"""One vocabulary of outcomes (issue 25, items 4 and 5): the same words everywhere, and the
exception that failed a phase kept in the events, the journal, the report and the dashboard."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

import pytest
from rich.console import Console

from mpprogress import BaseProgressTracker
from mpprogress._base.outcomes import OUTCOMES, error_text, operation_outcome, phase_outcome
from mpprogress._dashboard.model import state_of
from mpprogress._report import load_run, render
from mpprogress.adapters.console import ConsoleConfig
from mpprogress.adapters.console._plain import PlainLines
from mpprogress.adapters.console._summary import render_summary
from mpprogress.adapters.journal import JournalSink
from mpprogress.adapters.jsonlines import JsonLinesSink


def test_one_word_and_one_symbol_per_outcome() -> None:
    table = [(o.word, o.symbol) for o in OUTCOMES]
    assert table == [("succeeded", "✔"), ("incomplete", "◐"), ("failed", "✘"), ("cancelled", "⊘"),
                     ("interrupted", "⊗"), ("lost", "⚠")]
    assert len({o.symbol for o in OUTCOMES}) == len(OUTCOMES)


def test_the_rules() -> None:
    assert phase_outcome(True, None, 2, 2).word == "succeeded"
    assert phase_outcome(True, None, 0, 2).word == "incomplete"  # was "✔ level 0 0/2"
    assert phase_outcome(True, None, 5, None).word == "succeeded"
    assert phase_outcome(False, "RuntimeError: boom", 1, 2).word == "failed"
    assert phase_outcome(False, "error").word == "failed"  # what earlier versions recorded
    for word in ("cancelled", "interrupted", "lost"):
        assert phase_outcome(False, word).word == word
    none_good = operation_outcome(True, None, {"failed": 1, "lost": 2})
    assert (none_good.outcome.word, none_good.detail) == ("failed", "0 of 3 phases succeeded (1 failed, 2 lost)")
    assert operation_outcome(True, None, {"succeeded": 2}).detail == ""
    assert operation_outcome(True, None, {"succeeded": 1, "incomplete": 1}).outcome.word == "incomplete"
    assert operation_outcome(False, "cancelled", {"succeeded": 1, "failed": 1}).outcome.word == "cancelled"
    assert operation_outcome(False, "failed", {"interrupted": 1}).outcome.word == "interrupted"
    assert operation_outcome(False, "lost", {}).outcome.word == "lost"


def test_the_exception_text_is_one_bounded_clean_line() -> None:
    assert error_text(RuntimeError("boom")) == "RuntimeError: boom"
    assert error_text(KeyError("x")) == "KeyError: 'x'"
    text = error_text(ValueError("\x1b[2J\u202eline one\nline two" + "y" * 1000))
    assert text.startswith("ValueError: [2Jline one line two") and len(text) == 200 and "\x1b" not in text

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert error_text(Unprintable()) == "Unprintable"


def run_with_a_failure(tracker: BaseProgressTracker) -> None:
    with pytest.raises(RuntimeError), tracker.operation("Crawl", operation_id="crawl") as op:
        with op.phase("fetch", total=2, phase_id="fetch") as phase:
            phase.update(2)
        with op.phase("short", total=4, phase_id="short") as phase:
            phase.update(1)
        with op.phase("parse", total=3, phase_id="parse") as phase:
            phase.update(1)
            raise RuntimeError("boom")


def test_json_events_carry_the_outcome_the_exception_and_a_utc_offset() -> None:
    out = io.StringIO()
    tracker = BaseProgressTracker()
    tracker.add_callback(JsonLinesSink(out))
    run_with_a_failure(tracker)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    finished = {e["data"]["title"]: e["data"] for e in events if e["type"] == "phase_finished"}
    assert {title: (d["outcome"], d["reason"]) for title, d in finished.items()} == {
        "fetch": ("succeeded", None), "short": ("incomplete", None), "parse": ("failed", "RuntimeError: boom"),
    }
    (operation,) = [e["data"] for e in events if e["type"] == "operation_finished"]
    assert (operation["outcome"], operation["phase_outcomes"]) == (
        "failed", {"succeeded": 1, "incomplete": 1, "failed": 1})
    assert all(re.search(r"[+-]\d\d:\d\d$", e["timestamp"]) for e in events)  # ISO 8601 with its offset


def test_the_report_says_what_happened_with_the_exception(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    tracker = BaseProgressTracker()
    sink = JournalSink(path)
    tracker.add_callback(sink)
    run_with_a_failure(tracker)
    sink.close()
    figures = load_run(path)
    assert {p.title: (p.outcome, p.reason) for p in figures.phases} == {
        "fetch": ("succeeded", None), "short": ("incomplete", None), "parse": ("failed", "RuntimeError: boom"),
    }
    (operation,) = figures.operations
    assert operation.outcome == "failed"  # it read "ok" with a failed phase
    text = render(figures, "text", width=160)
    assert "✘ failed (RuntimeError: boom)" in text and "failed error" not in text
    assert "◐ incomplete" in text
    data = json.loads(render(figures, "json"))
    assert {p["title"]: (p["outcome"], p["reason"]) for p in data["phases"]}["parse"] == (
        "failed", "RuntimeError: boom")
    assert data["operations"][0]["outcome"] == "failed"


def test_the_dashboard_shows_the_exception_and_the_outcome_words() -> None:
    tracker = BaseProgressTracker()
    run_with_a_failure(tracker)
    state = state_of(tracker.snapshot(), {}, {})
    rows = {row["title"]: (row["outcome"], row["reason"]) for row in state.phases.values()}
    assert rows == {"fetch": ("succeeded", None), "short": ("incomplete", None),
                    "parse": ("failed", "RuntimeError: boom")}
    (operation,) = state.operations.values()
    assert operation["outcome"] == "failed"
    assert operation["counts"] == {"succeeded": 1, "incomplete": 1, "failed": 1}


def test_items_that_failed_make_a_phase_incomplete_and_say_how_many() -> None:
    # issue 25: the demo showed "✔ Content Extraction 120/120" while 14 pages failed
    out = io.StringIO()
    tracker = BaseProgressTracker()
    tracker.add_callback(JsonLinesSink(out))
    console = Console(file=io.StringIO(), force_terminal=False, width=200)
    tracker.add_callback(PlainLines(console, interval=10.0))
    with tracker.operation("Research") as op, op.phase("Content Extraction", total=120) as phase:
        phase.update(100, "first pages", failed=9)
        phase.set_progress(120, "Extracted 106 pages, 14 failed: …", extracted=106, failed=14)
    (finished,) = [json.loads(line)["data"] for line in out.getvalue().splitlines() if "phase_finished" in line]
    assert (finished["success"], finished["outcome"], finished["reason"]) == (
        True, "incomplete", "14 of 120 items failed")
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    said = "◐ Research › Content Extraction: incomplete (14 of 120 items failed) at 120/120"  # noqa: RUF001
    assert any(line[9:].startswith(said) for line in lines)
    summary = Console(file=io.StringIO(), width=120, record=True)
    snapshot = tracker.snapshot().operations[0]
    summary.print(render_summary("Research", True, 1.0, snapshot, ConsoleConfig()))
    assert "◐ Content Extraction  incomplete (14 of 120 items failed)  120/120" in summary.export_text()


def test_a_flag_named_failed_is_not_a_count() -> None:
    tracker = BaseProgressTracker()
    with tracker.operation("Op") as op, op.phase("p", total=1) as phase:
        phase.update(1, failed=True)  # a boolean is the user's own metadata, not a count
    assert tracker.snapshot().operations[0].phases[0].outcome == "succeeded"


def test_an_early_ctrl_c_is_interrupted_not_cancelled() -> None:
    # issue 25: the session's signal handler cancels the open operations first, then the
    # KeyboardInterrupt ends the block: the README promises "Interrupted", it read "Cancelled"
    out = io.StringIO()
    tracker = BaseProgressTracker()
    tracker.add_callback(JsonLinesSink(out))
    with pytest.raises(KeyboardInterrupt), tracker.operation("Research") as op:
        op.cancel()  # what cancel_on_signals does on SIGINT
        raise KeyboardInterrupt
    (finished,) = [json.loads(line)["data"] for line in out.getvalue().splitlines() if "operation_finished" in line]
    assert (finished["outcome"], finished["reason"]) == ("interrupted", "interrupted")


def test_an_operation_failed_by_an_exception_keeps_it() -> None:
    out = io.StringIO()
    tracker = BaseProgressTracker()
    tracker.add_callback(JsonLinesSink(out))
    with pytest.raises(OSError), tracker.operation("Research"):
        raise OSError("disk full")
    (finished,) = [json.loads(line)["data"] for line in out.getvalue().splitlines() if "operation_finished" in line]
    assert (finished["outcome"], finished["reason"]) == ("failed", "OSError: disk full")


def test_a_none_title_is_empty_not_the_word_none() -> None:
    tracker = BaseProgressTracker()
    with tracker.operation(None) as op, op.phase(None, total=1) as phase:  # type: ignore[arg-type]
        phase.update(1)
    (operation,) = tracker.snapshot().operations
    assert (operation.title, operation.phases[0].title) == ("", "")


def test_log_records_on_the_console_carry_an_iso_8601_time() -> None:
    from mpprogress.adapters.console import ConsoleSink

    console = Console(file=io.StringIO(), force_terminal=False, width=120)
    tracker = BaseProgressTracker()
    sink = ConsoleSink(tracker, console=console)
    logger = logging.getLogger("test.outcomes.iso")
    logger.propagate = False
    logger.addHandler(sink.logging_handler())
    try:
        logger.warning("disk nearly full")
    finally:
        logger.handlers.clear()
        sink.close()
    (line,) = [line for line in console.file.getvalue().splitlines() if "disk nearly full" in line]  # type: ignore[attr-defined]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d WARNING", line), line  # not "[12/07/26 13:21:25]"
