"""Long runs stay small: finished phases of an open operation are let go, with exact tallies (issue 12.5)."""

from __future__ import annotations

import gc
import weakref

import pytest

from mpprogress import BaseProgressTracker
from mpprogress.testing import recorded_tracker

make = recorded_tracker  # (tracker, events, clock)


def test_the_default_keeps_fifty_finished_phases_per_operation() -> None:
    # Fifty: the console counts the rest from the snapshot's tallies and needs no more rows.
    assert BaseProgressTracker().max_finished_phases == 50


def test_finished_phases_of_an_open_operation_are_let_go_with_exact_counts() -> None:
    tracker, events, _ = make(max_finished_phases=5)
    op = tracker.start_operation("op", "Op")
    for number in range(20):
        phase = op.start_phase(f"p{number}", f"P{number}", total=10)
        phase.update(10)
        if number % 4 == 3:
            op.finish_phase(phase.phase_id, success=False, reason="lost")
        elif number % 4 == 2:
            op.finish_phase(phase.phase_id, success=False, reason="boom")  # an unknown reason: failed
        else:
            op.finish_phase(phase.phase_id)
    running = op.start_phase("running", "Running", total=10)
    view = tracker.snapshot().get("op")
    assert view is not None
    assert [row.phase_id for row in view.phases] == ["p15", "p16", "p17", "p18", "p19", "running"]
    assert dict(view.finished_counts) == {"succeeded": 10, "failed": 5, "lost": 5}
    assert view.pruned == 15
    assert list(op.phases) == ["p15", "p16", "p17", "p18", "p19", "running"]
    assert tracker.get_phase("p0") is None and tracker.get_phase("p15") is not None
    assert tracker.get_phase("running") is running
    assert len(events.of_type("phase_finished")) == 20  # every phase reported its finish first


def test_running_phases_are_never_let_go() -> None:
    tracker, _, _ = make(max_finished_phases=2)
    op = tracker.start_operation("op", "Op")
    running = [op.start_phase(f"r{number}", "R", total=5) for number in range(10)]
    for number in range(10):
        with op.phase(f"done {number}", total=1) as phase:
            phase.update(1)
    view = tracker.snapshot().operations[0]
    assert [row.phase_id for row in view.phases if not row.finished] == [p.phase_id for p in running]
    assert sum(row.finished for row in view.phases) == 2 and view.pruned == 8


def test_a_parent_rolls_up_its_let_go_sub_phases_exactly() -> None:
    tracker, _, _ = make(max_finished_phases=3)
    op = tracker.start_operation("op", "Op")
    parent = op.start_phase("parent", "Parent")
    for number in range(30):
        child = parent.start_phase(f"c{number}", "C", total=4)
        child.update(4 if number % 3 else 2)
        parent.finish_phase(child.phase_id, success=bool(number % 3))
    open_child = parent.start_phase("open", "Open", total=4)
    open_child.update(1)
    done = 20 * 4 + 10 * 2 + 1
    assert parent.rollup() == (done, 31 * 4)
    assert parent.percentage == pytest.approx(done / 124 * 100)
    (row,) = tracker.snapshot().operations[0].phases
    assert (row.rollup_current, row.rollup_total) == (done, 124)
    assert row.percentage == pytest.approx(done / 124 * 100)
    assert len(row.phases) == 4 and row.pruned == 27
    assert dict(row.finished_counts) == {"succeeded": 20, "failed": 10}


def test_a_parent_whose_sub_phases_were_all_let_go_still_rolls_them_up() -> None:
    tracker, _, _ = make(max_finished_phases=1)
    op = tracker.start_operation("op", "Op")
    parent = op.start_phase("parent", "Parent")
    for number in range(3):
        with parent.phase(f"c{number}", total=2) as child:
            child.update(2)
    other = op.start_phase("other", "Other", total=1)
    op.finish_phase(other.phase_id)  # the newest finished: every sub-phase of parent is let go
    assert parent.phases == {}
    assert parent.rollup() == (6, 6) and parent.percentage == 100.0
    row = tracker.snapshot().operations[0].phases[0]
    assert (row.phase_id, row.rollup_current, row.rollup_total, row.pruned) == ("parent", 6, 6, 3)


def test_a_let_go_parent_takes_its_sub_phases_and_their_counts_along() -> None:
    tracker, _, _ = make(max_finished_phases=2)
    op = tracker.start_operation("op", "Op")
    for number in range(3):
        with op.phase(f"parent {number}", total=None) as parent:
            for inner in range(4):
                with parent.phase(f"child {inner}", total=1) as child:
                    child.update(1)
    view = tracker.snapshot().operations[0]
    assert len(view.all_phases()) == 2  # the two newest finished phases, wherever they are
    assert view.pruned == 13
    assert dict(view.finished_counts) == {"succeeded": 15}
    assert len(tracker._core.phases) == 2  # nothing else is held


def test_let_go_phases_are_freed() -> None:
    tracker, _, _ = make(max_finished_phases=1)
    op = tracker.start_operation("op", "Op")
    with op.phase("first", total=1) as phase:
        phase.update(1)
    ref = weakref.ref(phase)
    del phase
    with op.phase("second", total=1) as phase:
        phase.update(1)
    gc.collect()
    assert ref() is None


def test_no_limit_keeps_every_finished_phase() -> None:
    tracker, _, _ = make(max_finished_phases=None)
    op = tracker.start_operation("op", "Op")
    for number in range(120):
        with op.phase(f"p{number}", total=1) as phase:
            phase.update(1)
    view = tracker.snapshot().operations[0]
    assert len(view.phases) == 120 and view.pruned == 0 and dict(view.finished_counts) == {"succeeded": 120}


def test_a_snapshot_holds_what_is_kept_not_the_history() -> None:
    tracker, _, _ = make()
    op = tracker.start_operation("op", "Op")
    for number in range(5_000):
        with op.phase(f"p{number}", total=2) as phase:
            phase.update(2)
    view = tracker.snapshot().operations[0]
    assert len(view.all_phases()) == 50  # the default max_finished_phases
    assert view.pruned == 4_950 and view.finished_counts == {"succeeded": 5_000}


def test_a_finished_operation_is_snapshotted_once() -> None:
    tracker, _, clock = make()
    with tracker.operation("Op", operation_id="op") as op, op.phase("p", total=1) as phase:
        phase.update(1)
    first = tracker.snapshot().get("op")
    clock.advance(5.0)
    assert tracker.snapshot().get("op") is first


@pytest.mark.parametrize("value", [-1])
def test_a_bad_limit_is_refused(value: int) -> None:
    with pytest.raises(ValueError, match="max_finished_phases"):
        BaseProgressTracker(max_finished_phases=value)
