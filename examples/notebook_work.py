"""The worker function of ``notebook_pool.ipynb``: a notebook's own functions cannot be pickled
for ``spawn``/``forkserver`` workers, so they live in a module next to it."""

from __future__ import annotations

import logging

import mpprogress

__all__ = ["count"]


def count(op_id: str, n: int, total: int = 250) -> int:
    """Count ``total`` items in one phase of the parent's operation, then log one record."""
    op = mpprogress.get_tracker().get_operation(op_id)
    with op.phase(f"task {n}", total=total) as phase:
        for _ in range(total):
            phase.update(1)
        logging.getLogger("notebook.worker").warning("worker %d done", n)
    return n
