"""Where worker and application code get their tracker, and the module-level ``track()``."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Iterator
from typing import TypeVar

from .port import ProgressTracker, failure_reason

__all__ = ["get_tracker", "set_tracker", "track"]

T = TypeVar("T")

_current: ProgressTracker | None = None
_current_lock = threading.Lock()


def set_tracker(tracker: ProgressTracker | None) -> None:
    """Make ``tracker`` the one ``get_tracker()`` returns in this process (``None`` resets)."""
    global _current
    with _current_lock:
        _current = tracker


def get_tracker() -> ProgressTracker:
    """The tracker this process should report to.

    The tracker set by ``set_tracker`` (a session sets itself); with none, a process-wide
    ``BaseProgressTracker`` created on first use, which holds state and emits events but shows
    nothing until a sink is added.
    """
    global _current
    with _current_lock:
        if _current is None:
            from .tracker import BaseProgressTracker

            _current = BaseProgressTracker()
        return _current


def track(
    iterable: Iterable[T],
    description: str = "Working...",
    total: int | None = None,
    *,
    tracker: ProgressTracker | None = None,
) -> Iterator[T]:
    """Yield the items of ``iterable`` while reporting them as one phase, like ``rich.progress.track``.

    The phase runs in its own operation titled ``description``.  Leaving the loop early
    finishes it successfully: a generator cannot tell ``break`` from an exception raised in the
    loop body, so when failures must show, use ``with op.phase(...) as phase`` and
    ``phase.track(iterable)`` instead, whose block sees the exception.

    Args:
        iterable: the items to walk through.
        description: the title shown for the operation and its phase.
        total: the number of items; taken from ``len(iterable)`` when omitted and possible.
        tracker: the tracker to report to; ``get_tracker()`` by default.

    Yields:
        The items of ``iterable``.
    """
    tracker = tracker or get_tracker()
    operation_id = str(uuid.uuid4())
    op = tracker.start_operation(operation_id, description)
    phase_id = str(uuid.uuid4())
    phase = op.start_phase(phase_id, description, total)
    success, reason = True, None
    try:
        yield from phase.track(iterable)
    except GeneratorExit:
        pass  # the caller stopped iterating (break, or an exception in its loop body)
    except BaseException as exc:  # raised by the iterable itself
        success, reason = False, failure_reason(exc)
        raise
    finally:
        op.finish_phase(phase_id, success, reason=reason)
        tracker.finish_operation(operation_id, success)


