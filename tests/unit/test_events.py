"""Event delivery order across threads, the JSON serializer, and the silent tracker."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any

from mpprogress import BaseProgressTracker, NoOpProgressTracker, ProgressEventSerializer
from mpprogress._base.events import ProgressUpdate
from mpprogress._core.dispatch import EventDispatcher


def test_serializer_matches_the_seed_format() -> None:
    stamp = datetime(2026, 1, 2, 3, 4, 5)
    text = ProgressEventSerializer.serialize_event(
        "progress_update",
        current=3,
        total=None,
        percentage=float("nan"),
        started=stamp,
        nested={"when": stamp, "items": [1, {"a": object.__name__}]},
        other=ValueError("x"),
        message="naïve ✅",
    )
    event = json.loads(text)
    assert set(event) == {"type", "timestamp", "data"}
    assert event["type"] == "progress_update"
    datetime.fromisoformat(event["timestamp"])
    assert event["data"] == {
        "current": 3,
        "total": None,
        "percentage": None,
        "started": "2026-01-02T03:04:05",
        "nested": {"when": "2026-01-02T03:04:05", "items": [1, {"a": "object"}]},
        "other": "x",
        "message": "naïve ✅",
    }
    assert "\n" not in text


def test_dispatch_preserves_queue_order_when_threads_race() -> None:
    dispatcher = EventDispatcher()
    received: list[int] = []
    dispatcher.add(lambda event_type, **data: received.append(data["n"]))
    lock = threading.Lock()
    counter = iter(range(10**9))

    def producer() -> None:
        for _ in range(2000):
            with lock:  # stands in for the tracker lock: queue order == mutation order
                dispatcher.queue(ProgressUpdate("op", "p", metadata={"n": next(counter)}))
            dispatcher.drain()

    threads = [threading.Thread(target=producer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert received == list(range(16000))


def test_events_of_one_phase_arrive_in_order_under_thread_contention() -> None:
    tracker = BaseProgressTracker(max_update_rate=None)
    per_phase: dict[str, list[str]] = {}
    lock = threading.Lock()

    def record(event_type: str, **data: Any) -> None:
        if data.get("phase_id"):
            with lock:
                per_phase.setdefault(data["phase_id"], []).append(f"{event_type}:{data.get('current')}")

    tracker.add_callback(record)

    def work(n: int) -> None:
        with tracker.operation(f"op {n}") as op, op.phase("P", total=200) as phase:
            for _ in range(200):
                phase.update(1)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(per_phase) == 6
    for seq in per_phase.values():
        assert seq == ["phase_started:None"] + [f"progress_update:{i}" for i in range(1, 201)] + [
            "phase_finished:200"
        ]


def test_noop_tracker_keeps_numbers_and_emits_nothing() -> None:
    tracker = NoOpProgressTracker()
    tracker.add_callback(lambda **_: (_ for _ in ()).throw(AssertionError("no events")))
    with tracker.operation("Silent") as op, op.phase("P", total=4) as phase:
        with phase.phase("sub", total=1) as sub:
            sub.update(1)
        phase.update(2, "half")
        assert phase.percentage == 50.0
    assert op.success is True and phase.success is True
    assert phase.last_message == "half"
    op2 = tracker.start_operation("x", "X")
    op2.cancel()
    p2 = op2.start_phase("p", "P")
    assert p2.cancelled
