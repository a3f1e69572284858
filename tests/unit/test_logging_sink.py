"""LoggingSink: one record per event, throttled per phase, fields as structured extra."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from mpprogress import BaseProgressTracker
from mpprogress.adapters.logs import LoggingProgressTracker, LoggingSink
from mpprogress.testing import FakeClock


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, Collect]]:
    log = logging.getLogger("test.mpprogress.logs")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    handler = Collect()
    log.addHandler(handler)
    yield log, handler
    log.removeHandler(handler)


def run_scenario(tracker: BaseProgressTracker, clock: FakeClock) -> None:
    op = tracker.start_operation("op", "Scrape", "4 phases")
    phase = op.start_phase("p", "Links", 10)
    for _ in range(10):
        clock.advance(0.25)
        phase.update(1, "link")
    op.finish_phase("p")
    bad = op.start_phase("q", "Extract", 5)
    bad.update(2)
    op.finish_phase("q", success=False, reason="lost")
    tracker.finish_operation("op", success=False)


def test_one_record_per_event_with_structured_fields(logger: tuple[logging.Logger, Collect]) -> None:
    log, handler = logger
    clock = FakeClock()
    tracker = LoggingProgressTracker(log, min_interval=1.0, get_time=clock, auto_flush=False)
    run_scenario(tracker, clock)
    tracker.close()
    kinds = [r.event_type for r in handler.records]  # type: ignore[attr-defined]
    # progress of "Links": the first update, then one per second of its clock (t=1.25, 2.25).
    assert kinds == [
        "operation_started",
        "phase_started",
        "progress_update",
        "progress_update",
        "progress_update",
        "phase_finished",
        "phase_started",
        "progress_update",
        "phase_finished",
        "operation_finished",
    ]
    updates = [r for r in handler.records if r.event_type == "progress_update"]  # type: ignore[attr-defined]
    assert [r.current for r in updates] == [1, 5, 9, 2]  # type: ignore[attr-defined]
    first = updates[0]
    assert (first.operation_id, first.phase_id, first.title, first.total) == ("op", "p", "Links", 10)  # type: ignore[attr-defined]
    assert first.percentage == 10.0  # type: ignore[attr-defined]
    assert first.progress_message == "link"  # type: ignore[attr-defined]  # "message" is reserved
    assert first.progress["message"] == "link"  # type: ignore[attr-defined]
    assert first.getMessage() == "progress Links: 1/10 (10%) - link"
    assert hasattr(first, "rate") and hasattr(first, "eta")
    finished = [r for r in handler.records if r.event_type == "phase_finished"]  # type: ignore[attr-defined]
    assert [(r.success, r.levelno) for r in finished] == [(True, logging.INFO), (False, logging.WARNING)]  # type: ignore[attr-defined]
    assert finished[1].getMessage() == "phase lost: Extract in <0.1s"
    assert finished[0].duration == pytest.approx(2.5)  # type: ignore[attr-defined]
    assert handler.records[-1].levelno == logging.WARNING


def test_json_lines(logger: tuple[logging.Logger, Collect]) -> None:
    log, handler = logger
    tracker = BaseProgressTracker(auto_flush=False)
    tracker.add_callback(LoggingSink(log, json_lines=True))
    with tracker.operation("Op", operation_id="op") as op, op.phase("P", total=2) as phase:
        phase.update(2, "done")
    events = [json.loads(r.getMessage()) for r in handler.records]
    assert [e["type"] for e in events] == [
        "operation_started",
        "phase_started",
        "progress_update",
        "phase_finished",
        "operation_finished",
    ]
    assert events[2]["data"]["current"] == 2 and events[2]["data"]["message"] == "done"
    assert "event_type" not in events[2]["data"]


def test_level_and_logger_name(caplog: pytest.LogCaptureFixture) -> None:
    tracker = BaseProgressTracker(auto_flush=False)
    tracker.add_callback(LoggingSink(level="DEBUG"))
    with caplog.at_level(logging.DEBUG, logger="mpprogress.progress"):
        tracker.start_operation("op", "Op")
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("mpprogress.progress", logging.DEBUG, "operation started: Op")
    ]
    with pytest.raises(ValueError):
        LoggingSink(level="LOUD")


def test_without_performance_metrics(logger: tuple[logging.Logger, Collect]) -> None:
    log, handler = logger
    tracker = BaseProgressTracker(auto_flush=False)
    tracker.add_callback(LoggingSink(log, include_performance_metrics=False))
    tracker.start_operation("op", "Op").start_phase("p", "P", 3).update(1)
    update = handler.records[-1]
    assert update.current == 1  # type: ignore[attr-defined]
    assert not any(hasattr(update, name) for name in ("rate", "peak_rate", "eta", "elapsed"))


def test_metadata_named_like_record_attributes_is_prefixed(logger: tuple[logging.Logger, Collect]) -> None:
    log, handler = logger
    tracker = BaseProgressTracker(auto_flush=False)
    tracker.add_callback(LoggingSink(log))
    tracker.start_operation("op", "Op").start_phase("p", "P", 3).update(1, filename="a.html", name="x")
    update = handler.records[-1]
    assert update.progress_filename == "a.html" and update.progress_name == "x"  # type: ignore[attr-defined]
    assert update.name == "test.mpprogress.logs"


class StructlogLike:
    """Stands in for a structlog logger: level methods taking the event and keyword fields."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.calls.append(("info", event, fields))

    def warning(self, event: str, **fields: Any) -> None:
        self.calls.append(("warning", event, fields))


def test_structlog_style_logger() -> None:
    fake = StructlogLike()
    tracker = BaseProgressTracker(auto_flush=False)
    sink = LoggingSink(fake)
    tracker.add_callback(sink)
    op = tracker.start_operation("op", "Op")
    op.start_phase("p", "P", 3)
    op.finish_phase("p", success=False, reason="cancelled")
    assert [(level, fields["event_type"]) for level, _, fields in fake.calls] == [
        ("info", "operation_started"),
        ("info", "phase_started"),
        ("warning", "phase_finished"),
    ]
    assert fake.calls[-1][1] == "phase cancelled: P in <0.1s"
    assert fake.calls[-1][2]["reason"] == "cancelled"
    sink.close()
    tracker.finish_operation("op")
    assert len(fake.calls) == 3  # closed: nothing more


def test_tracker_close_closes_the_sink(logger: tuple[logging.Logger, Collect]) -> None:
    log, _ = logger
    tracker = LoggingProgressTracker(log)
    sink = tracker.sink
    with tracker:
        assert sink in tracker.callbacks
    assert sink not in tracker.callbacks
    assert tracker.sinks == ()


def test_the_sink_survives_pickling(logger: tuple[logging.Logger, Collect]) -> None:
    import pickle

    log, handler = logger
    sink = pickle.loads(pickle.dumps(LoggingSink(log, json_lines=True, min_interval=2.0)))
    assert (sink.logger is log, sink.json_lines, sink.min_interval) == (True, True, 2.0)
    sink(event_type="operation_started", operation_id="op", title="Op", description=None)
    assert json.loads(handler.records[-1].getMessage())["data"]["title"] == "Op"
