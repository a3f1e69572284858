"""Fixtures for the multiprocess tests: start methods, a headless session, polling waits."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess

import pytest

import mpprogress
from mpprogress._core.tracker import BaseProgressTracker
from mpprogress.testing import RecordedEvent, RecordingCallback

START_METHODS = ["fork", "spawn", "forkserver"]


def wait_for(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds passed; an upper bound only."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def finished_phases(tracker: BaseProgressTracker) -> int:
    """How many of ``tracker``'s phases have finished."""
    return sum(1 for op in tracker.snapshot().operations for phase in op.all_phases() if phase.finished)


def end_processes(processes: Iterable[BaseProcess], timeout: float = 30.0) -> None:
    """Wait up to ``timeout`` s for each of ``processes``; kill any still running (a stuck worker
    fails its test by its exit code, never holds the run at exit)."""
    for process in processes:
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join()


def finished(events: RecordingCallback, **match: object) -> list[RecordedEvent]:
    """The ``phase_finished`` events whose data contains every ``match`` item."""
    return [
        e for e in events.of_type("phase_finished") if all(e.data.get(k) == v for k, v in match.items())
    ]


@pytest.fixture(params=START_METHODS)
def mp_context(request: pytest.FixtureRequest) -> BaseContext:
    """A multiprocessing context for each start method."""
    return multiprocessing.get_context(request.param)


class Recorded:
    """A running headless session and what its tracker emitted."""

    def __init__(self, tracker: BaseProgressTracker, events: RecordingCallback) -> None:
        self.tracker = tracker
        self.events = events


@pytest.fixture
def recorded_session() -> Iterator[Recorded]:
    """``mpprogress.session(console=False)`` with a recording callback."""
    events = RecordingCallback()
    with mpprogress.session(console=False, sinks=[events]) as tracker:
        yield Recorded(tracker, events)
