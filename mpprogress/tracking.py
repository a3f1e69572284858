"""One loop reported as one phase of its own operation: the body of ``mpprogress.track()``.

Core layer: it uses only the port, so any tracker (local, client, no-op) can take it; which
tracker that is, and whether a display of its own is needed, is the wiring's choice.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import TypeVar

from .port import ProgressTracker, failure_reason

__all__ = ["track_loop"]

T = TypeVar("T")


def track_loop(tracker: ProgressTracker, iterable: Iterable[T], description: str, total: int | None) -> Iterator[T]:
    """Yield the items of ``iterable`` while counting them in a new operation's one phase.

    Leaving the loop early (``break``, or an exception in the caller's loop body, which a
    generator cannot tell apart) finishes the phase successfully; an exception raised by the
    iterable itself fails it, with the reason ``failure_reason`` gives.

    Args:
        tracker: where the operation is started.
        iterable: the items.
        description: the operation's and the phase's title.
        total: the number of items, if known.
    """
    operation_id = str(uuid.uuid4())
    op = tracker.start_operation(operation_id, description)
    phase_id = str(uuid.uuid4())
    phase = op.start_phase(phase_id, description, total)
    success, reason = True, None
    try:
        yield from phase.track(iterable)
    except GeneratorExit:
        pass  # the caller stopped iterating
    except BaseException as exc:  # raised by the iterable itself
        success, reason = False, failure_reason(exc)
        raise
    finally:
        op.finish_phase(phase_id, success, reason=reason)
        tracker.finish_operation(operation_id, success)
