"""The front ends across processes: tqdm's own ``process_map`` with our class, our
``process_map`` (a row per worker, lost workers, Ctrl-C), writes and Rich tasks from workers,
``patch_tqdm`` as a pool initializer, and a tqdm script ported by changing its import.

Every multiprocess test runs under fork, spawn and forkserver.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

import pytest

from mpprogress._frontends.maps import process_map
from mpprogress._frontends.patch import patch_tqdm
from mpprogress._frontends.placement import WRITE_LOGGER, shared_operation
from mpprogress._frontends.tqdm import tqdm
from tests.integration import frontend_workers
from tests.integration.conftest import Recorded, finished, wait_for

pytestmark = pytest.mark.processes
ROOT = Path(__file__).resolve().parents[2]


def phases_of(recorded: Recorded, title: str) -> list[Any]:
    (op,) = [op for op in recorded.tracker.snapshot().operations if op.title == title]
    return list(op.phases)


def test_tqdm_contrib_process_map_with_our_class(recorded_session: Recorded, mp_context: BaseContext) -> None:
    from tqdm.contrib.concurrent import process_map as tqdm_process_map

    results = tqdm_process_map(
        frontend_workers.tqdm_loop, range(8), max_workers=4, tqdm_class=tqdm, desc="contrib", mp_context=mp_context,
        chunksize=1,
    )
    assert results == [i * 2 for i in range(8)]
    (bar,) = phases_of(recorded_session, "contrib")
    assert (bar.current, bar.total, bar.success) == (8, 8, True)
    assert wait_for(lambda: len(finished(recorded_session.events, success=True)) >= 9)
    workers = {e.data["title"]: e.data for e in finished(recorded_session.events) if e.data["title"] != "contrib"}
    assert workers == {f"item {i}": workers[f"item {i}"] for i in range(8)}
    for i in range(8):
        assert (workers[f"item {i}"]["current"], workers[f"item {i}"]["total"]) == (100 + i, 100 + i)


def test_shared_operation_groups_the_bars_of_workers(recorded_session: Recorded, mp_context: BaseContext) -> None:
    with shared_operation("grouped"), ProcessPoolExecutor(2, mp_context=mp_context) as pool:
        assert list(pool.map(frontend_workers.tqdm_loop, range(4))) == [0, 2, 4, 6]
    (op,) = recorded_session.tracker.snapshot().operations
    assert op.title == "grouped" and op.success
    assert sorted((p.title, p.current, p.total, p.success) for p in op.phases) == [
        (f"item {i}", 100 + i, 100 + i, True) for i in range(4)
    ]


def test_process_map_shows_a_row_per_worker(recorded_session: Recorded, mp_context: BaseContext) -> None:
    results = process_map(frontend_workers.square, range(40), max_workers=4, chunksize=3, desc="squares",
                          mp_context=mp_context)
    assert results == [x * x for x in range(40)]
    overall, *rows = phases_of(recorded_session, "squares")
    assert (overall.title, overall.current, overall.total, overall.success) == ("squares", 40, 40, True)
    assert 1 <= len(rows) <= 4 and all(row.title.startswith("worker ") for row in rows)
    assert sum(row.current for row in rows) == 40
    assert all(row.finished and row.success for row in rows)
    assert recorded_session.events.types[-1] == "operation_finished"


def test_bars_and_rich_tasks_in_workers_join_the_map(recorded_session: Recorded, mp_context: BaseContext) -> None:
    assert process_map(frontend_workers.rich_tasks, range(3), max_workers=2, mp_context=mp_context,
                       desc="rich") == [0, 1, 2]
    tasks = {p.title: p for p in phases_of(recorded_session, "rich") if p.title.startswith("download")}
    assert {title: (p.current, p.total, p.success) for title, p in tasks.items()} == {
        f"download {i}": (50, 50, True) for i in range(3)
    }


def test_a_lost_worker_is_marked_lost(recorded_session: Recorded, mp_context: BaseContext) -> None:
    with pytest.raises(BrokenProcessPool):
        process_map(frontend_workers.die_on, range(8), [3] * 8, max_workers=2, mp_context=mp_context, desc="crash")
    assert wait_for(lambda: any(e.data["reason"] == "lost" for e in finished(recorded_session.events)), timeout=20)
    overall = phases_of(recorded_session, "crash")[0]
    assert (overall.finished, overall.success) == (True, False)
    assert overall.reason is not None and overall.reason.startswith("BrokenProcessPool: A process in the process pool")


def test_worker_writes_reach_the_parents_logging(recorded_session: Recorded, mp_context: BaseContext) -> None:
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Keep()
    logging.getLogger(WRITE_LOGGER).addHandler(handler)
    try:
        process_map(frontend_workers.write_line, range(4), max_workers=2, mp_context=mp_context)
        assert wait_for(lambda: len(lines) >= 4)
    finally:
        logging.getLogger(WRITE_LOGGER).removeHandler(handler)
    assert sorted(lines) == [f"line {i}" for i in range(4)]


def test_patch_tqdm_as_a_pool_initializer(recorded_session: Recorded, mp_context: BaseContext) -> None:
    with ProcessPoolExecutor(2, mp_context=mp_context, initializer=patch_tqdm) as pool:
        assert list(pool.map(frontend_workers.library_loop, [30, 40])) == [30, 40]
    assert wait_for(lambda: len(finished(recorded_session.events, title="library")) == 2)
    assert sorted(e.data["current"] for e in finished(recorded_session.events, title="library")) == [30, 40]


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_ctrl_c_in_process_map_cancels_the_workers(method: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("frontend_interrupted.py")), method, str(tmp_path)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGINT)
        status = proc.wait(timeout=45)  # 300 items of 0.5 s on 2 workers: 75 s if never told
    finally:
        proc.kill()
        proc.wait()
    assert status == -signal.SIGINT  # KeyboardInterrupt's exit, after the cleanup
    assert len(list(tmp_path.glob("item-*"))) < 10  # the queued items never ran


def test_a_tqdm_script_ported_by_its_import(tmp_path: Path) -> None:
    source = Path(__file__).with_name("tqdm_script.py").read_text()
    ported = source.replace("from tqdm import tqdm, trange", "from mpprogress import tqdm, trange")
    assert set(ported.splitlines()) - set(source.splitlines()) == {"from mpprogress import tqdm, trange"}
    Path(tmp_path, "ported.py").write_text(ported)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
    env["PYTHONPATH"] = str(ROOT)
    runs = [
        subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        for path in (Path(__file__).with_name("tqdm_script.py"), Path(tmp_path, "ported.py"))
    ]
    original, ours = runs
    assert original.returncode == ours.returncode == 0, ours.stderr
    assert ours.stdout == original.stdout
    assert "epoch 2:" in ours.stdout and "it/s]" in original.stderr and "it/s]" not in ours.stderr
    # No terminal: the bars' own display prints a line per start and finish, exact counts included.
    within = " \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} "  # the plain lines' "operation > phase"
    assert f"lines{within}lines: succeeded 200/200" in ours.stderr
    assert ours.stderr.count(f"lines{within}lines{within}words: succeeded") == 200
    assert f"doubling{within}doubling: succeeded 200/200" in ours.stderr
    assert f"epochs{within}epochs: succeeded 3/3" in ours.stderr
