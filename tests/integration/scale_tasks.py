"""Short tasks for the scale tests, in a module that imports little: a spawned worker imports
it (with pytest, each of 500 spawned processes would take 0.1 s longer to start)."""

from __future__ import annotations

import mpprogress

__all__ = ["ITEMS", "short_task"]

ITEMS = 100


def short_task(operation_id: str, task: int) -> int:
    """One phase of ``ITEMS`` updates under the parent's operation ``operation_id``."""
    op = mpprogress.get_tracker().get_operation(operation_id)
    with op.phase(f"task {task}", total=ITEMS) as phase:
        for _ in range(ITEMS):
            phase.update(1)
    return task
