"""Worker processes for the dashboard's browser tests (importable: they run under spawn too)."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import mpprogress

__all__ = ["HOSTILE", "cancellable", "hang", "steady"]

HOSTILE = '<img src=x onerror="window.__xss=1;alert(1)">'


def steady(operation_id: str | None, hold: Any, phases: int = 2, items: int = 150, pause: float = 0.01) -> None:
    """Count ``phases`` phases of ``items`` items (``pause`` between two), then wait for ``hold``.

    Without an ``operation_id`` the worker opens an operation of its own, with a hostile title
    and hostile messages (markup, ANSI escapes) that the page must show as text.
    """
    tracker = mpprogress.get_tracker()
    logging.getLogger("crawler").warning("worker %d started <b>bold</b>", os.getpid())
    own = operation_id is None
    op = tracker.start_operation(f"own-{os.getpid()}", HOSTILE) if own else tracker.get_operation(operation_id)
    for k in range(phases):
        title = f"{HOSTILE} {k}" if own else f"phase {k} of {os.getpid()}"
        with op.phase(title, total=items) as phase:
            for i in range(items):
                phase.update(1, message=f"\x1b[31mred\x1b[0m {HOSTILE} {i}" if own else f"item {i}")
                time.sleep(pause)
    hold.wait(120)
    if own:
        tracker.finish_operation(op.operation_id)


def hang(operation_id: str) -> None:
    """Start a phase, count a few items, and hang until killed."""
    phase = mpprogress.get_tracker().get_operation(operation_id).start_phase(f"hang-{os.getpid()}", "hang", total=100)
    phase.update(5)
    time.sleep(120)


def cancellable(operation_id: str) -> None:
    """Work until the operation is cancelled; exit 0 when the cancellation arrived, 3 if not."""
    op = mpprogress.get_tracker().get_operation(operation_id)
    try:
        with op.phase(f"until cancelled {os.getpid()}", total=None) as phase:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                phase.raise_if_cancelled()
                phase.update(1)
                time.sleep(0.01)
    except mpprogress.ProgressCancelled:
        raise SystemExit(0) from None
    raise SystemExit(3)
