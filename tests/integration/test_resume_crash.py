"""Resume after a crash: the parent of a crawl is SIGKILLed mid-run, then run again with
``session(journal=..., resume=True)``; threads and worker processes (fork, spawn, forkserver),
items tracked with ``phase.track(items, key=str)``.

What must hold: the second run continues each phase where the journal left it (and the display
says so), never redoes an item the journal recorded done, redoes only the few items done but not
yet recorded when the process died (at least once), and ends with exact counts.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import wait_for
from .resume_child import CHUNKS, PER_CHUNK

CHILD = Path(__file__).with_name("resume_child.py")
WINDOW = 40
"""Items of one chunk done but not yet recorded at the kill, at most: the worker's 50 ms flush and
the journal's 0.2 s commits are ~0.3 s of 20 ms items (15); the rest is slack for a loaded machine."""


def query(journal: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    try:
        with sqlite3.connect(f"{journal.resolve().as_uri()}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError:
        return []  # not created yet


def recorded(journal: Path, run_id: int) -> set[str]:
    rows = query(journal, "SELECT item_key FROM done_items JOIN phases USING (phase_row) WHERE run_id = ?", run_id)
    return {str(row[0]) for row in rows}


def ran(log_dir: Path) -> list[str]:
    """Every item body that ran, in every run so far (one line per body)."""
    return [line.split()[1] for path in log_dir.glob("*.log") for line in path.read_text().splitlines()
            if line.startswith("item ")]


def child(journal: Path, mode: str, log_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(CHILD), str(journal), mode, str(log_dir)],
                            start_new_session=True, cwd=Path(__file__).parents[2])


def kill_a_crawl_midway(journal: Path, mode: str, log_dir: Path) -> None:
    """Run the crawl until it recorded 40 item keys, then SIGKILL it and its workers."""
    first = child(journal, mode, log_dir)
    try:
        assert wait_for(lambda: len(recorded(journal, 1)) >= 40, timeout=60), "the first run recorded nothing"
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)


@pytest.mark.processes
@pytest.mark.parametrize("mode", ["threads", "fork", "spawn", "forkserver"])
def test_a_crashed_crawl_resumes_where_the_journal_left_it(tmp_path: Path, mode: str) -> None:
    journal, logs = tmp_path / "crawl.db", tmp_path / "logs"
    logs.mkdir()
    kill_a_crawl_midway(journal, mode, logs)
    time.sleep(0.2)  # pool workers die with the group
    done_before = recorded(journal, 1)
    ran_before = ran(logs)
    assert query(journal, "SELECT ended_at FROM runs") == [(None,)]  # the crash left the run open
    assert set(ran_before) >= done_before  # a key is recorded only once its body ran
    not_recorded = set(ran_before) - done_before

    second = child(journal, mode, logs)
    assert second.wait(120) == 0

    assert query(journal, "SELECT run_id, resumed_from, ended_at IS NOT NULL FROM runs") == [(1, None, 0), (2, 1, 1)]
    assert query(journal, "SELECT count(*), min(current), max(current), min(success) FROM phases WHERE run_id = 2") \
        == [(CHUNKS, PER_CHUNK, PER_CHUNK, 1)]  # exact final counts
    bodies = ran(logs)  # both runs
    again = {item for item in set(bodies) if bodies.count(item) > 1}
    assert not again & done_before, "an item recorded done was done again"
    assert again <= not_recorded  # only items done but not recorded at the kill (at least once)
    for chunk in range(CHUNKS):
        assert sum(item.startswith(f"c{chunk}-") for item in again) <= WINDOW
    everything = {f"c{chunk}-i{n}" for chunk in range(CHUNKS) for n in range(PER_CHUNK)}
    assert set(bodies) == everything and recorded(journal, 1) | recorded(journal, 2) == everything
    assert len(bodies) == len(everything) + len(again)

    # each phase resumed at the number of its items recorded done, and the display said so
    starts = [line.split()[1:] for path in logs.glob("*.log") for line in path.read_text().splitlines()
              if line.startswith("start ")]
    resumed = {int(chunk): int(at) for chunk, at in starts if at != "None"}  # the first run resumed nothing
    started_before = {str(row[0]) for row in query(journal, "SELECT phase_key FROM phases WHERE run_id = 1")}
    for chunk in range(CHUNKS):
        done = sum(item.startswith(f"c{chunk}-") for item in done_before)
        assert resumed.get(chunk) == (done if f"chunk {chunk}" in started_before else None)
    screen = (logs / "screen.txt").read_text()
    partly = {chunk: at for chunk, at in resumed.items() if 0 < at < PER_CHUNK}
    assert partly, "the kill left no chunk half done"
    for chunk, at in partly.items():
        assert any(f"chunk {chunk}" in line and f"resumed at {at}/{PER_CHUNK}" in line for line in screen.splitlines())
