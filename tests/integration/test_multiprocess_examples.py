"""The multiprocess examples run under every start method and report exact counts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.integration.conftest import START_METHODS
from tests.integration.test_examples import EXAMPLES_DIR, result_fields


def run_example(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES_DIR / script), *args],
        capture_output=True, text=True, timeout=120, check=False, cwd=EXAMPLES_DIR,
    )
    assert completed.returncode == 0, completed.stderr
    return completed


@pytest.mark.parametrize("method", START_METHODS)
def test_process_pool_example(method: str) -> None:
    completed = run_example("process_pool.py", "--workers", "3", "--urls", "15", "--delay", "0",
                            "--start-method", method, "--log")
    assert result_fields(completed.stdout) == {"phases": "3", "items": "45/45", "ok": "3"}
    assert completed.stderr.count("scraped 15 pages") == 3  # forwarded, shown above the display (stderr)


@pytest.mark.parametrize("method", START_METHODS)
def test_multiprocessing_pool_example(method: str) -> None:
    completed = run_example("multiprocessing_pool.py", "--tasks", "4", "--items", "5", "--delay", "0",
                            "--start-method", method)
    assert result_fields(completed.stdout) == {"tasks": "4", "subphases": "8", "items": "40/40", "own": "ok"}
