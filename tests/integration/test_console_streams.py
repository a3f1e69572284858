"""The display draws on standard error: a script's standard output carries only its data.

``script.py > out.csv`` and ``script.py | jq`` must get exactly what the script printed, with
worker processes reporting to a session, whether standard error is a pipe (plain lines) or a
terminal (the live display).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import START_METHODS
from .terminal import run_on_terminal

ROOT = Path(__file__).resolve().parents[2]
ROWS = "n,square\n" + "".join(f"{n},{n * n}\n" for n in range(6)) + "done\n"
TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d ")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
    env.update(PYTHONPATH=str(ROOT), **extra)
    return env


@pytest.mark.processes
@pytest.mark.parametrize("start_method", START_METHODS)
def test_piped_csv_holds_exactly_the_rows_and_stderr_the_display(start_method: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.integration.csv_rows", start_method],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ROWS
    lines = done.stderr.splitlines()
    plain = [line for line in lines if TIMESTAMP.match(line)]
    assert plain[0].endswith(" ▶ Computing squares: started")
    for n in range(6):
        assert any(line.endswith(f" ✔ Computing squares › row {n}: succeeded 4/4 in") or  # noqa: RUF001
                   f" ✔ Computing squares › row {n}: succeeded 4/4 in " in line for line in plain)  # noqa: RUF001
    assert any(" ✔ Computing squares: succeeded after " in line for line in plain)
    assert "Operation Succeeded" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.processes
def test_live_display_on_a_terminal_leaves_redirected_stdout_to_the_data() -> None:
    """Standard error is a terminal (the live display), standard output a pipe (``> out.csv``)."""
    status, out, drawn, text = run_on_terminal([sys.executable, "-m", "tests.integration.csv_rows", "fork"], _env())
    assert status == 0, text
    assert out == ROWS  # no row was routed into the display on the terminal
    assert "\x1b[?25l" in drawn  # the live display ran there (cursor hidden, then shown)
    assert "✔ Succeeded Computing squares" in text
    assert "n,square" not in text and "0,0" not in text and "5,25" not in text
