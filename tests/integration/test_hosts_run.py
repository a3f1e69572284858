"""``mpprogress run -- COMMAND``: a session around a command, as a batch script uses it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mpprogress.security import generate_keys
from tests.integration.netns import ROOT, clean_env

pytestmark = pytest.mark.processes

WORKER = [sys.executable, "-m", "tests.integration.relay_worker"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mpprogress", "run", "--no-display", *args],
        cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=120,
    )


def _phases(journal: Path) -> dict[str, tuple[int, str]]:
    report = subprocess.run(
        [sys.executable, "-m", "mpprogress", "report", str(journal), "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    return {p["title"]: (p["current"], p["outcome"]) for p in json.loads(report.stdout)["phases"]}


def test_the_command_s_processes_report_and_its_status_is_the_exit_status(tmp_path: Path) -> None:
    journal = tmp_path / "run.db"
    script = f"{' '.join(WORKER)} one --items 300 & {' '.join(WORKER)} two --items 300; wait; exit 3"
    done = _run("--journal", str(journal), "--", "sh", "-c", script)
    assert done.returncode == 3, done.stderr
    assert done.stdout.count("done") == 2  # the command's standard output is its own
    assert _phases(journal) == {"one-0": (300, "succeeded"), "two-0": (300, "succeeded")}


def test_over_tcp_with_curve_the_command_gets_the_keys(tmp_path: Path) -> None:
    keys = generate_keys(tmp_path / "keys", ("node",))
    journal, board = tmp_path / "run.db", tmp_path / "address"
    done = _run("--bind", "tcp://127.0.0.1:0", "--curve", str(keys), "--journal", str(journal),
                "--announce", str(board), "--", *WORKER, "keyed", "--items", "200")
    assert done.returncode == 0 and "warning" not in done.stderr, done.stderr
    assert board.read_text().startswith("tcp://127.0.0.1:")
    assert _phases(journal) == {"keyed-0": (200, "succeeded")}


def test_what_cannot_start_exits_2_and_says_why() -> None:
    assert _run("--").returncode == 2
    refused = _run("--bind", "tcp://0.0.0.0:0", "--", "true")
    assert refused.returncode == 2 and "without CURVE" in refused.stderr
    missing = _run("--", "/nonexistent/program")
    assert missing.returncode == 2 and "cannot start" in missing.stderr


def test_the_batch_job_example_runs_under_mpprogress_run() -> None:
    done = subprocess.run([sys.executable, "examples/hosts_job.py", "--workers", "3", "--items", "100"],
                          cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines()[-1] == "RESULT workers=3 phases=3 items=300/300 lost=0 status=0", done.stderr
