"""A session parent for the orphaned-worker tests: ``python -m tests.integration.orphan_parent METHOD DIR MODE``.

It runs ``mpprogress.session`` with a one-worker ``ProcessPoolExecutor`` of start method METHOD
and submits one task, then sleeps until the test SIGKILLs it.  The task opens a phase, writes
``DIR/in-phase`` (its pid), and loops: MODE ``loop`` runs a fixed number of short steps,
MODE ``until-cancelled`` runs until ``phase.cancelled`` (at most 120 s).  It writes
``DIR/loop-ended`` (the loop's end on the monotonic clock, and whether the phase was cancelled)
and ``DIR/phase-exited`` (the moment the phase's ``with`` block returned), then ends its process.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import mpprogress

__all__ = ["task"]


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def task(operation_id: str, directory: str, mode: str) -> None:
    """The worker's task (see the module docstring)."""
    out = Path(directory)
    op = mpprogress.get_tracker().get_operation(operation_id)
    with op.phase("orphan", total=100) as phase:
        _write(out / "in-phase", str(os.getpid()))
        deadline = time.monotonic() + (120.0 if mode == "until-cancelled" else 4.0)
        while time.monotonic() < deadline and not (mode == "until-cancelled" and phase.cancelled):
            phase.update(0)
            time.sleep(0.05)
        _write(out / "loop-ended", f"{time.monotonic()} {phase.cancelled}")
    _write(out / "phase-exited", str(time.monotonic()))
    os._exit(0)  # the pool worker would otherwise wait for a next task from a dead parent


def main(method: str, directory: str, mode: str) -> None:
    """Run the session and the task, and wait to be killed."""
    with mpprogress.session(console=False) as tracker, tracker.operation("orphans") as op:
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method))
        pool.submit(task, op.operation_id, directory, mode)
        time.sleep(600)


if __name__ == "__main__":
    main(*sys.argv[1:])
