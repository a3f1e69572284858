"""Trackers and loops the wiring hands out: the body of ``mpprogress.track()`` and the tracker of
a worker process that no session reached.

Core layer: ``track_loop`` uses only the port, so any tracker (local, client, no-op) can take
it; which tracker that is, and whether a display of its own is needed, is the wiring's choice.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterable, Iterator
from typing import Final, TypeVar

from .._base.errors import DuplicateIdError
from .._base.port import ProgressTracker, failure_reason
from .phases import BaseProgressOperation
from .tracker import BaseProgressTracker

__all__ = ["DetachedTracker", "DetachedWorkerWarning", "track_loop"]

ADDRESS_HINT: Final = "MPPROGRESS_ADDRESS"  # named in the warning; the remote side exports it

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


class DetachedWorkerWarning(UserWarning):
    """A worker process asked for an operation no session told it about (its progress is not shown)."""


class DetachedTracker(BaseProgressTracker):
    """The tracker of a worker process that no session reached: its loops still run.

    The README's worker pattern, ``get_tracker().get_operation(operation_id)``, in a process
    started outside ``mpprogress.session()`` (or by a pool created before it) would otherwise get
    ``None`` and die on ``None.phase``.  Here the unknown operation is started on the spot, so the
    worker's phases and updates work and are counted locally (nothing is shown), and one
    ``DetachedWorkerWarning`` says what happened and how to fix it.
    """

    def get_operation(self, operation_id: str) -> BaseProgressOperation:
        op = super().get_operation(operation_id)
        if op is not None:
            return op
        warnings.warn(
            f"mpprogress: operation {operation_id!r} is unknown in worker process {os.getpid()}: no progress "
            f"session reached this process ({ADDRESS_HINT} is not set), so its progress is counted here but "
            "shown nowhere. Create the pool or processes inside `with mpprogress.session():` (a pool created "
            "before the session cannot know its address), or connect with mpprogress.connect(address).",
            DetachedWorkerWarning,
            stacklevel=2,
        )
        try:
            return self.start_operation(operation_id, f"(detached) {operation_id}")
        except DuplicateIdError:  # another thread started it in the meantime
            found = super().get_operation(operation_id)
            assert found is not None
            return found
