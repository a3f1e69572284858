"""Workers in other processes report into the parent's operation: exact counts, correct events.

Every test runs under fork, spawn and forkserver, with real processes and real sockets.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
from pathlib import Path

from tests.integration import workers
from tests.integration.conftest import Recorded, finished, wait_for

ROOT = Path(__file__).resolve().parents[2]
PHASES, ITEMS = 3, 50


def check_worker_phases(recorded: Recorded, operation_id: str, pids: set[int]) -> None:
    """Each worker reported PHASES phases of ITEMS items, in order, under ``operation_id``."""
    events = recorded.events
    assert wait_for(lambda: len(events.of_type("phase_finished")) >= len(pids) * PHASES)
    done = events.of_type("phase_finished")
    assert len(done) == len(pids) * PHASES
    assert {e.data["title"] for e in done} == {f"{pid}-{k}" for pid in pids for k in range(PHASES)}
    for event in done:
        assert (event.data["current"], event.data["total"]) == (ITEMS, ITEMS)
        assert (event.data["success"], event.data["reason"]) == (True, None)
        assert event.data["operation_id"] == operation_id
    started = events.of_type("phase_started")
    assert len(started) == len(pids) * PHASES
    for event in started:
        phase_id = event.data["phase_id"]
        kinds = [e.type for e in events.events if e.data.get("phase_id") == phase_id]
        assert kinds[0] == "phase_started" and kinds[-1] == "phase_finished"
        assert set(kinds[1:-1]) <= {"progress_update"}
        updates = [e.data for e in events.events if e.type == "progress_update" and e.data["phase_id"] == phase_id]
        assert updates[-1]["current"] == ITEMS and updates[-1]["message"] == f"item {ITEMS - 1}"
    snapshot = recorded.tracker.snapshot().get(operation_id)
    assert snapshot is not None
    assert sum(p.current for p in snapshot.phases) == len(pids) * PHASES * ITEMS


def test_process(recorded_session: Recorded, mp_context: BaseContext) -> None:
    with recorded_session.tracker.operation("Process") as op:
        procs = [mp_context.Process(target=workers.report_phases, args=(op.operation_id, PHASES, ITEMS))
                 for _ in range(4)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
        assert [proc.exitcode for proc in procs] == [0, 0, 0, 0]
    check_worker_phases(recorded_session, op.operation_id, {proc.pid for proc in procs if proc.pid})
    assert recorded_session.events.types[-1] == "operation_finished"


def test_pool(recorded_session: Recorded, mp_context: BaseContext) -> None:
    with recorded_session.tracker.operation("Pool") as op, mp_context.Pool(4) as pool:
        pids = pool.starmap(workers.report_phases, [(op.operation_id, PHASES, ITEMS)] * 4, chunksize=1)
    # Pool.__exit__ terminates the workers: their final states were acknowledged before that.
    check_worker_phases_by_task(recorded_session, op.operation_id, pids)


def check_worker_phases_by_task(recorded: Recorded, operation_id: str, pids: list[int]) -> None:
    """Like ``check_worker_phases``, for pools where one process may run several tasks."""
    events = recorded.events
    assert wait_for(lambda: len(events.of_type("phase_finished")) >= len(pids) * PHASES)
    done = events.of_type("phase_finished")
    assert len(done) == len(pids) * PHASES
    assert all(e.data["current"] == ITEMS and e.data["success"] for e in done)
    assert all(e.data["operation_id"] == operation_id for e in done)
    assert {e.data["title"] for e in done} == {f"{pid}-{k}" for pid in pids for k in range(PHASES)}


def test_process_pool_executor(recorded_session: Recorded, mp_context: BaseContext) -> None:
    with recorded_session.tracker.operation("Executor") as op:
        with ProcessPoolExecutor(4, mp_context=mp_context) as pool:
            pids = list(pool.map(workers.report_phases, [op.operation_id] * 4, [PHASES] * 4, [ITEMS] * 4))
    check_worker_phases_by_task(recorded_session, op.operation_id, pids)


def test_subprocess_python_c_and_script(recorded_session: Recorded) -> None:
    with recorded_session.tracker.operation("subprocess") as op:
        code = (
            "import os, mpprogress\n"
            f"op = mpprogress.get_tracker().get_operation({op.operation_id!r})\n"
            f"for k in range({PHASES}):\n"
            f"    with op.phase(f'{{os.getpid()}}-{{k}}', total={ITEMS}) as phase:\n"
            f"        for i in range({ITEMS}):\n"
            "            phase.update(1, message=f'item {i}')\n"
        )
        inline = subprocess.Popen([sys.executable, "-c", code])
        script = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.workers", "worker", op.operation_id, str(PHASES), str(ITEMS)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )
        assert inline.wait(60) == 0
        out, _ = script.communicate(timeout=60)
        assert script.returncode == 0 and out.strip() == "done"
    check_worker_phases(recorded_session, op.operation_id, {inline.pid, script.pid})


def test_nested_phases_and_worker_operations(recorded_session: Recorded, mp_context: BaseContext) -> None:
    with recorded_session.tracker.operation("nested") as op:
        with ProcessPoolExecutor(2, mp_context=mp_context) as pool:
            nested = pool.submit(workers.nested_phases, op.operation_id, 20)
            own = pool.submit(workers.own_operation, "worker's own", 10)
            pid, own_id = nested.result(60), own.result(60)
    events = recorded_session.events
    outer = finished(events, title=f"outer {pid}")
    assert len(outer) == 1 and outer[0].data["success"]
    inner = [e for e in events.of_type("phase_finished") if e.data["parent_phase_id"] == outer[0].data["phase_id"]]
    assert sorted(e.data["title"] for e in inner) == ["inner a", "inner b"]
    assert all(e.data["current"] == 20 and e.data["operation_id"] == op.operation_id for e in inner)
    own_events = [e for e in events.events if e.data.get("operation_id") == own_id]
    assert own_events[0].type == "operation_started"
    assert own_events[0].data["title"] == "worker's own"
    assert own_events[-1].type == "operation_finished" and own_events[-1].data["success"] is True
    own_phase = finished(events, operation_id=own_id)
    assert own_phase[0].data["current"] == 10
    updates = [e.data for e in own_events if e.type == "progress_update"]
    assert updates[-1]["source"] == "worker" and updates[-1]["message"] == "all at once"


def test_fork_inside_a_worker_gets_its_own_context(recorded_session: Recorded, mp_context: BaseContext) -> None:
    with recorded_session.tracker.operation("forking worker") as op:
        with ProcessPoolExecutor(1, mp_context=mp_context) as pool:
            assert pool.submit(workers.fork_grandchild, op.operation_id).result(60) == 0
    events = recorded_session.events
    assert wait_for(lambda: finished(events, title="grandchild"))
    assert finished(events, title="grandchild")[0].data["current"] == 3
    assert len(events.of_type("phase_finished")) == 2


def test_get_tracker_and_environment_inside_and_after_a_session() -> None:
    import mpprogress
    from mpprogress._remote.transport import ADDRESS_ENV

    before = os.environ.get(ADDRESS_ENV)
    with mpprogress.session(console=False) as tracker:
        assert mpprogress.get_tracker() is tracker
        address = os.environ[ADDRESS_ENV]
        assert address.startswith("ipc://")
        directory = Path(address[len("ipc://"):]).parent
        assert directory.stat().st_mode & 0o777 == 0o700
    assert os.environ.get(ADDRESS_ENV) == before
    assert mpprogress.get_tracker() is not tracker
    assert not directory.exists()
