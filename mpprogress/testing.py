"""Test doubles that ship with the library: a fake clock, a recording callback, and a scripted
workload of uneven parallel workers to check ETAs against (``replay``)."""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._base.snapshot import OperationSnapshot
from ._core.tracker import BaseProgressTracker

__all__ = [
    "FakeClock",
    "Reading",
    "RecordedEvent",
    "RecordingCallback",
    "ScriptedWorker",
    "recorded_tracker",
    "replay",
]


class FakeClock:
    """A monotonic clock that only moves when told to; pass it as ``get_time``.

    Args:
        start: the first reading.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


@dataclass(frozen=True)
class RecordedEvent:
    """One event as a callback received it."""

    type: str
    data: dict[str, Any]


class RecordingCallback:
    """A callback that records every event it receives, thread-safely."""

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []
        self._lock = threading.Lock()

    def __call__(self, *, event_type: str, **data: Any) -> None:
        with self._lock:
            self.events.append(RecordedEvent(event_type, data))

    def of_type(self, event_type: str) -> list[RecordedEvent]:
        """The recorded events of one type, in order."""
        with self._lock:
            return [e for e in self.events if e.type == event_type]

    @property
    def types(self) -> list[str]:
        """The recorded event types, in order."""
        with self._lock:
            return [e.type for e in self.events]

    def close(self) -> None:
        """Nothing to release; here so it can stand in for a sink."""


def recorded_tracker(**settings: Any) -> tuple[BaseProgressTracker, RecordingCallback, FakeClock]:
    """A local tracker on a fake clock, without a flusher thread, recording its events.

    Args:
        **settings: further ``BaseProgressTracker`` settings.

    Returns:
        (the tracker, its recording callback, its clock).
    """
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False, **settings)
    events = RecordingCallback()
    tracker.add_callback(events)
    return tracker, events, clock


@dataclass(frozen=True)
class ScriptedWorker:
    """One worker of a scripted workload (``replay``): a phase of ``items`` items.

    Args:
        title: the phase's title.
        items: the phase's total.
        seconds: how long one item takes.
        jitter: each item takes ``seconds * (1 + u)``, ``u`` drawn evenly from
            ``[-jitter, jitter]`` by a seeded generator.
        stall_at: after this many items, the worker stops for ``stall_for`` seconds.
        stall_for: the length of the stall.
    """

    title: str
    items: int
    seconds: float
    jitter: float = 0.0
    stall_at: int | None = None
    stall_for: float = 0.0


@dataclass(frozen=True)
class Reading:
    """An operation's state read as its work passed a mark (``replay``)."""

    mark: float
    """The share of all items done when it was read."""
    at: float
    """Seconds since the start."""
    operation: OperationSnapshot
    """The operation's snapshot then (its ``eta`` is the prediction)."""
    remaining: float
    """Seconds the work really took from then on."""

    @property
    def error(self) -> float | None:
        """The ETA's error as a share of the true time remaining (``None`` without an ETA)."""
        eta = self.operation.eta
        return None if eta is None or self.remaining <= 0 else (eta - self.remaining) / self.remaining


def replay(
    workers: Sequence[ScriptedWorker],
    marks: Sequence[float] = (0.25, 0.5, 0.75),
    *,
    tick: float = 0.05,
    seed: int = 0,
) -> list[Reading]:
    """Run workers side by side, one phase each, on a fake clock; read the operation as the
    share of items done passes each mark.

    A local tracker (throttled as by default) counts each finished item with ``update(1)``;
    every ``tick`` of fake time its throttle is flushed, as its flusher thread would.

    Returns:
        One reading per mark, in order.
    """
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    op = tracker.start_operation("replay", "Replay")
    draw = random.Random(seed)
    start = clock.now
    phases = [op.start_phase(f"w{index}", worker.title, total=worker.items) for index, worker in enumerate(workers)]
    done = [0] * len(workers)
    due = [start + _item_time(worker, draw) for worker in workers]
    everything, finished_at = sum(worker.items for worker in workers), start
    pending = sorted(marks)
    taken: list[tuple[float, float, OperationSnapshot]] = []
    while any(count < worker.items for count, worker in zip(done, workers, strict=True)):
        clock.advance(tick)
        for index, worker in enumerate(workers):
            while done[index] < worker.items and due[index] <= clock.now:
                done[index] += 1
                phases[index].update(1)
                finished_at = max(finished_at, due[index])
                stall = worker.stall_for if done[index] == worker.stall_at else 0.0
                due[index] += stall + _item_time(worker, draw)
            if done[index] == worker.items and not phases[index].finished:
                op.finish_phase(phases[index].phase_id)
        tracker.flush()
        while pending and sum(done) >= pending[0] * everything:
            view = tracker.snapshot().operations[0]
            taken.append((pending.pop(0), clock.now - start, view))
    tracker.close()
    return [Reading(mark, at, view, finished_at - start - at) for mark, at, view in taken]


def _item_time(worker: ScriptedWorker, draw: random.Random) -> float:
    return worker.seconds * (1.0 + draw.uniform(-worker.jitter, worker.jitter))
