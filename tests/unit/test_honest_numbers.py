"""Numbers that say what is true (issue 25, item 3): a count past its total is visibly over, a
time under a second is not ``0:00:00``, and ``100%`` means the total was reached -- on the live
console, its summary, the plain lines, the log records and the notebook display alike."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from mpprogress import BaseProgressTracker
from mpprogress._base.formats import (
    format_counted,
    format_elapsed,
    format_eta,
    format_percentage,
    format_seconds,
    percent_of,
)
from mpprogress._report import load_run, render
from mpprogress.adapters.console import ConsoleProgressTracker
from mpprogress.adapters.console._render import ConsoleConfig, render_frame, render_summary
from mpprogress.adapters.logs import LoggingSink
from mpprogress.adapters.notebook import NotebookSink
from mpprogress.testing import FakeClock
from tests.unit.journal_runs import Planned, write_run
from tests.unit.test_notebook_sink import RecordedOutput


def text_of(renderable: object, width: int = 120) -> str:
    console = Console(file=io.StringIO(), record=True, width=width, force_terminal=True, color_system="standard")
    console.print(renderable)
    return console.export_text()


def row(text: str, title: str) -> str:
    return next(line for line in text.splitlines() if title in line)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def over_counted(tracker: BaseProgressTracker, clock: FakeClock) -> Any:
    """25 items of a phase whose total is 10, counted over 0.4 s; its operation."""
    op = tracker.start_operation("op", "Op")
    phase = op.start_phase("p", "Pages", 10)
    clock.advance(0.4)
    phase.update(25)
    return op


def fast_and_almost_done(tracker: BaseProgressTracker, clock: FakeClock) -> None:
    """56 of 120 at 226/s, 0.25 s in: 0.28 s left (the dashboard's "ETA 0:00:00" of the issue)."""
    phase = tracker.start_operation("op", "Op").start_phase("p", "Pages", 120)
    for _ in range(56):
        clock.advance(1 / 226)
        phase.update(1)


def test_the_formats_say_over_under_a_second_and_not_yet_done() -> None:
    assert format_counted(12, 40) == "12/40"
    assert format_counted(25, 10) == "25/10 (+15 over)"
    assert format_counted(2_500, 1_000) == "2,500/1,000 (+1,500 over)"
    assert format_counted(7, None) == "7"
    assert format_counted(10, 10) == "10/10"
    assert percent_of(25, 10) == 250.0 and percent_of(3, None) is None and percent_of(3, 0) is None
    assert [format_percentage(v) for v in (0, 74.0, 66.67, 99.6, 100.0, 250.0, None)] == [
        "0%", "74%", "67%", "99%", "100%", "250%", ""]
    assert format_eta(0.28) == "<0:00:01"  # known, under a second: never 0:00:00 while work remains
    assert format_eta(0) == "0:00:00" and format_eta(8.7) == "0:00:08" and format_eta(None) == "-:--:--"
    assert format_elapsed(0.4) == "0.4s" and format_elapsed(0.01) == "<0.1s" and format_elapsed(8.7) == "0:00:08"
    assert format_seconds(0.4) == "0.4s" and format_seconds(0.0) == "<0.1s" and format_seconds(13.04) == "13.0s"


def test_the_live_row_shows_an_over_count_and_its_true_percentage(clock: FakeClock) -> None:
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    over_counted(tracker, clock)
    line = row(text_of(render_frame(tracker.snapshot(), ConsoleConfig(), width=120, height=40, now=0.0)), "Pages")
    assert re.search(r" 25/10 \(\+15 over\) +250% +0\.4s", line), line
    assert "100%" not in line and "0:00:00" not in line
    assert tracker.snapshot().operations[0].phases[0].percentage == 100.0  # the snapshot's stays capped


def test_the_summary_panel_shows_the_over_count(clock: FakeClock) -> None:
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    over_counted(tracker, clock).finish_phase("p")
    op = tracker.snapshot().operations[0]
    text = text_of(render_summary("Op", True, op.elapsed, op, ConsoleConfig()))
    assert re.search(r"✔ Pages +25/10 \(\+15 over\) +0\.4s", text), text
    assert "Duration: 0.4s" in text


def test_a_sub_second_phase_reads_as_such_and_its_eta_is_under_a_second(clock: FakeClock) -> None:
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False, max_update_rate=None)
    fast_and_almost_done(tracker, clock)
    text = text_of(render_frame(tracker.snapshot(), ConsoleConfig(), width=120, height=40, now=0.0))
    assert text.splitlines()[0].startswith("● Op  0.2s  eta <0:00:01  226.0/s"), text
    assert re.search(r" 56/120 +47% +0\.2s eta <0:00:01 226\.0/s", row(text, "Pages")), text
    assert "0:00:00" not in text


def test_plain_lines_show_the_over_count_and_no_eta_once_no_work_is_left(clock: FakeClock) -> None:
    console = Console(file=io.StringIO(), force_terminal=False, width=200)
    tracker = ConsoleProgressTracker(console, get_time=clock, auto_flush=False, max_update_rate=None)
    op = tracker.start_operation("op", "Op")
    phase = op.start_phase("p", "Pages", 10)
    clock.advance(11.0)  # past the plain lines' interval: the update is written
    phase.update(25)
    op.finish_phase("p")
    tracker.finish_operation("op")
    tracker.close()
    lines = [line[9:] for line in console.file.getvalue().splitlines()]  # type: ignore[attr-defined]
    progress = next(line for line in lines if line.startswith("· Op › Pages: "))  # noqa: RUF001
    assert progress.startswith("· Op › Pages: 25/10 (+15 over) 250% 2.3/s"), progress  # noqa: RUF001
    assert "eta" not in progress  # past its total: nothing left to estimate
    assert "✔ Op › Pages: succeeded 25/10 (+15 over) in 11.0s (2.3/s)" in lines  # noqa: RUF001


def test_log_records_show_the_over_count(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False, max_update_rate=None)
    tracker.add_callback(LoggingSink("test.honest"))
    with caplog.at_level(logging.INFO, logger="test.honest"):
        over_counted(tracker, clock).finish_phase("p")
    messages = [record.getMessage() for record in caplog.records]
    assert "progress Pages: 25/10 (+15 over) (250%)" in messages
    assert "phase succeeded: Pages in 0.4s" in messages


def test_the_notebook_shows_the_over_count(clock: FakeClock) -> None:
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    sink = NotebookSink(tracker, output=RecordedOutput)
    output = RecordedOutput.made[-1]
    over_counted(tracker, clock).finish_phase("p")
    tracker.finish_operation("op")
    sink.close()
    assert re.search(r"✔ Pages +25/10 \(\+15 over\) +0\.4s", output.text), output.text
    shown = re.sub("<[^>]+>", "", output.bundles[-1]["text/html"])
    assert "25/10 (+15 over)" in shown
    tracker.close()


def test_the_report_shows_the_over_count_and_a_sub_second_duration(tmp_path: Path) -> None:
    journal = tmp_path / "run.db"
    write_run(journal, [Planned("p", "overshoot", 0.0, 0.4, 25, 10), Planned("q", "blink", 0.5, 0.52, 3, 3)],
              length=1.0)
    figures = load_run(journal)
    text = render(figures, "text", width=140)
    assert re.search(r"overshoot[ │]+0\.4 s[ │]+25/10 \(\+15 over\)", text), text
    assert re.search(r"blink[ │]+<0\.1 s[ │]+3/3 ", text), text
    page = render(figures, "html")
    assert "<td class=n>25/10 (+15 over)</td>" in page and "<td class=n>0.4 s</td>" in page
    assert "duration 0.4 s, items 25/10 (+15 over)" in page  # the bar's tooltip
    assert " ms<" not in page and " ms," not in page
