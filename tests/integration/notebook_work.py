"""Worker functions the notebook tests' kernels import (a notebook's own functions cannot be
pickled for ``spawn``/``forkserver`` workers)."""

from __future__ import annotations

import logging
import pathlib
import time

import mpprogress


def count(op_id: int, n: int, total: int = 250) -> int:
    """Count ``total`` items in one phase of the parent's operation, then log one record."""
    op = mpprogress.get_tracker().get_operation(op_id)
    with op.phase(f"task {n}", total=total) as phase:
        for _ in range(total):
            phase.update(1)
        logging.getLogger("notebook.worker").warning("worker %d done", n)
    return n


def slow(op_id: int, n: int, marker: str) -> int:
    """Count slowly for up to a minute; touch ``marker``-``n`` once past 20 items."""
    op = mpprogress.get_tracker().get_operation(op_id)
    with op.phase(f"slow {n}", total=6000) as phase:
        for i in range(6000):
            phase.update(1)
            if i == 20:
                pathlib.Path(f"{marker}-{n}").touch()
            time.sleep(0.01)
    return n
