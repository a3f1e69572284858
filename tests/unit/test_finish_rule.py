"""Phases nobody finished themselves: closed by their operation or parent phase."""

from __future__ import annotations

from mpprogress import BaseProgressTracker
from mpprogress.testing import RecordingCallback


def outcomes(recorder: RecordingCallback) -> dict[str, tuple[bool, str | None]]:
    titles = {e.data["phase_id"]: e.data["title"] for e in recorder.of_type("phase_started")}
    finished = recorder.of_type("phase_finished")
    return {titles[e.data["phase_id"]]: (e.data["success"], e.data["reason"]) for e in finished}


def test_open_phases_closed_by_their_operation_succeed_only_when_complete() -> None:
    tracker = BaseProgressTracker()
    recorder = RecordingCallback()
    tracker.add_callback(recorder)
    with tracker.operation("op") as op:
        short = op.start_phase("short", "short", total=400)
        short.update(200)
        full = op.start_phase("full", "full", total=400)
        full.update(400)
        op.start_phase("open-ended", "open-ended").update(7)  # no total: nothing to fall short of
    assert outcomes(recorder) == {
        "short": (False, "incomplete"),
        "full": (True, None),
        "open-ended": (True, None),
    }
    assert tracker.snapshot().operations[0].success is True  # the operation's own outcome stands


def test_a_finished_phase_closes_its_short_sub_phases_as_incomplete() -> None:
    tracker = BaseProgressTracker()
    recorder = RecordingCallback()
    tracker.add_callback(recorder)
    with tracker.operation("op") as op:
        with op.phase("parent", total=1) as parent:
            parent.start_phase("child", "child", total=10).update(3)
            parent.update(1)
        with op.phase("owner-short", total=10) as owned:
            owned.update(3)  # its own block ended: the caller's word counts, as always
    assert outcomes(recorder) == {
        "child": (False, "incomplete"),
        "parent": (True, None),
        "owner-short": (True, None),
    }


def test_a_failing_operation_hands_its_failure_down_unchanged() -> None:
    tracker = BaseProgressTracker()
    recorder = RecordingCallback()
    tracker.add_callback(recorder)
    op = tracker.start_operation("op-1", "op")
    op.start_phase("short", "short", total=10).update(1)
    tracker.finish_operation(op.operation_id, success=False)
    assert outcomes(recorder) == {"short": (False, "failed")}
