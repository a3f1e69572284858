"""Decoded worker messages applied to a local tracker: one event per state, drops counted by reason."""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from mpprogress._core.tracker import BaseProgressTracker
from mpprogress._remote import wire
from mpprogress._remote.applier import Applier, WorkerLogs
from mpprogress._remote.cancels import CancelRequests
from mpprogress._remote.registry import RemoteClient
from mpprogress.testing import FakeClock, RecordingCallback


class Setup:
    """A tracker with operation "op", its recorded events, an applier and one client."""

    def __init__(self, max_phases: int = 10_000) -> None:
        self.tracker = BaseProgressTracker(get_time=FakeClock(), max_update_rate=None, auto_flush=False)
        self.events = RecordingCallback()
        self.tracker.add_callback(self.events)
        self.tracker.start_operation("op", "parent operation")
        self.drops: Counter[str] = Counter()
        self.replies: list[tuple[RemoteClient, wire.Message]] = []
        self.applier = Applier(self.tracker, self.drops, lambda c, m: self.replies.append((c, m)),
                               max_phases_per_client=max_phases)
        self.client = RemoteClient(b"r1", "client", 4242, False, 0.0)

    def apply(self, *messages: wire.Message) -> None:
        for message in messages:
            self.applier.apply(self.client, message)

    def of_phase(self, phase_id: str) -> list[tuple[str, object]]:
        return [(e.type, e.data.get("current")) for e in self.events.events if e.data.get("phase_id") == phase_id]


def state(seq: int, handle: int, current: int | float, total: int | None = 10, message: str | None = None,
          **metadata: object) -> wire.State:
    return wire.State(seq, (wire.PhaseState(handle, current, total, message, metadata),))


def test_each_state_is_one_event_and_stale_or_late_states_are_dropped() -> None:
    s = Setup()
    s.apply(wire.PhaseStart(2, 1, "p", "op", None, "phase", None, 10),
            state(3, 1, 4, message="four", url="u"), state(5, 1, 7, total=20), state(4, 1, 5),
            wire.PhaseFinish(6, 1, 10, 20, "done", True, None), state(7, 1, 11))
    assert s.of_phase("p") == [("phase_started", None), ("progress_update", 4), ("progress_update", 7),
                               ("progress_update", 10), ("phase_finished", 10)]
    update = s.events.of_type("progress_update")[0].data
    assert (update["message"], update["url"], update["total"]) == ("four", "u", 10)
    assert s.events.of_type("phase_finished")[0].data["total"] == 20
    assert s.drops == Counter({"stale": 1, "late": 1})
    assert list(s.client.finished) == [1] and not s.client.phases


def test_an_unchanged_state_emits_nothing() -> None:
    s = Setup()
    s.apply(wire.PhaseStart(2, 1, "p", "op", None, "phase", None, 10), state(3, 1, 4), state(4, 1, 4))
    assert [t for t, _ in s.of_phase("p")] == ["phase_started", "progress_update"]


def test_resent_starts_and_finishes_apply_once() -> None:
    s = Setup()
    start = wire.PhaseStart(2, 1, "p", "op", None, "phase", None, 10)
    finish = wire.PhaseFinish(3, 1, 10, 10, None, True, None)
    own = wire.OperationStart(4, "own", "worker's own", None)
    s.apply(start, start, finish, finish, start, own, own, wire.OperationFinish(5, "own", True),
            wire.OperationFinish(5, "own", True))
    assert [t for t, _ in s.of_phase("p")] == ["phase_started", "progress_update", "phase_finished"]
    assert [e.data["operation_id"] for e in s.events.of_type("operation_finished")] == ["own"]
    assert s.drops == Counter()


def test_what_cannot_be_applied_is_counted_by_reason() -> None:
    s = Setup(max_phases=1)
    s.tracker.start_operation("taken", "the parent's")
    s.apply(
        wire.PhaseStart(2, 1, "p", "nowhere", None, "t", None, None),  # unknown_operation
        wire.PhaseStart(3, 2, "p", "op", 99, "t", None, None),  # unknown_parent
        wire.PhaseStart(4, 3, "p", "op", None, "t", None, None),
        wire.PhaseStart(5, 4, "q", "op", None, "t", None, None),  # too_many_phases
        state(6, 7, 1),  # unknown_phase
        wire.PhaseFinish(7, 8, 1, None, None, True, None),  # unknown_phase
        wire.OperationStart(8, "taken", "clash", None),  # operation_exists
        wire.Ack(9, (1,)),  # unexpected_kind
    )
    s2 = Setup()
    s2.tracker.get_operation("op").start_phase("dup", "the parent's own")  # type: ignore[union-attr]
    s2.apply(wire.PhaseStart(2, 1, "dup", "op", None, "t", None, None))  # phase_rejected
    assert s.drops == Counter({"unknown_operation": 1, "unknown_parent": 1, "too_many_phases": 1,
                               "unknown_phase": 2, "operation_exists": 1, "unexpected_kind": 1})
    assert s2.drops == Counter({"phase_rejected": 1})


def test_nested_phases_join_their_parent_and_a_lost_client_fails_what_it_left_open() -> None:
    s = Setup()
    s.apply(wire.OperationStart(1, "own", "own", None), wire.PhaseStart(2, 1, "outer", "op", None, "o", None, 5),
            wire.PhaseStart(3, 2, "inner", "op", 1, "i", None, 5), state(4, 2, 3))
    inner = s.tracker.get_phase("inner")
    assert inner is not None and inner.current == 3
    assert s.events.of_type("phase_started")[1].data["parent_phase_id"] == "outer"
    s.applier.lose(s.client)
    lost = {e.data["phase_id"]: (e.data["success"], e.data["reason"]) for e in s.events.of_type("phase_finished")}
    assert lost == {"outer": (False, "lost"), "inner": (False, "lost")}
    assert [(e.data["operation_id"], e.data["success"]) for e in s.events.of_type("operation_finished")] == [
        ("own", False)
    ]


def test_a_phase_joining_a_cancelled_operation_is_told_at_once() -> None:
    s = Setup()
    s.tracker.get_operation("op").cancel()  # type: ignore[union-attr]
    s.apply(wire.PhaseStart(2, 5, "late", "op", None, "joins late", None, 1))
    assert s.replies == [(s.client, wire.Cancel(0, "op", 5))]


def test_cancellations_become_cancel_messages_for_the_clients_concerned() -> None:
    s = Setup()
    wakes: list[None] = []
    cancels = CancelRequests(lambda: wakes.append(None))
    s.tracker.add_callback(cancels)
    other = RemoteClient(b"r2", "other", 1, False, 0.0)
    s.apply(wire.PhaseStart(2, 1, "p", "op", None, "phase", None, 10))
    s.tracker.get_phase("p").cancel()  # type: ignore[union-attr]
    s.tracker.start_operation("failing", "fails")
    s.tracker.finish_operation("failing", success=False)
    s.tracker.finish_operation("op", success=True)  # succeeded: nothing to cancel
    assert len(wakes) == 2 and cancels
    s.client.operations.add("failing")
    assert cancels.take_messages([s.client, other]) == [
        (s.client, wire.Cancel(0, "op", 1)), (s.client, wire.Cancel(0, "failing", None))
    ]
    assert not cancels and cancels.take_messages([s.client]) == []


def test_worker_log_records_are_re_emitted_under_bounded_logger_names(caplog: pytest.LogCaptureFixture) -> None:
    logs = WorkerLogs(max_logger_names=1)
    with caplog.at_level(logging.INFO):
        logs.emit(77, wire.LogRecord(1, logging.WARNING, "worker.one", "first", 1700000000.0))
        logs.emit(77, wire.LogRecord(2, logging.WARNING, "worker.two", "second", 1700000001.0))
        logs.emit(77, wire.LogRecord(3, logging.DEBUG, "worker.one", "not enabled", 1700000002.0))
    got = [(r.name, r.getMessage(), r.process, r.processName, r.created) for r in caplog.records]
    assert got == [("worker.one", "first", 77, "worker-77", 1700000000.0),
                   ("mpprogress.worker", "second", 77, "worker-77", 1700000001.0)]


def test_a_client_that_says_goodbye_departs_exited_and_one_lost_departs_lost() -> None:
    from mpprogress._base.events import Worker
    from mpprogress._core.departures import Departure, departures

    s = Setup()
    s.client.host = "elsewhere"
    other = RemoteClient(b"r2", "other", 77, False, 0.0, host="far")
    s.apply(wire.PhaseStart(2, 1, "p", "op", None, "phase", None, 10), wire.PhaseFinish(3, 1, 10, 10, None, True, None),
            wire.Bye(4))
    s.applier.lose(other)
    seen, gone = departures(s.tracker).since(0)
    assert (seen, gone) == (2, [Departure(Worker("elsewhere", 4242), "exited"), Departure(Worker("far", 77), "lost")])
    assert departures(s.tracker).since(seen) == (2, [])
