"""No rate where none was measured (issue 25, item 3): a finished phase that counted nothing here
(resumed after an earlier run finished it, or that never moved) or that ended before the meter
could sample it has ``rate None`` in its snapshot and its ``phase_finished`` event, not
``0.0/s`` or a burst of a few items blown up to thousands a second."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from mpprogress import BaseProgressTracker
from mpprogress._base.resume import ResumePoint
from mpprogress.testing import recorded_tracker


class Done:
    """A resume source whose earlier run finished every phase at 50/50."""

    resuming = True

    def resume_point(self, operation_key: str, phase_key: str) -> ResumePoint | None:
        return ResumePoint(50, 50, finished=True)

    def done_keys(self, operation_key: str, phase_key: str) -> frozenset[str]:
        return frozenset()

    def record_done(self, phase_id: str, keys: Sequence[str]) -> None:
        pass

    def __call__(self, *, event_type: str, **data: Any) -> None:
        pass


def finished_rates(tracker: BaseProgressTracker, events: Any) -> tuple[float | None, float | None, float | None]:
    """(snapshot rate, snapshot peak rate, phase_finished rate) of the only phase."""
    (row,) = tracker.snapshot().operations[0].phases
    (finished,) = events.of_type("phase_finished")
    return row.rate, row.peak_rate, finished.data["rate"]


def test_a_phase_resumed_done_has_no_rate() -> None:
    tracker, events, clock = recorded_tracker(journal=Done(), max_update_rate=None)
    with tracker.operation("Op") as op, op.phase("Fetch") as phase:
        assert phase.resumed_from == 50
        clock.advance(1.0)  # opening files, say: no item is done here
        assert list(phase.track(range(50))) == []
    assert (phase.current, phase.total) == (50, 50)
    assert finished_rates(tracker, events) == (None, None, None)  # before: 0.0/s


def test_a_phase_that_never_moved_has_no_rate() -> None:
    tracker, events, clock = recorded_tracker(max_update_rate=None)
    with tracker.operation("Op") as op, op.phase("Wait", total=10):
        clock.advance(5.0)
    assert finished_rates(tracker, events) == (None, None, None)  # before: 0.0/s


def test_a_phase_over_before_any_sample_has_no_rate_and_a_short_one_keeps_it() -> None:
    tracker, events, clock = recorded_tracker(max_update_rate=None)
    with tracker.operation("Op") as op:
        with op.phase("Blink", total=12) as blink:
            clock.advance(0.004)
            blink.update(12)
        with op.phase("Quick", total=12) as quick:
            clock.advance(0.25)
            quick.update(12)
        with op.phase("Parent") as parent:  # rolls up its sub-phase
            with parent.phase("Child", total=3) as child:
                clock.advance(0.01)
                child.update(3)
    blink_row, quick_row, parent_row = tracker.snapshot().operations[0].phases
    rates = {event.data["title"]: event.data["rate"] for event in events.of_type("phase_finished")}
    assert blink_row.rate is None and rates["Blink"] is None  # before: 3,000/s
    assert quick_row.rate == pytest.approx(48.0) and rates["Quick"] == pytest.approx(48.0)
    assert parent_row.rate is None and rates["Parent"] is None and rates["Child"] is None  # before: 300/s
