"""The port's rules: validation, percentages, context managers, the simple form."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

import mpprogress
from mpprogress import BaseProgressTracker, NoOpProgressTracker, PhaseFinishedError, ProgressError
from mpprogress._base.port import DuplicateIdError, ensure_open, failure_reason, finish_outcome, validate_total
from mpprogress._base.resume import ResumePoint
from mpprogress.testing import RecordingCallback


@pytest.fixture(params=["local", "noop"])
def tracker(request: pytest.FixtureRequest) -> mpprogress.ProgressTracker:
    return BaseProgressTracker() if request.param == "local" else NoOpProgressTracker()


def test_import_does_not_pull_in_zmq_or_rich() -> None:
    import subprocess
    import sys

    code = "import sys, mpprogress; print(sorted(m for m in ('zmq', 'rich') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_percentage_rules(tracker: mpprogress.ProgressTracker) -> None:
    op = tracker.start_operation("op", "Op")
    unknown = op.start_phase("a", "unknown total")
    empty = op.start_phase("b", "zero total", total=0)
    normal = op.start_phase("c", "normal", total=4)
    unknown.update(5)
    empty.update(1)
    normal.update(3)
    assert unknown.percentage is None
    assert empty.percentage is None
    assert normal.percentage == 75.0
    normal.update(5)
    assert normal.percentage == 100.0  # capped
    assert normal.current == 8


@pytest.mark.parametrize("bad", [-1, -0.5, 1.5, float("nan")])
def test_bad_totals_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="total"):
        validate_total(bad)


@pytest.mark.parametrize("bad", ["10", True, [1]])
def test_non_numeric_totals_are_refused(bad: object) -> None:
    with pytest.raises(TypeError, match="total"):
        validate_total(bad)


def test_bad_updates_are_refused_and_leave_the_count_alone() -> None:
    tracker = BaseProgressTracker()
    op = tracker.start_operation("op", "Op")
    phase = op.start_phase("p", "P", total=10)
    phase.update(2)
    for bad, error in [(-1, ValueError), ("1", TypeError), (None, TypeError), (True, TypeError),
                       (float("inf"), ValueError), (float("nan"), ValueError)]:
        with pytest.raises(error):
            phase.update(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        phase.set_progress(-3)
    with pytest.raises(ValueError):
        op.start_phase("q", "Q", total=-1)
    assert phase.current == 2


def test_a_finished_phase_cannot_be_updated() -> None:
    tracker = BaseProgressTracker()
    with tracker.operation("Op") as op, op.phase("P", total=2) as phase:
        phase.update(1)
    with pytest.raises(PhaseFinishedError):
        phase.update(1)
    with pytest.raises(PhaseFinishedError):
        phase.set_progress(2)
    assert phase.current == 1
    assert phase.success is True
    assert phase.is_complete


def test_duplicate_ids_raise(tracker: mpprogress.ProgressTracker) -> None:
    op = tracker.start_operation("op", "Op")
    with pytest.raises(ValueError, match="already exists"):
        tracker.start_operation("op", "Again")
    op.start_phase("p", "P")
    with pytest.raises(ValueError, match="already exists"):
        op.start_phase("p", "P again")


def test_duplicate_ids_raise_a_progress_error_that_is_also_a_value_error(
    tracker: mpprogress.ProgressTracker,
) -> None:
    op = tracker.start_operation("op", "Op")
    with pytest.raises(DuplicateIdError, match="Operation op already exists") as raised:
        tracker.start_operation("op", "Again")
    assert isinstance(raised.value, ProgressError) and isinstance(raised.value, ValueError)
    op.start_phase("p", "P")
    with pytest.raises(DuplicateIdError, match="Phase p already exists"):
        op.start_phase("p", "P again")


def test_a_finished_phase_refuses_every_change_with_the_same_error(tracker: mpprogress.ProgressTracker) -> None:
    with tracker.operation("Op") as op, op.phase("Done", total=2) as phase:
        phase.update(1)
    for change in (lambda: phase.update(1), lambda: phase.set_progress(2), lambda: phase.set_total(5)):
        with pytest.raises(PhaseFinishedError, match="phase 'Done' has finished; it cannot be updated"):
            change()
    assert (phase.current, phase.total) == (1, 2)


def test_ensure_open_is_the_one_finished_check() -> None:
    ensure_open(False, "Open")
    with pytest.raises(PhaseFinishedError, match="phase 'Shut' has finished; it cannot be updated"):
        ensure_open(True, "Shut")


@pytest.mark.parametrize(
    ("asked", "cancelled", "outcome"),
    [
        ((True, None), False, (True, None)),
        ((True, "ignored on success"), False, (True, None)),
        ((True, None), True, (False, "cancelled")),
        ((False, None), False, (False, "failed")),
        ((False, None), True, (False, "failed")),
        ((False, "lost"), False, (False, "lost")),
        ((False, "error"), True, (False, "error")),
    ],
)
def test_the_finish_rule(asked: tuple[bool, str | None], cancelled: bool, outcome: tuple[bool, str | None]) -> None:
    assert finish_outcome(*asked, cancelled) == outcome


def test_operation_context_marks_failure_and_reraises(tracker: mpprogress.ProgressTracker) -> None:
    with pytest.raises(KeyError), tracker.operation("Failing") as op:
        with op.phase("P", total=3) as phase:
            phase.update(1)
            raise KeyError("boom")
    assert op.success is False
    assert phase.success is False
    assert op.completed_at is not None


def test_keyboard_interrupt_marks_failure_too() -> None:
    tracker = BaseProgressTracker()
    with pytest.raises(KeyboardInterrupt), tracker.operation("Op") as op, op.phase("P") as phase:
        raise KeyboardInterrupt
    assert (op.success, phase.success, phase.reason) == (False, False, "interrupted")


def test_failure_reasons() -> None:
    assert failure_reason(ValueError()) == "ValueError"
    assert failure_reason(RuntimeError("boom")) == "RuntimeError: boom"  # type and message kept
    long = failure_reason(RuntimeError("a\x1b[31mb\nc" + "x" * 500))  # sanitised, bounded
    assert long.startswith("RuntimeError: a[31mb cxx") and long.endswith("x…") and len(long) == 200
    assert failure_reason(KeyboardInterrupt()) == "interrupted"
    assert failure_reason(mpprogress.ProgressCancelled()) == "cancelled"


def test_simple_form_from_the_ticket() -> None:
    tracker = BaseProgressTracker()
    events = RecordingCallback()
    tracker.add_callback(events)
    phase = tracker.start_phase("Link Discovery", total=100)
    for i in range(100):
        tracker.update(1, message=f"Found link {i}")
    assert phase.current == 100
    assert phase.last_message == "Found link 99"
    second = tracker.start_phase("Next", total=1)
    assert phase.is_complete and phase.success is True  # starting the next phase finished the first
    tracker.finish_phase()
    assert second.success is True
    assert [e.data["title"] for e in events.of_type("phase_finished")] == ["Link Discovery", "Next"]


def test_simple_form_without_a_phase_is_a_clear_error(tracker: mpprogress.ProgressTracker) -> None:
    with pytest.raises(ProgressError, match="start_phase"):
        tracker.update(1)


def test_track_counts_items_and_takes_the_total_from_len(tracker: mpprogress.ProgressTracker) -> None:
    with tracker.operation("Op") as op, op.phase("P") as phase:
        items = list(phase.track(["a", "b", "c"]))
    assert items == ["a", "b", "c"]
    assert (phase.current, phase.total) == (3, 3)


def test_module_level_track() -> None:
    tracker = BaseProgressTracker()
    events = RecordingCallback()
    tracker.add_callback(events)
    assert sum(mpprogress.track(range(10), description="Summing", tracker=tracker)) == 45
    finished = events.of_type("phase_finished")
    assert [(e.data["title"], e.data["current"], e.data["total"], e.data["success"]) for e in finished] == [
        ("Summing", 10, 10, True)
    ]
    assert events.types[-1] == "operation_finished"


def test_module_level_track_break_is_success_and_a_failing_iterable_is_failure() -> None:
    tracker = BaseProgressTracker()
    events = RecordingCallback()
    tracker.add_callback(events)
    for i in mpprogress.track(range(100), description="Searching", tracker=tracker):
        if i == 4:
            break

    def failing() -> Iterator[int]:
        yield 1
        raise OSError("disk gone")

    with pytest.raises(OSError):
        for _ in mpprogress.track(failing(), description="Reading", tracker=tracker):
            pass
    results = [(e.data["title"], e.data["current"], e.data["success"], e.data["reason"])
               for e in events.of_type("phase_finished")]
    assert results == [("Searching", 4, True, None), ("Reading", 1, False, "OSError: disk gone")]


def test_get_tracker_falls_back_to_one_process_wide_local_tracker() -> None:
    first = mpprogress.get_tracker()
    assert first is mpprogress.get_tracker()
    assert isinstance(first, mpprogress.ProgressTracker)


def test_module_level_track_shows_a_display_of_its_own_when_nothing_else_would() -> None:
    import subprocess
    import sys

    code = (
        "import sys, mpprogress\n"
        "print(sum(mpprogress.track(range(5), description='Summing')))\n"
        "print('rich' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["10", "True"]  # the result alone on stdout; the display on stderr
    assert "Summing: started (total 5)" in done.stderr
    assert "succeeded 5/5" in done.stderr


def test_module_level_track_reports_to_a_tracker_the_application_set() -> None:
    tracker = BaseProgressTracker()
    events = RecordingCallback()
    tracker.add_callback(events)
    mpprogress.set_tracker(tracker)
    try:
        assert list(mpprogress.track("abc", description="Letters")) == ["a", "b", "c"]
    finally:
        mpprogress.set_tracker(None)
    assert events.of_type("phase_finished")[0].data["current"] == 3


# --- a phase's id (issue 25, item 12) -----------------------------------------------------------


def test_a_phase_takes_the_id_it_is_given(tracker: mpprogress.ProgressTracker) -> None:
    with tracker.operation("Op") as op:
        with op.phase("Fetch", total=2, phase_id="fetch") as phase:
            assert phase.phase_id == "fetch" and op.phases["fetch"] is phase
            with phase.phase("Page", phase_id="fetch-page") as page:
                assert page.phase_id == "fetch-page" and phase.phases["fetch-page"] is page
            with pytest.raises(DuplicateIdError), op.phase("Fetch again", phase_id="fetch"):
                pass
            phase.update(2)
        assert phase.is_complete and phase.success
        for bad in ("", 7):
            refused = pytest.raises(ValueError, match="phase_id must be a non-empty string")
            with refused, op.phase("Bad", phase_id=bad):  # type: ignore[arg-type]
                pass
        with op.phase("Generated") as generated:
            assert generated.phase_id not in ("fetch", "fetch-page")


def test_a_phase_id_of_ones_own_is_what_a_resumed_run_finds_the_phase_by() -> None:
    class Keys:
        """A resume source that notes the keys it is asked for and resumes only ``fetch``."""

        resuming = True

        def __init__(self) -> None:
            self.asked: list[tuple[str, str]] = []

        def resume_point(self, operation_key: str, phase_key: str) -> ResumePoint | None:
            self.asked.append((operation_key, phase_key))
            return ResumePoint(4, 10) if phase_key == "fetch" else None

        def done_keys(self, operation_key: str, phase_key: str) -> frozenset[str]:
            return frozenset()

        def record_done(self, phase_id: str, keys: Sequence[str]) -> None:
            pass

        def __call__(self, *, event_type: str, **data: Any) -> None:
            pass

    source = Keys()
    tracker = BaseProgressTracker(max_update_rate=None, journal=source)
    with tracker.operation("Scrape", operation_id="scrape") as op:
        with op.phase("Fetch, second try", phase_id="fetch") as fetch:  # renamed since the last run
            assert (fetch.resumed_from, fetch.current, fetch.total) == (4, 4, 10)
            assert tracker.get_phase("fetch") is fetch
            fetch.update(6)
        with op.phase("Parse") as parse:
            assert parse.resumed_from is None
    assert source.asked == [("scrape", "fetch"), ("scrape", "Parse")]
