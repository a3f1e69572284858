"""Every example in ``examples/`` runs to completion with small sizes and reports exact counts.

Each example prints a last line ``RESULT key=value ...``; adding an example to this test is one
``Example(...)`` line in ``EXAMPLES``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


class Example(NamedTuple):
    """An example script, the arguments that keep it small, and the RESULT fields it must print."""

    script: str
    args: str
    result: str


EXAMPLES = [
    Example("threads.py", "--threads 4 --items 30 --delay 0", "shared=120/120 phases=4 items=120/120"),
    Example("asyncio_gather.py", "--pages 30 --fail-every 7", "pages=30 extracted=26 failed=4 parsed=26 words=278"),
    Example("nested_phases.py", "--modules 6 --suites 2 --tests 5 --delay 0", "release=19/19 subphases=5 deepest=2"),
    Example("cancellation.py", "--items 9 --stuck-after 4", "download=cancelled:4/9 convert=cancelled:3/9 op=failed"),
    Example("relay_workers.py", "--workers 3 --items 40", "workers=3 phases=6 items=240/240 relay=stopped"),
    Example("opentelemetry_spans.py", "--workers 4 --items 25", "spans=6 phases=4 items=100/100 parent=job"),
]


def result_fields(output: str) -> dict[str, str]:
    """The ``key=value`` fields of the last ``RESULT`` line of an example's output."""
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no RESULT line in:\n{output}"
    return dict(field.split("=", 1) for field in lines[-1].split()[1:])


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.script for example in EXAMPLES])
def test_example_runs_and_reports_exact_counts(example: Example) -> None:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES_DIR / example.script), *example.args.split()],
        capture_output=True, text=True, timeout=120, check=False, cwd=EXAMPLES_DIR,
    )
    assert completed.returncode == 0, completed.stderr
    assert result_fields(completed.stdout) == result_fields(f"RESULT {example.result}")
