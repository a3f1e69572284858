"""A journal attached to a session: worker processes' phases, a worker killed mid-phase (lost),
and forwarded worker log records end up in the file, and the report reads them back."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sqlite3
from pathlib import Path

import pytest

import mpprogress
from mpprogress._report import load_run, render
from mpprogress.adapters.journal import JournalSink
from tests.integration import workers
from tests.integration.conftest import wait_for


@pytest.mark.processes
def test_a_session_journals_its_workers(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    path = tmp_path / "session.db"
    sink = JournalSink(path)
    handler = sink.logging_handler(logging.WARNING)
    logger = logging.getLogger("journal.worker")
    logger.addHandler(handler)
    try:
        with mpprogress.session(console=False, sinks=(sink,), forward_logs=True) as tracker:
            with tracker.operation("journaled") as op:
                victim = context.Process(target=workers.hang_in_phase, args=(op.operation_id,))
                victim.start()
                assert wait_for(lambda: any(p.current == 5 for p in op.phases.values()))
                os.kill(victim.pid, signal.SIGKILL)  # type: ignore[arg-type]
                others = [context.Process(target=workers.report_phases, args=(op.operation_id, 2, 20))
                          for _ in range(2)]
                talker = context.Process(target=workers.log_warning, args=("journal.worker", "hello"))
                for process in [*others, talker]:
                    process.start()
                for process in [*others, talker]:
                    process.join(60)
                assert wait_for(lambda: all(p.finished for p in op.phases.values()), timeout=15)
                victim.join(10)
    finally:
        logger.removeHandler(handler)
        sink.close()

    with sqlite3.connect(path) as conn:
        phases = conn.execute("SELECT title, success, reason, current FROM phases ORDER BY phase_row").fetchall()
        logs = conn.execute("SELECT logger, message, pid FROM logs").fetchall()
    assert ("hang", 0, "lost", 5) in phases
    assert sorted(row[1:] for row in phases if row[0] != "hang") == [(1, None, 20)] * 4
    assert [(name, message) for name, message, _ in logs] == [("journal.worker", f"hello from {logs[0][2]}")]
    figures = load_run(path)
    assert figures.run.closed_cleanly and figures.outcomes == {"succeeded": 4, "lost": 1}
    assert "lost" in render(figures, "text")
