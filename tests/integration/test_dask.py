"""Progress from inside Dask distributed tasks: a real ``LocalCluster(processes=True)``.

The cluster starts before the session, so its worker processes inherit nothing: the address
and the CURVE client keys reach them only through the plugin ``report_to`` registers (as they
would reach workers on other machines).  The session listens on TCP with CURVE required.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

from distributed import Client, LocalCluster

import mpprogress
from mpprogress.integrations.carry import WorkerSettings
from mpprogress.integrations.dask import completed, report_to, task_phase
from mpprogress.security import CurveServerKeys, generate_keys
from mpprogress.testing import RecordingCallback
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.processes


def count_items(operation_id: str, number: int, items: int) -> int:
    with task_phase(operation_id, total=items, title=f"task {number}") as phase:
        for _ in range(items):
            phase.update(1)
    return number


def dies_once(operation_id: str, marker: str, items: int) -> str:
    with task_phase(operation_id, total=items, title="fragile") as phase:
        for i in range(items):
            phase.update(1)
            if i + 1 == items // 2 and not os.path.exists(marker):
                Path(marker).touch()
                time.sleep(2.0)  # the half count reaches the session (flushed every 50 ms; slack for load)
                os.kill(os.getpid(), signal.SIGKILL)  # the nanny starts a new worker process
    return "ok"


def fails_once(operation_id: str, marker: str, items: int) -> str:
    with task_phase(operation_id, total=items, title="flaky") as phase:
        for _ in range(items):
            phase.update(1)
        if not os.path.exists(marker):
            Path(marker).touch()
            raise RuntimeError("first try fails")
    return "ok"


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as dask_client:
        yield dask_client


@pytest.fixture
def reporting(client: Client, tmp_path: Path) -> Iterator[tuple[Any, RecordingCallback]]:
    keys = generate_keys(tmp_path / "keys", ("dask",))
    events = RecordingCallback()
    with mpprogress.session("tcp://127.0.0.1:0", console=False, sinks=[events],
                            security=CurveServerKeys.load(keys)) as tracker:
        report_to(client, WorkerSettings.capture(curve_dir=keys))
        yield tracker, events


def _finished(events: RecordingCallback, prefix: str) -> list[dict[str, Any]]:
    return [e.data for e in events.of_type("phase_finished") if e.data["title"].startswith(prefix)]


def test_two_hundred_tasks_each_with_a_phase_exact(client: Client, reporting: Any) -> None:
    tracker, events = reporting
    with tracker.operation("dask job") as op, op.phase("tasks", total=200) as overall:
        futures = client.map(count_items, [op.operation_id] * 200, range(200), [500] * 200, pure=False)
        results = sorted(f.result() for f in completed(futures, op, overall))
    assert results == list(range(200))
    assert wait_for(lambda: len(_finished(events, "task ")) == 200, 30)
    phases = _finished(events, "task ")
    assert all((p["current"], p["total"], p["success"]) == (500, 500, True) for p in phases)
    assert {p["title"] for p in phases} == {f"task {n}" for n in range(200)}  # first tries: no "attempt"
    assert _finished(events, "tasks")[0]["current"] == 200


def test_a_worker_killed_mid_task_shows_that_attempt_lost_and_the_retry_done(
    client: Client, reporting: Any, tmp_path: Path
) -> None:
    tracker, events = reporting
    with tracker.operation("dask retry") as op, op.phase("tasks", total=5) as overall:
        futures = [client.submit(dies_once, op.operation_id, str(tmp_path / "died"), 400, pure=False)]
        futures += client.map(count_items, [op.operation_id] * 4, range(1000, 1004), [100] * 4, pure=False)
        assert len([f.result() for f in completed(futures, op, overall)]) == 5
    assert wait_for(lambda: len(_finished(events, "fragile")) == 2, 30)
    attempts = sorted(_finished(events, "fragile"), key=lambda p: p["success"])
    lost, retried = attempts
    assert (lost["success"], lost["reason"], lost["current"]) == (False, "lost", 200), lost
    assert (retried["success"], retried["current"]) == (True, 400), retried
    assert (lost["title"], retried["title"]) == ("fragile", "fragile (attempt 2)")  # the 2nd try of the task
    assert _finished(events, "tasks")[0]["current"] == 5  # the task is counted once
    assert sum(p["current"] for p in _finished(events, "task 10") if p["success"]) == 400


def test_a_task_retried_after_an_error_shows_its_second_try_as_attempt_two(
    client: Client, reporting: Any, tmp_path: Path
) -> None:
    tracker, events = reporting
    with tracker.operation("dask retries") as op, op.phase("tasks", total=3) as overall:
        futures = [client.submit(fails_once, op.operation_id, str(tmp_path / "failed"), 50, retries=1, pure=False)]
        futures += client.map(count_items, [op.operation_id] * 2, range(2000, 2002), [50] * 2, pure=False)
        assert [f.result() for f in completed(futures, op, overall)].count("ok") == 1
    assert wait_for(lambda: len(_finished(events, "flaky")) == 2, 30)
    first, second = _finished(events, "flaky")
    assert (first["title"], first["success"], first["reason"]) == ("flaky", False, "RuntimeError: first try fails")
    assert (second["title"], second["success"], second["current"]) == ("flaky (attempt 2)", True, 50)
    assert sorted(p["title"] for p in _finished(events, "task 200")) == ["task 2000", "task 2001"]


def test_the_dask_example_runs() -> None:
    import subprocess
    import sys

    from tests.integration.netns import ROOT, clean_env

    done = subprocess.run([sys.executable, "examples/dask_progress.py", "--tasks", "12", "--items", "50"],
                          cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines()[-1] == "RESULT tasks=12/12 phases=12 items=600/600", done.stderr[-2000:]
