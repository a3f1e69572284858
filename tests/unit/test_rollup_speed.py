"""A parent that rolls up its sub-phases reports their count, total and rate (issue 13.8)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from mpprogress.adapters.console._plain import PlainLines
from mpprogress.testing import recorded_tracker


def test_a_rolled_up_parent_has_the_rate_of_its_sub_phases() -> None:
    tracker, events, clock = recorded_tracker(max_update_rate=None)
    op = tracker.start_operation("op", "Op")
    parent = op.start_phase("parent", "Content Extraction")
    for number in range(3):
        with parent.phase(f"page {number}", total=20) as child:
            clock.advance(1.0)
            child.update(20)
    clock.advance(1.0)
    (row,) = tracker.snapshot().operations[0].phases
    assert (row.rollup_current, row.rollup_total, row.elapsed) == (60, 60, 4.0)
    assert row.rate == pytest.approx(15.0)  # 60 over 4 s, not its own count of 0
    op.finish_phase("parent")
    (finished_row,) = tracker.snapshot().operations[0].phases
    assert finished_row.rate == pytest.approx(15.0)
    (finished,) = [e.data for e in events.of_type("phase_finished") if e.data["phase_id"] == "parent"]
    assert (finished["current"], finished["total"], finished["duration"]) == (60, 60, 4.0)
    assert finished["rate"] == pytest.approx(15.0)


def test_a_parent_with_its_own_total_keeps_its_own_figures() -> None:
    tracker, events, clock = recorded_tracker(max_update_rate=None)
    op = tracker.start_operation("op", "Op")
    with op.phase("own", total=4) as parent:
        with parent.phase("inner", total=100) as inner:
            clock.advance(2.0)
            inner.update(100)
        parent.update(4)
    finished = next(e.data for e in events.of_type("phase_finished") if e.data["title"] == "own")
    assert (finished["current"], finished["total"], finished["rate"]) == (4, 4, 2.0)


def test_the_plain_line_of_a_rolled_up_parent_counts_its_sub_phases() -> None:
    tracker, _, clock = recorded_tracker(max_update_rate=None)
    out = io.StringIO()
    tracker.add_callback(PlainLines(Console(file=out, width=200), interval=10.0, get_time=clock))
    with tracker.operation("Op") as op, op.phase("Content Extraction") as parent:
        for number in range(3):
            with parent.phase(f"page {number}", total=20) as child:
                clock.advance(1.0)
                child.update(20)
    line = next(line for line in out.getvalue().splitlines() if "Content Extraction: succeeded" in line)
    assert "succeeded 60/60 in 3.0s (20.0/s)" in line
