"""``finish_open_work``: what the exit hook does to work a program leaves open (``_core/exits.py``)."""

from __future__ import annotations

import sys

import pytest

from mpprogress._core.exits import exit_outcome
from mpprogress._core.tracker import BaseProgressTracker
from mpprogress.testing import RecordingCallback, recorded_tracker


def _open_work() -> tuple[BaseProgressTracker, RecordingCallback]:
    tracker, events, _ = recorded_tracker()
    op = tracker.start_operation("op", "Import")
    op.start_phase("read", "Reading", 2).update(2)
    parsing = op.start_phase("parse", "Parsing", 10)
    parsing.update(4)
    parsing.start_phase("rows", "Rows", 5).update(1)
    done = tracker.start_operation("done", "Done")
    tracker.finish_operation(done.operation_id)
    return tracker, events


def _finishes(events: RecordingCallback) -> list[tuple[str, bool, str | None]]:
    finished = [e for e in events.events if e.type.endswith("_finished")]
    return [(e.data["title"], e.data["success"], e.data["reason"]) for e in finished]


def test_a_clean_exit_interrupts_what_is_open_but_a_phase_at_its_total() -> None:
    tracker, events = _open_work()
    before = len(_finishes(events))
    tracker.finish_open_work("interrupted", failed=False)
    assert _finishes(events)[before:] == [
        ("Rows", False, "interrupted"),
        ("Parsing", False, "interrupted"),
        ("Reading", True, None),
        ("Import", False, "interrupted"),
    ]
    tracker.finish_open_work("interrupted", failed=False)
    assert len(_finishes(events)) == before + 4  # nothing twice


def test_an_operation_whose_open_phases_all_reached_their_totals_completes() -> None:
    tracker, events, _ = recorded_tracker()
    tracker.start_phase("Downloading", total=5)  # the simple form: nobody finishes its operation
    tracker.update(5)
    before = len(_finishes(events))
    tracker.finish_open_work("interrupted", failed=False)
    assert _finishes(events)[before:] == [("Downloading", True, None), ("Progress", True, None)]


def test_a_failed_exit_fails_everything_open_with_its_reason() -> None:
    tracker, events = _open_work()
    before = len(_finishes(events))
    tracker.finish_open_work("uncaught ValueError", failed=True)
    assert _finishes(events)[before:] == [
        ("Rows", False, "uncaught ValueError"),
        ("Parsing", False, "uncaught ValueError"),
        ("Reading", False, "uncaught ValueError"),
        ("Import", False, "uncaught ValueError"),
    ]


def test_a_closed_tracker_is_left_alone() -> None:
    tracker, events = _open_work()
    tracker.close()
    before = len(_finishes(events))
    tracker.finish_open_work("interrupted", failed=False)
    assert len(_finishes(events)) == before


@pytest.mark.parametrize(("exc", "outcome"), [
    (None, ("interrupted", False)),
    (SystemExit(3), ("interrupted", False)),
    (KeyboardInterrupt(), ("interrupted", False)),
    (ValueError("boom"), ("uncaught ValueError", True)),
])
def test_the_exit_outcome_follows_the_uncaught_exception(
    exc: BaseException | None, outcome: tuple[str, bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    if exc is None:
        monkeypatch.delattr(sys, "last_value", raising=False)
    else:
        monkeypatch.setattr(sys, "last_value", exc, raising=False)  # what the interpreter sets
    assert exit_outcome() == outcome
