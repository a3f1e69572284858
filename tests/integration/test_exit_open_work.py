"""A program that exits with work open: each exit finishes it honestly, with no traceback of ours.

Piped (plain lines on stderr), the exact lines are checked, their timestamps, durations and
rates made neutral; the exit status stays the program's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .terminal import run_on_terminal

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "integration" / "exit_open.py"

STARTED = [
    "▶ Import: started",
    "▸ Import › Reading: started (total 2)",  # noqa: RUF001
    "▸ Import › Parsing: started (total 10)",  # noqa: RUF001
    "▸ Import › Parsing › Rows: started (total 5)",  # noqa: RUF001
]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _run(how: str) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, str(SCRIPT), how], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, done.stdout, done.stderr


def _neutral(stderr: str) -> list[str]:
    """The lines without their timestamps, durations and rates (they vary from run to run; a phase
    that ended within 0.1 s has no measured rate, one that took longer has one)."""
    lines = [re.sub(r"^\d\d:\d\d:\d\d ", "", line) for line in stderr.splitlines()]
    lines = [re.sub(r"<?\d+\.\d+s\b", "Ts", line) for line in lines]
    return [re.sub(r" \([\d.]+[kMG]?/s\)", "", line) for line in lines]


@pytest.mark.processes
def test_an_uncaught_exception_fails_what_is_open_with_its_type() -> None:
    status, out, err = _run("raise")
    assert (status, out) == (1, "")
    assert _neutral(err) == [
        *STARTED,
        "Traceback (most recent call last):",  # the program's own, printed by Python; none of ours
        f'  File "{SCRIPT}", line 45, in <module>',
        '    raise ValueError("boom")',
        "ValueError: boom",
        "✘ Import › Parsing › Rows: failed (uncaught ValueError) at 1/5 after Ts",  # noqa: RUF001
        "✘ Import › Parsing: failed (uncaught ValueError) at 4/10 after Ts",  # noqa: RUF001
        "✘ Import › Reading: failed (uncaught ValueError) at 2/2 after Ts",  # noqa: RUF001
        "✘ Import: failed after Ts — 0 of 3 phases succeeded (3 failed)",
    ]


@pytest.mark.processes
@pytest.mark.parametrize(("how", "exit_status"), [("exit", 3), ("end", 0)])
def test_sys_exit_or_the_end_of_the_script_interrupts_what_is_open(how: str, exit_status: int) -> None:
    status, out, err = _run(how)
    assert (status, out) == (exit_status, "")
    assert _neutral(err) == [
        *STARTED,
        "⊗ Import › Parsing › Rows: interrupted at 1/5 after Ts",  # noqa: RUF001
        "⊗ Import › Parsing: interrupted at 4/10 after Ts",  # noqa: RUF001
        "✔ Import › Reading: succeeded 2/2 in Ts",  # noqa: RUF001  at its total: its work was done
        "⊗ Import: interrupted after Ts — 1 of 3 phases succeeded (2 interrupted)",
    ]


@pytest.mark.processes
def test_a_thread_still_working_at_the_end_of_the_script_finishes_its_work() -> None:
    status, out, err = _run("thread")
    assert (status, out) == (0, "")
    lines = _neutral(err)
    assert lines[: len(STARTED)] == STARTED
    assert lines[-1] == "✔ Import: succeeded after Ts"
    assert not any("interrupted" in line for line in lines)


@pytest.mark.processes
def test_a_forked_child_exiting_leaves_the_parents_work_alone() -> None:
    status, out, err = _run("fork")
    assert status == 0
    assert out.splitlines() == [  # the parent's finishes alone, none from the child's exit
        "phase_finished None", "phase_finished None", "phase_finished None", "operation_finished None"]
    lines = _neutral(err)
    assert lines[-1] == "✔ Import: succeeded after Ts"
    assert not any("interrupted" in line for line in lines)


@pytest.mark.processes
def test_a_tqdm_bar_left_open_by_system_exit_ends_interrupted_without_a_traceback() -> None:
    """Issue 24's reproduction: ``bar = tqdm(total=3); bar.update(1); raise SystemExit(3)``, piped."""
    status, out, err = _run("tqdm")
    assert (status, out) == (3, "")
    assert "Traceback" not in err and "progress callback" not in err and "Error" not in err
    lines = _neutral(err)
    assert any(line.endswith(": interrupted at 1/3 after Ts") and line.startswith("⊗ ") for line in lines)
    assert not any(line.startswith("✔ ") for line in lines)


@pytest.mark.processes
def test_on_a_terminal_the_live_display_shows_the_open_work_interrupted_before_it_closes() -> None:
    status, out, _, text = run_on_terminal([sys.executable, str(SCRIPT), "exit"], _env())
    assert (status, out) == (3, "")
    last = text[text.rindex("● Import"):].splitlines()  # the rows the display leaves on the screen
    assert [line.split()[:2] for line in last[1:4]] == [["✔", "Reading"], ["⊗", "Parsing"], ["⊗", "Rows"]]
    assert "interrupted" not in last[1] and all("interrupted" in line for line in last[2:4])
    assert "stopped" not in text and "Traceback" not in text
