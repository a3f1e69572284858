"""The journal sink: what it writes, how often it samples, its bounds, and its file's versions."""

from __future__ import annotations

import logging
import multiprocessing
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mpprogress._base.errors import ProgressCancelled
from mpprogress._base.events import OperationStarted, PhaseFinished, PhaseStarted, ProgressUpdate
from mpprogress._core.tracker import BaseProgressTracker
from mpprogress.adapters.journal import JournalConfig, JournalSink
from mpprogress.adapters.journal._schema import (
    SCHEMA_VERSION,
    JournalError,
    JournalVersionError,
    Schema,
    open_journal,
    phase_key,
    stable_key,
)
from mpprogress.testing import FakeClock

# The writer only writes when flushed (or closed): every test decides when.
MANUAL = JournalConfig(flush_interval=3600.0)


def rows(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, args).fetchall()


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "runs.db"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_000_000.0)


@pytest.fixture
def sink(journal: Path, clock: FakeClock) -> Iterator[JournalSink]:
    with JournalSink(journal, config=MANUAL, get_time=clock, argv=["prog", "--flag"]) as opened:
        yield opened


def update(phase_id: str, current: int, total: int | None = 100, **extra: Any) -> ProgressUpdate:
    return ProgressUpdate(operation_id="op", phase_id=phase_id, title=phase_id, current=current, total=total, **extra)


def test_a_tracker_run_is_written_with_outcomes_and_reasons(journal: Path) -> None:
    tracker = BaseProgressTracker()
    sink = JournalSink(journal)
    tracker.add_callback(sink)
    with tracker.operation("Scrape", operation_id="scrape") as op:
        with op.phase("Download", total=10) as phase:
            phase.update(10)
            with phase.phase("page 1", total=1) as page:
                page.update(1)
        with pytest.raises(ValueError), op.phase("Parse", total=5) as phase:
            phase.update(2)
            raise ValueError("bad page")
        with pytest.raises(KeyboardInterrupt), op.phase("Wait"):
            raise KeyboardInterrupt
        with pytest.raises(ProgressCancelled), op.phase("Stop") as phase:
            phase.cancel()
            phase.raise_if_cancelled()
        op.start_phase("gone", "Remote part", 3)
        op.finish_phase("gone", success=False, reason="lost")
    sink.close()

    assert rows(journal, "SELECT operation_id, operation_key, title, success FROM operations") == [
        ("scrape", "scrape", "Scrape", 1)
    ]
    phases = rows(journal, "SELECT phase_key, success, reason, current, total, finished_at IS NOT NULL FROM phases"
                           " ORDER BY phase_row")
    assert phases == [
        ("Download", 1, None, 10, 10, 1),
        ("Download/page 1", 1, None, 1, 1, 1),
        ("Parse", 0, "ValueError: bad page", 2, 5, 1),
        ("Wait", 0, "interrupted", 0, None, 1),
        ("Stop", 0, "cancelled", 0, None, 1),
        ("gone", 0, "lost", 0, 3, 1),  # a user-given id is its key
    ]
    # every finish wrote its final state as a sample
    assert rows(journal, "SELECT count(*) FROM samples s JOIN phases p USING (phase_row)"
                         " WHERE s.at = p.finished_at AND s.current = p.current") == [(6,)]
    (run,) = rows(journal, "SELECT ended_at IS NOT NULL, pid, dropped_logs, write_errors FROM runs")
    assert run[0] == 1 and run[2:] == (0, 0)


def test_samples_are_one_a_second_per_phase_plus_the_final_state(
    sink: JournalSink, journal: Path, clock: FakeClock
) -> None:
    sink.handle(PhaseStarted(operation_id="op", phase_id="a", title="a", total=100))
    sink.handle(PhaseStarted(operation_id="op", phase_id="b", title="b", total=100))
    for step in range(1, 41):  # 5 seconds, 8 updates a second on each phase, the writer at 8 Hz
        clock.advance(0.125)
        sink.handle(update("a", step))
        sink.handle(update("b", step))
        assert sink.flush()
    sink.handle(PhaseFinished(operation_id="op", phase_id="a", title="a", current=40, total=100))
    sink.close()
    samples = rows(journal, "SELECT p.phase_id, s.current FROM samples s JOIN phases p USING (phase_row)"
                            " ORDER BY p.phase_id, s.at")
    # at 0.125 s (the first), then each time a second has passed since the last one written
    a = [current for phase, current in samples if phase == "a"]
    b = [current for phase, current in samples if phase == "b"]
    assert a == [1, 9, 17, 25, 33, 40]  # ... and the final state at the finish
    assert b == [1, 9, 17, 25, 33, 40]  # ... and the latest state when the sink closed
    assert rows(journal, "SELECT phase_id, current, total, updated_at IS NOT NULL FROM phases ORDER BY phase_id") == [
        ("a", 40, 100, 1), ("b", 40, 100, 1)
    ]


def test_a_progress_update_only_replaces_its_phase_latest_state(sink: JournalSink, journal: Path) -> None:
    for current in range(100_000):  # nothing is queued per update: the last state wins
        sink.handle(update("a", current))
    assert sink.flush()
    assert rows(journal, "SELECT current FROM samples") == [(99_999,)]


def test_log_records_are_written_and_bounded(journal: Path, clock: FakeClock) -> None:
    config = JournalConfig(flush_interval=3600.0, max_pending_logs=5)
    sink = JournalSink(journal, config=config, get_time=clock)
    logger = logging.getLogger("test.journal.logs")
    logger.propagate = False
    handler = sink.logging_handler(logging.INFO)
    logger.addHandler(handler)
    try:
        logger.debug("below the handler's level")
        for number in range(8):
            logger.warning("record %d\x1b[31m", number)
        assert sink.dropped_logs == 3
        assert sink.flush()
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("it failed")
    finally:
        logger.removeHandler(handler)
        sink.close()
    logs = rows(journal, "SELECT level, logger, message, pid FROM logs ORDER BY at")
    assert [message for _, _, message, _ in logs[:5]] == [f"record {n}[31m" for n in range(5)]  # ESC stripped
    assert logs[0][:2] == (logging.WARNING, "test.journal.logs") and logs[0][3] is not None
    assert logs[5][2].startswith("it failed\nTraceback") and "RuntimeError: boom" in logs[5][2]
    assert rows(journal, "SELECT dropped_logs FROM runs") == [(3,)]


@dataclass
class WorkerPhaseStarted(PhaseStarted):
    """A phase start that says which worker it came from (as the remote side will)."""

    worker: Any = None


@pytest.mark.parametrize("worker", [("node-1", 4242), {"host": "node-1", "pid": 4242}])
def test_worker_identity_is_kept_when_the_event_has_it(sink: JournalSink, journal: Path, worker: Any) -> None:
    sink.handle(WorkerPhaseStarted(operation_id="op", phase_id="w", title="w", worker=worker))
    sink.handle(PhaseStarted(operation_id="op", phase_id="local", title="local"))
    assert sink.flush()
    assert rows(journal, "SELECT phase_id, host, pid FROM phases ORDER BY phase_row") == [
        ("w", "node-1", 4242), ("local", None, None)
    ]


def test_phases_first_seen_updating_or_finishing_are_adopted(sink: JournalSink, journal: Path) -> None:
    sink.handle(update("late", 5, elapsed=2.0))
    sink.handle(PhaseFinished(operation_id="op", phase_id="gone", title="gone", success=False, reason="lost",
                              duration=3.0, current=7))
    sink.close()
    assert rows(journal, "SELECT phase_id, current, finished_at - started_at, reason FROM phases ORDER BY phase_row"
                ) == [("gone", 7, 3.0, "lost"), ("late", 5, None, None)]


def test_handle_never_waits_for_a_locked_journal(sink: JournalSink, journal: Path) -> None:
    blocker = sqlite3.connect(journal, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        sink.handle(OperationStarted(operation_id="op", title="op"))
        for number in range(1000):  # if handle() waited for the writer, this would hang
            sink.handle(PhaseStarted(operation_id="op", phase_id=f"p{number}", title="p"))
            sink.handle(update(f"p{number}", 1))
        wrote = threading.Thread(target=sink.flush, daemon=True)
        wrote.start()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    wrote.join(30)
    assert sink.flush()
    assert rows(journal, "SELECT count(*) FROM phases") == [(1000,)]


def test_close_is_idempotent_and_later_events_are_ignored(sink: JournalSink, journal: Path) -> None:
    sink.handle(OperationStarted(operation_id="op", title="op"))
    sink.close()
    sink.close()
    sink.handle(PhaseStarted(operation_id="op", phase_id="after", title="after"))
    assert not sink.flush()
    assert rows(journal, "SELECT count(*) FROM operations") == [(1,)]
    assert rows(journal, "SELECT count(*) FROM phases") == [(0,)]


def test_runs_share_a_file(journal: Path) -> None:
    first = JournalSink(journal, argv=["first"])
    second = JournalSink(journal, argv=["second"])  # open at the same time, from one process
    for sink in (first, second):
        sink.handle(OperationStarted(operation_id="op", title=f"run {sink.run_id}"))
    first.close()
    second.close()
    assert rows(journal, "SELECT run_id, argv, ended_at IS NOT NULL FROM runs") == [
        (1, '["first"]', 1), (2, '["second"]', 1)
    ]
    assert rows(journal, "SELECT run_id, title FROM operations ORDER BY run_id") == [(1, "run 1"), (2, "run 2")]


def test_a_run_not_closed_stays_marked_open(journal: Path) -> None:
    sink = JournalSink(journal)
    sink.handle(OperationStarted(operation_id="op", title="op"))
    assert sink.flush()
    assert rows(journal, "SELECT ended_at, last_seen IS NOT NULL FROM runs") == [(None, 1)]
    sink.close()


def test_a_newer_journal_is_refused(journal: Path) -> None:
    JournalSink(journal).close()
    with sqlite3.connect(journal) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(JournalVersionError, match=r"newer mpprogress .*upgrade mpprogress"):
        JournalSink(journal)


def test_other_files_are_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(JournalError, match="not a journal"):
        JournalSink(garbage)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(JournalError, match="not an mpprogress journal"):
        JournalSink(other)
    with pytest.raises(JournalError, match="no journal"):
        open_journal(tmp_path / "missing.db", readonly=True)


def test_an_older_journal_is_migrated_or_refused(journal: Path) -> None:
    old = Schema(version=1, create=("CREATE TABLE runs (run_id INTEGER PRIMARY KEY)",), migrations={})
    open_journal(journal, schema=old).close()
    new = Schema(version=2, create=(), migrations={1: ("ALTER TABLE runs ADD COLUMN note TEXT",)})
    with pytest.raises(JournalVersionError, match=r"older .*open it once for writing"):
        open_journal(journal, readonly=True, schema=new)
    with pytest.raises(JournalVersionError, match="no migration exists"):
        open_journal(journal, schema=Schema(version=3, create=(), migrations={1: ()}))
    assert rows(journal, "PRAGMA user_version") == [(1,)]  # a refused migration changed nothing
    conn = open_journal(journal, schema=new)
    conn.close()
    assert rows(journal, "PRAGMA user_version") == [(2,)]
    assert [column[1] for column in rows(journal, "PRAGMA table_info(runs)")] == ["run_id", "note"]


def _use_inherited(sink: JournalSink) -> None:
    sink.handle(PhaseStarted(operation_id="op", phase_id="from-the-child", title="child"))
    sink.logging_handler().handle(logging.makeLogRecord({"msg": "from the child"}))
    assert not sink.flush(timeout=1.0)
    sink.close()


@pytest.mark.processes
def test_a_forked_child_never_touches_the_parents_journal(sink: JournalSink, journal: Path) -> None:
    sink.handle(OperationStarted(operation_id="op", title="op"))
    child = multiprocessing.get_context("fork").Process(target=_use_inherited, args=(sink,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    sink.handle(PhaseStarted(operation_id="op", phase_id="from-the-parent", title="parent"))
    assert sink.flush()
    assert rows(journal, "SELECT phase_id FROM phases") == [("from-the-parent",)]
    assert rows(journal, "SELECT count(*) FROM logs") == [(0,)]
    assert rows(journal, "PRAGMA integrity_check") == [("ok",)]


def test_the_file_is_in_wal_mode(sink: JournalSink, journal: Path) -> None:
    assert rows(journal, "PRAGMA journal_mode") == [("wal",)]


def test_stable_keys() -> None:
    generated = "0b7e2c1c-65a5-4c49-9d44-6a4f0b1e7c11"
    assert stable_key(generated, "Download") == "Download"
    assert stable_key(f"default-{generated}", "Loop") == "Loop"
    assert stable_key("scrape-2024", "Scrape") == "scrape-2024"
    assert phase_key(None, generated, "a/b") == "a\\/b"
    assert phase_key("Download", generated, "page 3") == "Download/page 3"
