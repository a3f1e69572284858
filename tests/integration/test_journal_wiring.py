"""The journal where users turn it on: ``session(journal=...)``, ``demo --journal``,
``relay --journal`` — each run recorded, closed cleanly, readable by ``mpprogress report``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
from pathlib import Path

import pytest

import mpprogress
from mpprogress._report import load_run
from tests.integration import workers

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.processes
def test_a_session_records_its_workers_phases(mp_context: BaseContext, tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    with mpprogress.session(console=False, journal=path) as tracker, tracker.operation("journaled") as op:
        with ProcessPoolExecutor(2, mp_context=mp_context) as pool:
            pids = set(pool.map(workers.report_phases, [op.operation_id] * 2, [1, 2], [50, 50]))
    assert load_run(path) is not None
    report = json.loads(_report(path, "json"))
    assert [(p["current"], p["total"], p["outcome"]) for p in report["phases"]] == [(50, 50, "succeeded")] * 3
    assert report["operations"][0]["title"] == "journaled"
    # Each phase names the worker process it came from (this machine's name for local workers).
    assert {p["pid"] for p in report["phases"]} == pids
    assert {p["host"] for p in report["phases"]} == {socket.gethostname()}
    assert report["run"]["closed_cleanly"] is True


@pytest.mark.processes
def test_demo_journal_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
    result = subprocess.run(
        [sys.executable, "-m", "mpprogress", "demo", "--companies", "2", "--pages", "20", "--format", "json",
         "--journal", str(path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    text = _report(path, "text")
    assert "Researching" in text and "Content Extraction" in text


def _report(path: Path, fmt: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "mpprogress", "report", str(path), "--format", fmt],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout
