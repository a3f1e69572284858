"""Issue 11: runs of many short-lived worker processes deliver every phase exactly, none lost.

A ``Pool(maxtasksperchild=1)`` starts one process per task: each connects, says hello, reports
one phase and leaves, hundreds of times in a row; a ``ProcessPoolExecutor`` runs thousands of
short tasks, one acknowledged finish each.  Every phase must reach the parent with its exact
final count, and none may be marked lost (every worker exits normally).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import sys
from functools import partial

import pytest

import mpprogress
from mpprogress.testing import RecordingCallback
from tests.integration.scale_tasks import ITEMS, short_task


def outcomes(events: RecordingCallback) -> list[tuple[bool, str | None, float]]:
    return [(e.data["success"], e.data["reason"], e.data["current"]) for e in events.of_type("phase_finished")]


def titles(events: RecordingCallback) -> list[str]:
    """The finished phases' titles, sorted: each task's phase exactly once."""
    return sorted(e.data["title"] for e in events.of_type("phase_finished"))


@pytest.mark.processes
@pytest.mark.timeout(300)  # 500 spawned interpreters: ~40 s idle here, more on a loaded machine
def test_a_pool_of_one_process_per_task_delivers_every_phase_exactly_under_spawn() -> None:
    tasks = 500
    events = RecordingCallback()
    context = multiprocessing.get_context("spawn")
    with mpprogress.session(console=False, sinks=[events]) as tracker, tracker.operation("short") as op:
        with context.Pool(2, maxtasksperchild=1) as pool:
            assert pool.map(partial(short_task, op.operation_id), range(tasks), chunksize=1) == list(range(tasks))
            pool.close()
            pool.join()
    done = outcomes(events)
    assert len(done) == tasks
    assert set(done) == {(True, None, ITEMS)}
    assert titles(events) == sorted(f"task {k}" for k in range(tasks))


@pytest.mark.processes
@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_an_executor_with_thousands_of_short_tasks_delivers_every_phase_exactly(method: str) -> None:
    tasks = 3000
    events = RecordingCallback()
    context = multiprocessing.get_context(method)
    with mpprogress.session(console=False, sinks=[events]) as tracker, tracker.operation("short") as op:
        with cf.ProcessPoolExecutor(2, mp_context=context) as pool:
            results = pool.map(partial(short_task, op.operation_id), range(tasks), chunksize=20)
            assert list(results) == list(range(tasks))
    done = outcomes(events)
    assert len(done) == tasks
    assert set(done) == {(True, None, ITEMS)}
    assert titles(events) == sorted(f"task {k}" for k in range(tasks))


@pytest.mark.processes
@pytest.mark.skipif(sys.version_info < (3, 11), reason="max_tasks_per_child is new in Python 3.11")
def test_an_executor_with_one_process_per_task_delivers_every_phase_exactly_under_forkserver() -> None:
    tasks = 200
    events = RecordingCallback()
    context = multiprocessing.get_context("forkserver")
    with mpprogress.session(console=False, sinks=[events]) as tracker, tracker.operation("short") as op:
        with cf.ProcessPoolExecutor(2, mp_context=context, max_tasks_per_child=1) as pool:
            assert list(pool.map(partial(short_task, op.operation_id), range(tasks))) == list(range(tasks))
    done = outcomes(events)
    assert len(done) == tasks
    assert set(done) == {(True, None, ITEMS)}
    assert titles(events) == sorted(f"task {k}" for k in range(tasks))
