"""Phases nested thousands deep: every walk over the tree is iterative (issue 12.2)."""

from __future__ import annotations

from typing import Any

import pytest

from mpprogress import BaseProgressTracker, ProgressError
from mpprogress._base.errors import PhaseDepthError
from mpprogress._core.phases import BaseProgressOperation, BaseProgressPhase
from mpprogress.testing import FakeClock, RecordingCallback, recorded_tracker

DEPTH = 2_000  # well past the interpreter's recursion limit (1,000)


def make(**kwargs: Any) -> tuple[BaseProgressTracker, RecordingCallback, FakeClock]:
    return recorded_tracker(max_update_rate=None, **kwargs)


def nest(tracker: BaseProgressTracker, depth: int) -> tuple[BaseProgressOperation, list[BaseProgressPhase]]:
    """A chain of ``depth`` phases; only the innermost has a total, so every parent rolls it up."""
    op = tracker.start_operation("op", "Op")
    chain: list[BaseProgressPhase] = []
    container: BaseProgressOperation | BaseProgressPhase = op
    for level in range(depth):
        total = 10 if level == depth - 1 else None
        container = container.start_phase(f"p{level}", f"P{level}", total=total)
        chain.append(container)
    return op, chain


def test_a_deep_nest_rolls_up_and_snapshots() -> None:
    tracker, _, clock = make(max_phase_depth=None)
    op, chain = nest(tracker, DEPTH)
    clock.advance(2.0)
    chain[-1].update(4)
    assert chain[0].rollup() == (4, 10)
    assert chain[0].percentage == 40.0
    view = tracker.snapshot().get("op")
    assert view is not None
    rows = view.all_phases()
    assert [row.phase_id for row in rows] == [f"p{level}" for level in range(DEPTH)]
    assert [row.depth for row in rows] == list(range(DEPTH))
    assert all((row.rollup_current, row.rollup_total, row.percentage) == (4, 10, 40.0) for row in rows)
    assert len(view.phases[0].walk()) == DEPTH
    assert op.phases["p0"] is chain[0]


def test_a_deep_nest_cancels_and_finishes_innermost_first() -> None:
    tracker, events, _ = make(max_phase_depth=None, max_finished_phases=100)
    op, chain = nest(tracker, DEPTH)
    op.cancel()
    assert chain[-1].cancelled
    with pytest.raises(ProgressError):
        chain[-1].raise_if_cancelled()
    tracker.finish_operation("op", success=True)
    finished = events.of_type("phase_finished")
    assert [e.data["phase_id"] for e in finished] == [f"p{level}" for level in reversed(range(DEPTH))]
    assert all(e.data["reason"] == "cancelled" for e in finished)
    view = tracker.snapshot().operations[0]
    rows = view.all_phases()  # the 100 that finished last are kept: the outermost
    assert [row.phase_id for row in rows] == [f"p{level}" for level in range(100)]
    assert all(row.finished and row.success is False for row in rows)
    assert view.pruned == DEPTH - 100 and view.finished_counts == {"cancelled": DEPTH}
    assert rows[-1].pruned == DEPTH - 100 and rows[-1].rollup_total == 10


def test_finishing_the_top_of_a_deep_nest_finishes_all_of_it() -> None:
    tracker, events, _ = make(max_phase_depth=None)
    op, chain = nest(tracker, DEPTH)
    op.finish_phase("p0", success=False, reason="error")
    assert all(phase.finished and phase.reason == "error" for phase in chain)
    assert len(events.of_type("phase_finished")) == DEPTH


def test_a_deep_nest_is_pruned_with_its_operation() -> None:
    tracker, _, _ = make(max_phase_depth=None, max_completed_operations=0)
    nest(tracker, DEPTH)
    tracker.finish_operation("op")
    assert tracker.snapshot().operations == ()
    assert tracker.get_phase("p0") is None and tracker.get_phase(f"p{DEPTH - 1}") is None


def test_the_depth_limit_is_a_setting_with_a_clear_error() -> None:
    tracker, _, _ = make()
    assert tracker.max_phase_depth == 1_000
    _, chain = nest(tracker, 1_000)
    with pytest.raises(PhaseDepthError, match="max_phase_depth") as caught:
        chain[-1].start_phase("deeper", "Deeper")
    assert isinstance(caught.value, ProgressError) and isinstance(caught.value, ValueError)
    assert tracker.get_phase("deeper") is None
    small, _, _ = make(max_phase_depth=2)
    op = small.start_operation("op", "Op")
    with op.phase("one") as one, one.phase("two") as two, pytest.raises(PhaseDepthError):
        two.start_phase("three", "Three")


def test_a_bad_depth_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="max_phase_depth"):
        BaseProgressTracker(max_phase_depth=0)


def test_the_silent_tracker_takes_a_deep_nest_too() -> None:
    from mpprogress._core.noop import NoOpProgressTracker

    tracker = NoOpProgressTracker()
    op = tracker.start_operation("op", "Op")
    container: Any = op
    for level in range(DEPTH):
        container = container.start_phase(f"p{level}", f"P{level}")
    op.cancel()
    assert container.cancelled
