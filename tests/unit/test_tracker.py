"""The local tracker: events, callbacks, nesting, cancellation, pruning, snapshots."""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest

from mpprogress import BaseProgressTracker, ProgressCancelled
from mpprogress._base.events import (
    CancelRequested,
    EventSink,
    OperationFinished,
    OperationStarted,
    PhaseFinished,
    PhaseStarted,
    ProgressEvent,
    ProgressUpdate,
)
from mpprogress._base.metrics import SILENCE_SCALE
from mpprogress.testing import FakeClock, RecordedEvent, RecordingCallback, recorded_tracker


def make(**kwargs: Any) -> tuple[BaseProgressTracker, RecordingCallback, FakeClock]:
    return recorded_tracker(**kwargs)


def test_event_order_and_fields() -> None:
    tracker, events, clock = make()
    with tracker.operation("Scrape", "4 phases", operation_id="op1") as op:
        with op.phase("Links", total=2, description="find links") as phase:
            clock.advance(1.0)
            phase.update(1, "first", url="a")
            clock.advance(1.0)
            phase.update(1, "second")
    assert events.types == [
        "operation_started",
        "phase_started",
        "progress_update",
        "progress_update",
        "phase_finished",
        "operation_finished",
    ]
    started = events.events[1].data
    assert started["operation_id"] == "op1"
    assert (started["title"], started["total"], started["description"]) == ("Links", 2, "find links")
    first, second = (e.data for e in events.of_type("progress_update"))
    assert (first["current"], first["total"], first["percentage"], first["message"], first["url"]) == (
        1, 2, 50.0, "first", "a",
    )
    assert first["rate"] == pytest.approx(1.0)
    assert first["eta"] == pytest.approx(1.0)
    assert second["elapsed"] == pytest.approx(2.0)
    assert second["eta"] == 0.0
    finished = events.of_type("phase_finished")[0].data
    assert (finished["success"], finished["reason"], finished["current"], finished["duration"]) == (True, None, 2, 2.0)
    assert finished["rate"] == pytest.approx(1.0)
    op_done = events.of_type("operation_finished")[0].data
    assert (op_done["operation_id"], op_done["success"], op_done["duration"]) == ("op1", True, 2.0)


def test_metadata_cannot_overwrite_core_fields() -> None:
    tracker, events, _ = make()
    with tracker.operation("Op") as op, op.phase("P", total=5) as phase:
        phase.update(1, total_bytes=10, phase_id="spoofed")
    data = events.of_type("progress_update")[0].data
    assert data["total_bytes"] == 10
    assert data["phase_id"] == phase.phase_id


def test_message_is_kept_when_an_update_has_none() -> None:
    tracker, events, _ = make()
    with tracker.operation("Op") as op, op.phase("P", total=5) as phase:
        phase.update(1, "parsing robots.txt")
        phase.update(1)
    assert [e.data["message"] for e in events.of_type("progress_update")] == ["parsing robots.txt"] * 2
    assert phase.last_message == "parsing robots.txt"


def test_set_progress_and_set_total() -> None:
    tracker, events, _ = make()
    with tracker.operation("Op") as op, op.phase("Crawl") as phase:
        phase.update(3)
        phase.set_total(10)
        phase.set_progress(7, "jumped")
    updates = [(e.data["current"], e.data["total"]) for e in events.of_type("progress_update")]
    assert updates == [(3, None), (3, 10), (7, 10)]
    assert phase.percentage == 70.0


def test_callback_may_call_back_into_the_tracker_without_deadlock() -> None:
    tracker, events, _ = make()
    seen: list[str] = []

    def reentrant(event_type: str, **data: Any) -> None:
        seen.append(event_type)
        if event_type == "phase_started":
            tracker.get_phase(data["phase_id"]).update(1, "from callback")  # type: ignore[union-attr]
            tracker.snapshot()

    tracker.add_callback(reentrant)
    with tracker.operation("Op") as op, op.phase("P", total=3) as phase:
        phase.update(1)
    assert phase.current == 2
    assert seen == events.types
    assert seen[:3] == ["operation_started", "phase_started", "progress_update"]


def test_raising_callback_is_isolated_logged_and_removed_after_three_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracker, events, _ = make()
    calls: list[str] = []

    def broken(event_type: str, **data: Any) -> None:
        calls.append(event_type)
        raise RuntimeError("sink exploded")

    tracker.add_callback(broken)
    with caplog.at_level(logging.ERROR, logger="mpprogress"), tracker.operation("Op") as op:
        with op.phase("P", total=10) as phase:
            for _ in range(5):
                phase.update(1)
    assert len(calls) == 3
    assert broken not in tracker.callbacks
    assert events.types.count("progress_update") == 5  # the healthy callback saw everything
    assert phase.current == 5
    assert "sink exploded" in caplog.text
    assert "removing progress callback" in caplog.text


def test_a_success_resets_the_failure_count() -> None:
    tracker, _, _ = make()
    calls = []

    def flaky(event_type: str, **data: Any) -> None:
        calls.append(event_type)
        if len(calls) % 2:
            raise RuntimeError("every other call")

    tracker.add_callback(flaky)
    with tracker.operation("Op") as op, op.phase("P", total=10) as phase:
        for _ in range(6):
            phase.update(1)
    assert flaky in tracker.callbacks
    tracker.remove_callback(flaky)
    tracker.remove_callback(flaky)  # unknown callbacks are ignored
    assert flaky not in tracker.callbacks


def test_nested_phases_roll_up_into_a_parent_without_total() -> None:
    tracker, events, _ = make()
    with tracker.operation("Op") as op, op.phase("All sites") as parent:
        with parent.phase("site A", total=10) as a:
            a.update(10)
        with parent.phase("site B", total=30) as b:
            with b.phase("B pages", total=5) as deep:
                deep.update(2)
            b.update(5)
            snap = tracker.snapshot().operations[0].phases[0]
    assert (snap.rollup_current, snap.rollup_total) == (15, 40)
    assert snap.percentage == pytest.approx(37.5)
    assert [child.title for child in snap.phases] == ["site A", "site B"]
    assert snap.phases[1].phases[0].depth == 2
    assert snap.phases[1].phases[0].parent_phase_id == b.phase_id
    started = events.of_type("phase_started")
    assert [e.data["parent_phase_id"] for e in started] == [None, parent.phase_id, parent.phase_id, b.phase_id]
    assert parent.rollup() == (15, 40)


def test_a_parent_with_its_own_total_keeps_its_own_count() -> None:
    tracker, _, _ = make()
    with tracker.operation("Op") as op, op.phase("Steps", total=4) as parent:
        with parent.phase("detail", total=100) as child:
            child.update(50)
        parent.update(1)
    assert parent.rollup() == (1, 4)
    assert parent.percentage == 25.0


def test_a_parent_with_an_unknown_child_total_has_unknown_total() -> None:
    tracker, _, _ = make()
    op = tracker.start_operation("op", "Op")
    parent = op.start_phase("p", "P")
    parent.start_phase("c1", "C1", total=5).update(1)
    parent.start_phase("c2", "C2").update(2)
    assert parent.rollup() == (3, None)
    assert parent.percentage is None


def test_finishing_a_parent_finishes_its_open_children() -> None:
    tracker, events, _ = make()
    op = tracker.start_operation("op", "Op")
    parent = op.start_phase("p", "P")
    child = parent.start_phase("c", "C", total=5)
    child.update(2)
    tracker.finish_operation("op", success=False)
    assert (child.success, child.reason, parent.success) == (False, "failed", False)
    assert [e.data["phase_id"] for e in events.of_type("phase_finished")] == ["c", "p"]


def test_operation_cancel_reaches_every_phase() -> None:
    tracker, events, _ = make()
    op = tracker.start_operation("op", "Op")
    parent = op.start_phase("p", "P")
    child = parent.start_phase("c", "C")
    assert not child.cancelled
    op.cancel()
    assert op.cancelled and parent.cancelled and child.cancelled
    with pytest.raises(ProgressCancelled):
        child.raise_if_cancelled()
    assert events.of_type("cancel_requested")[0].data == {"operation_id": "op", "phase_id": None}


def test_a_cancelled_phase_finishes_as_failed_even_on_a_clean_exit() -> None:
    tracker, events, _ = make()
    with tracker.operation("Op") as op:
        with op.phase("Cancelled quietly", total=10) as quiet:
            quiet.cancel()
        with pytest.raises(ProgressCancelled), op.phase("Raises", total=10) as loud:
            loud.cancel()
            loud.raise_if_cancelled()
        with op.phase("Untouched", total=1) as fine:
            fine.update(1)
    finished = {e.data["title"]: (e.data["success"], e.data["reason"]) for e in events.of_type("phase_finished")}
    assert finished == {
        "Cancelled quietly": (False, "cancelled"),
        "Raises": (False, "cancelled"),
        "Untouched": (True, None),
    }
    assert [e.data["phase_id"] for e in events.of_type("cancel_requested")] == [quiet.phase_id, loud.phase_id]


def test_a_cancelled_operation_finishes_as_failed() -> None:
    tracker, events, _ = make()
    with tracker.operation("Op") as op:
        op.cancel()
    assert op.success is False
    assert events.of_type("operation_finished")[0].data["reason"] == "cancelled"


def test_completed_operations_are_pruned_oldest_first() -> None:
    tracker, _, _ = make(max_completed_operations=3)
    ids = []
    for i in range(5):
        with tracker.operation(f"op {i}") as op, op.phase("P") as phase:
            phase.update(1)
            ids.append((op.operation_id, phase.phase_id))
    running = tracker.start_operation("running", "still running")
    kept = [op.operation_id for op in tracker.operations]
    assert kept == [ids[2][0], ids[3][0], ids[4][0], "running"]
    assert tracker.get_operation(ids[0][0]) is None
    assert tracker.get_phase(ids[1][1]) is None
    assert tracker.get_phase(ids[4][1]) is not None
    assert running.finished is False


def test_running_operations_are_never_pruned() -> None:
    tracker, _, _ = make(max_completed_operations=0)
    tracker.start_operation("a", "A")
    with tracker.operation("B"):
        pass
    assert [op.operation_id for op in tracker.operations] == ["a"]


def test_finishing_twice_or_unknown_ids_does_nothing() -> None:
    tracker, events, _ = make()
    op = tracker.start_operation("op", "Op")
    op.start_phase("p", "P")
    op.finish_phase("p")
    op.finish_phase("p", success=False)
    op.finish_phase("nope")
    tracker.finish_operation("op")
    tracker.finish_operation("op", success=False)
    tracker.finish_operation("nope")
    assert events.types.count("phase_finished") == 1
    assert events.types.count("operation_finished") == 1
    assert op.success is True


def test_starting_a_phase_in_a_finished_operation_is_an_error() -> None:
    from mpprogress import ProgressError

    tracker, _, _ = make()
    with tracker.operation("Op") as op:
        pass
    with pytest.raises(ProgressError, match="finished"):
        op.start_phase("late", "Late")


def test_snapshot_is_a_consistent_read_only_copy() -> None:
    tracker, _, clock = make()
    op = tracker.start_operation("op", "Op", "desc")
    phase = op.start_phase("p", "P", total=100)
    clock.advance(2.0)
    phase.update(40, "working")
    snap = tracker.snapshot()
    phase.update(10)
    view = snap.get("op")
    assert view is not None and view.description == "desc" and not view.finished
    (row,) = view.phases
    assert (row.current, row.total, row.message, row.percentage) == (40, 100, "working", 40.0)
    assert row.elapsed == 2.0
    assert row.rate == pytest.approx(20.0)
    assert row.eta == pytest.approx(3.0)
    with pytest.raises(AttributeError):
        row.current = 5  # type: ignore[misc]
    assert view.all_phases() == (row,)


def test_rates_are_smoothed_and_peak_is_kept() -> None:
    tracker, events, clock = make(max_update_rate=None)
    with tracker.operation("Op") as op, op.phase("P", total=1000) as phase:
        clock.advance(1.0)
        phase.update(100)  # 100/s
        clock.advance(1.0)
        phase.update(300)  # 300/s
        clock.advance(1.0)
        phase.update(100)  # 100/s
    rates = [e.data["rate"] for e in events.of_type("progress_update")]
    peaks = [e.data["peak_rate"] for e in events.of_type("progress_update")]
    # the first report's rate is all there is; from the second on, the time before the first
    # report (setup) is left out, and a window of three usual gaps (3 s) reaches back to it
    assert rates == pytest.approx([100.0, 300.0, 400 / 2])
    assert peaks[-1] == pytest.approx(300.0)
    finished = events.of_type("phase_finished")[0].data
    assert finished["rate"] == pytest.approx(500 / 3)


def test_tracker_is_a_context_manager_and_close_is_idempotent() -> None:
    with BaseProgressTracker() as tracker:
        tracker.start_operation("op", "Op")
    tracker.close()
    tracker.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"max_update_rate": -1}, "max_update_rate"), ({"update_burst": 0}, "update_burst"),
     ({"max_completed_operations": -1}, "max_completed_operations")],
)
def test_bad_tracker_settings_are_refused(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        BaseProgressTracker(**kwargs)


def test_snapshot_changes_no_later_rate_or_event() -> None:
    def run(take_snapshots: bool) -> tuple[list[RecordedEvent], list[float | None]]:
        tracker, events, clock = make(max_update_rate=None)
        seen: list[float | None] = []
        with tracker.operation("Op", operation_id="op") as op:
            phase = op.start_phase("p", "P", total=1000)
            for step, amount in enumerate([100, 300, 0, 50, 200]):
                clock.advance(0.5)
                if take_snapshots:  # a display refreshing often, several times at one instant
                    for _ in range(step + 1):
                        seen.append(tracker.snapshot().operations[0].phases[0].rate)
                clock.advance(0.5)
                phase.update(amount)
            op.finish_phase("p")
        return events.events, seen

    quiet, _ = run(take_snapshots=False)
    busy, rates = run(take_snapshots=True)
    assert busy == quiet
    assert [e.data["rate"] for e in busy if e.type == "progress_update"] == [
        e.data["rate"] for e in quiet if e.type == "progress_update"
    ]
    assert rates[1] == rates[2]  # the same instant reads the same rate however often it is read


def test_a_snapshot_rate_depends_on_the_time_not_on_earlier_snapshots() -> None:
    tracker, _, clock = make(max_update_rate=None)
    other, _, other_clock = make(max_update_rate=None)
    for each, each_clock in ((tracker, clock), (other, other_clock)):
        op = each.start_operation("op", "Op")
        each_clock.advance(1.0)
        op.start_phase("p", "P", total=1000)
        each_clock.advance(1.0)
        each.get_phase("p").update(100)  # type: ignore[union-attr]
    for _ in range(6):
        clock.advance(0.5)
        tracker.snapshot()
    other_clock.advance(3.0)
    (row,) = tracker.snapshot().operations[0].phases
    (other_row,) = other.snapshot().operations[0].phases
    figures = (row.elapsed, row.rate, row.peak_rate, row.eta)
    assert figures == (other_row.elapsed, other_row.rate, other_row.peak_rate, other_row.eta)
    # silent for 3 s, 1 s past the grace of two usual gaps (1 s each): the rate decays
    assert row.rate == pytest.approx(100 * math.exp(-1.0 / SILENCE_SCALE))
    assert row.peak_rate == pytest.approx(100.0)


def test_an_event_sink_gets_the_typed_events_and_callbacks_the_same_data() -> None:
    class Typed(EventSink):
        def __init__(self) -> None:
            self.events: list[ProgressEvent] = []

        def __call__(self, *, event_type: str, **data: Any) -> None:
            raise AssertionError("a tracker hands an EventSink its typed events")

        def handle(self, event: ProgressEvent) -> None:
            self.events.append(event)

    tracker, events, clock = make()
    typed = Typed()
    tracker.add_callback(typed)
    assert tracker.callbacks == (events, typed)
    with tracker.operation("Op", operation_id="op") as op, op.phase("P", total=4) as phase:
        clock.advance(1.0)
        phase.update(2, "half", size=7)
        op.cancel()
    assert [type(e) for e in typed.events] == [
        OperationStarted, PhaseStarted, ProgressUpdate, CancelRequested, PhaseFinished, OperationFinished,
    ]
    assert [(e.type, e.to_data()) for e in typed.events] == [(e.type, e.data) for e in events.events]
    update = typed.events[2]
    assert isinstance(update, ProgressUpdate) and update.metadata == {"size": 7}
    assert events.events[2].data["size"] == 7


def test_a_raising_event_sink_is_removed_after_three_failures() -> None:
    class Broken(EventSink):
        calls = 0

        def handle(self, event: ProgressEvent) -> None:
            Broken.calls += 1
            raise RuntimeError("typed sink exploded")

    tracker, events, _ = make()
    broken = Broken()
    tracker.add_callback(broken)
    with tracker.operation("Op") as op, op.phase("P", total=10) as phase:
        phase.update(1)
    assert Broken.calls == 3
    assert broken not in tracker.callbacks
    assert events.types[-1] == "operation_finished"
