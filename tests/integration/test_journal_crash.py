"""SIGKILL of the process holding a journal, at random moments, 20 times: the file is sound, holds
every finish reported more than a second before the kill, and its runs are marked not closed."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mpprogress._report import load_run

CHILD = Path(__file__).with_name("journal_child.py")
ROUNDS = 10  # two processes killed each round, both writing the same file
MARGIN = 2.0  # a finish reported this long before the kill must be in the file (0.2 s flushes; slack for load)


class Child:
    """One writer process and the finishes it reported (read on a thread as they come)."""

    def __init__(self, journal: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD), str(journal)], stdout=subprocess.PIPE, text=True, bufsize=1
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"
        self.reported: list[tuple[str, float]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            phase_id, _, stamp = line.strip().partition(" ")
            if stamp:
                self.reported.append((phase_id, float(stamp)))

    def kill(self) -> float:
        killed_at = time.time()
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        self._reader.join(30)
        return killed_at


@pytest.mark.processes
def test_sigkill_at_random_moments_leaves_a_sound_journal(tmp_path: Path) -> None:
    journal = tmp_path / "crash.db"
    rng = random.Random(14)
    checked = 0
    for round_number in range(ROUNDS):
        children = [Child(journal), Child(journal)]
        time.sleep(rng.uniform(0.3, 2.8))
        for child in children:
            killed_at = child.kill()
            due = {phase_id for phase_id, at in child.reported if at <= killed_at - MARGIN}
            with sqlite3.connect(journal) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], f"round {round_number}"
                found = {row[0] for row in conn.execute(
                    "SELECT phase_id FROM phases JOIN runs USING (run_id) WHERE runs.pid = ?"
                    " AND phases.finished_at IS NOT NULL", (child.process.pid,))}
            assert due <= found, f"round {round_number}: {len(due - found)} finishes lost of {len(due)}"
            checked += len(due)
    with sqlite3.connect(journal) as conn:
        assert conn.execute("SELECT count(*), count(ended_at) FROM runs").fetchone() == (2 * ROUNDS, 0)
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert checked > 0  # some kills came late enough for finishes to be due
    figures = load_run(journal)  # and the report reads what the last one left
    assert not figures.run.closed_cleanly and figures.outcomes.get("succeeded", 0) > 0
