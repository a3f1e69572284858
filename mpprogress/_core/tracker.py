"""The local tracker: the one place progress state lives, behind one lock.

``BaseProgressTracker`` is the threaded mode, the state holder every sink renders from, and what
the multiprocess aggregator applies remote updates to.  Rules it keeps:

- one ``RLock`` owned by the tracker and shared by its operations and phases; every mutation
  takes it, so counts are exact under any number of threads;
- events are queued under the lock and delivered to callbacks after it is released, in order
  (see ``dispatch.py``);
- ``progress_update`` events are throttled per phase by a token bucket (``throttle.py``): a
  burst of ``update_burst`` events goes out at once, then at most ``max_update_rate`` per
  second; the state itself is always exact, and the final state of a phase is always delivered
  before its ``phase_finished``.  Refilling happens on a small flusher thread (started only
  while some phase is being throttled), so ``update()`` reads no clock;
- ``snapshot()`` only reads: speed figures come from ``metrics.RateMeter``, which only a
  reported count (a ``progress_update``) changes, so they do not depend on how often a display
  takes snapshots;
- operations and phases reach the lock, clock, dispatcher, throttle and phase registry through
  one core handle (``core.py``), not through the tracker; the tracker touches no phase's
  internals.

Counting without the lock: while a phase is throttled (its bucket is empty), ``update()`` only
does ``self.current += increment`` and raises a dirty flag, without the lock, because on this
machine one uncontended lock round trip costs as much as tqdm's whole ``update``.  That is exact
on CPython with the GIL: the interpreter switches threads only at calls and backward jumps, and
an in-place add of ints on an attribute contains neither (16 threads x 50,000 updates with a 1 us
switch interval stay exact; see the stress tests).  Everything else, and every update on a
free-threaded build (``GIL_ENABLED`` is false there), goes through the lock.  Emitting re-reads
the count under the lock after clearing the dirty flag, and the flusher also compares the count
with the last one emitted, so no increment is ever left unreported.  A finished phase's bucket is
made infinite, so its updates always take the locked path, which refuses them.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from .._base.errors import DuplicateIdError, checked_count
from .._base.events import OperationStarted, ProgressCallback, Worker
from .._base.port import ProgressTracker
from .._base.resume import Journal
from .._base.snapshot import OperationSnapshot, TrackerSnapshot
from .capture import operation_snapshot
from .dispatch import SETTLE_TIMEOUT
from .exits import watch
from .phases import BaseProgressOperation, BaseProgressPhase, sub_phases
from .shared import GIL_ENABLED, Clock, TrackerCore
from .tree import preorder

__all__ = ["GIL_ENABLED", "BaseProgressOperation", "BaseProgressPhase", "BaseProgressTracker", "checked_count"]


class BaseProgressTracker(ProgressTracker):
    """The locked, in-process tracker (threaded mode).

    Args:
        get_time: monotonic clock in seconds; inject a fake one in tests.
        max_update_rate: most ``progress_update`` events per second per phase after the
            burst; ``None`` or 0 delivers every update.
        update_burst: events a phase may send back to back before throttling starts.
        max_completed_operations: finished operations kept; older ones are pruned.
        auto_flush: run the flusher thread that delivers throttled state; turn off in tests
            that drive ``flush()`` themselves with a fake clock.
        max_phase_depth: most levels of nested phases (a top-level phase is level 1); starting
            a phase deeper raises ``PhaseDepthError``.  ``None`` for no limit: every walk over
            the phases is iterative, so depth only costs memory, but a sink that recurses over
            a snapshot's nested ``phases`` would not cope with thousands of levels.
        max_finished_phases: the newest finished phases (at any depth) each operation keeps,
            running or not; older ones are let go, and their outcomes and counts are kept as
            exact tallies (``retention.py``), so a long run stays small and its snapshots cheap.
            ``None`` keeps every phase until the operation is pruned.
        journal: a journal (``JournalSink``) to record the run in: it is subscribed like any
            callback (and not closed by the tracker), item keys done are recorded there, and
            when it was opened with ``resume=True`` phases resume where its earlier run left
            them (``resume.py``).
    """

    def __init__(
        self,
        *,
        get_time: Clock = time.monotonic,
        max_update_rate: float | None = 20.0,
        update_burst: int = 10,
        max_completed_operations: int = 100,
        auto_flush: bool = True,
        max_phase_depth: int | None = 1_000,
        max_finished_phases: int | None = 50,
        journal: Journal | None = None,
    ) -> None:
        if max_update_rate is not None and max_update_rate < 0:
            raise ValueError(f"max_update_rate must be >= 0 or None, got {max_update_rate!r}")
        if update_burst < 1:
            raise ValueError(f"update_burst must be >= 1, got {update_burst!r}")
        if max_completed_operations < 0:
            raise ValueError(f"max_completed_operations must be >= 0, got {max_completed_operations!r}")
        if max_phase_depth is not None and max_phase_depth < 1:
            raise ValueError(f"max_phase_depth must be >= 1 or None, got {max_phase_depth!r}")
        if max_finished_phases is not None and max_finished_phases < 0:
            raise ValueError(f"max_finished_phases must be >= 0 or None, got {max_finished_phases!r}")
        self._core: TrackerCore[BaseProgressPhase] = TrackerCore(
            get_time=get_time,
            max_update_rate=max_update_rate,
            update_burst=update_burst,
            auto_flush=auto_flush,
            max_phase_depth=max_phase_depth,
            max_finished_phases=max_finished_phases,
        )
        self._operations: dict[str, BaseProgressOperation] = {}
        self._completed: deque[str] = deque()
        self._views: dict[str, OperationSnapshot] = {}  # of finished operations: they never change
        self.max_completed_operations = max_completed_operations
        self._closed = False
        if journal is not None:
            self.set_journal(journal)

    @property
    def _lock(self) -> threading.RLock:
        """The tracker's one lock, shared by its operations and phases (a new one after fork)."""
        return self._core.lock

    @property
    def max_phase_depth(self) -> int | None:
        """Most levels of nested phases this tracker accepts (``None``: no limit)."""
        return self._core.max_phase_depth

    @property
    def max_finished_phases(self) -> int | None:
        """The newest finished phases each operation keeps (``None``: all of them)."""
        return self._core.max_finished_phases

    # --- callbacks --------------------------------------------------------------------------

    def add_callback(self, callback: ProgressCallback) -> None:
        """Subscribe ``callback(event_type=..., **data)`` to every event of this tracker.

        An ``EventSink`` receives the typed events through its ``handle`` instead.  From now
        on, work still open when the program exits is finished honestly (``exits.py``).
        """
        self._core.dispatcher.add(callback)
        watch(self)

    def remove_callback(self, callback: ProgressCallback) -> None:
        """Unsubscribe ``callback``; unknown callbacks are ignored."""
        self._core.dispatcher.remove(callback)

    @property
    def callbacks(self) -> tuple[ProgressCallback, ...]:
        """The subscribed callbacks."""
        return self._core.dispatcher.callbacks

    def set_journal(self, journal: Journal) -> None:
        """Record this run in ``journal`` and resume from it, as the ``journal`` argument does.

        Call it before starting operations: only operations started afterwards resume.
        """
        with self._core.lock:
            self._core.resume = journal
        self.add_callback(journal)

    @property
    def resuming(self) -> bool:
        """Whether this tracker resumes an earlier run (its journal was opened with ``resume=True``)."""
        source = self._core.resume
        return source is not None and source.resuming

    # --- operations -------------------------------------------------------------------------

    def start_operation(
        self, operation_id: str, title: str, description: str | None = None, *, worker: Worker | None = None
    ) -> BaseProgressOperation:
        """Start an operation; ``worker`` names the process it came from (the aggregator sets it)."""
        core = self._core
        with core.lock:
            if operation_id in self._operations:
                raise DuplicateIdError(f"Operation {operation_id} already exists")
            op = BaseProgressOperation(operation_id, title, description, core=core)
            self._operations[operation_id] = op
            core.dispatcher.queue(OperationStarted(operation_id, op.title, description, worker))
        core.dispatcher.drain()
        return op

    def get_operation(self, operation_id: str) -> BaseProgressOperation | None:
        with self._core.lock:
            return self._operations.get(operation_id)

    def get_phase(self, phase_id: str) -> BaseProgressPhase | None:
        """The phase (at any depth, in any kept operation) with this id, or ``None``."""
        with self._core.lock:
            return self._core.phases.get(phase_id)

    def finish_operation(self, operation_id: str, success: bool = True, *, reason: str | None = None) -> None:
        self._finish_operation(operation_id, success, reason)

    def _finish_operation(self, operation_id: str, success: bool, reason: str | None) -> None:
        core = self._core
        with core.lock:
            op = self._operations.get(operation_id)
            if op is None or not op._finish_locked(success, reason):
                return
            self._completed.append(operation_id)
            self._prune_locked()
        core.dispatcher.drain(settle=SETTLE_TIMEOUT)

    def _prune_locked(self) -> None:
        while len(self._completed) > self.max_completed_operations:
            old = self._operations.pop(self._completed.popleft(), None)
            if old is None:
                continue
            self._views.pop(old.operation_id, None)
            registry = self._core.phases
            for phase in preorder(sub_phases(old), sub_phases):
                if registry.get(phase.phase_id) is phase:  # its id may have been reused since
                    del registry[phase.phase_id]

    def finish_open_work(self, reason: str, *, failed: bool) -> None:
        """Finish every open operation and phase: the program is exiting with them open.

        Nothing happens once the tracker is closed.  When ``failed``, every open phase and
        operation fails with ``reason``.  Otherwise an open phase that reached its total
        finishes successfully (its work was done; the simple form never finishes its last
        phase), any other fails with ``reason``, and an operation fails with ``reason`` if one
        of its phases did so here, else it finishes as its phases say (the simple form's
        implicit operation, never finished by design, completes).

        Args:
            reason: why the work ends (``"interrupted"``, ``"uncaught ValueError"``).
            failed: whether the program failed (an uncaught exception): nothing succeeds then.
        """
        if self._closed:
            return
        for op in self.operations:
            if op.finished:
                continue
            cut_short = failed
            for container, phase in _open_innermost_first(op):
                current, total = phase.rollup()
                done = not failed and total is not None and current >= total
                cut_short = cut_short or not done
                container.finish_phase(phase.phase_id, success=done, reason=None if done else reason)
            self._finish_operation(op.operation_id, not cut_short, reason if cut_short else None)

    # --- reading ----------------------------------------------------------------------------

    def snapshot(self) -> TrackerSnapshot:
        """A consistent copy of every kept operation and phase; reading changes nothing.

        Its cost follows what is kept (running phases and the newest finished ones), not the
        history: a finished operation never changes, so its view is built once.
        """
        with self._core.lock:
            now = self._core.get_time()
            return TrackerSnapshot(tuple(self._view_locked(op, now) for op in self._operations.values()))

    def _view_locked(self, op: BaseProgressOperation, now: float) -> OperationSnapshot:
        view = self._views.get(op.operation_id)
        if view is None:
            view = operation_snapshot(op, now)
            if op.finished:
                self._views[op.operation_id] = view
        return view

    @property
    def operations(self) -> tuple[BaseProgressOperation, ...]:
        """The kept operations, oldest first."""
        with self._core.lock:
            return tuple(self._operations.values())

    # --- throttling -------------------------------------------------------------------------

    def flush(self) -> None:
        """Refill the throttled phases' buckets and deliver their pending state if allowed."""
        self._core.throttle.flush()

    def close(self) -> None:
        """Stop the flusher and deliver every phase's pending state. Idempotent."""
        core = self._core
        with core.lock:
            if self._closed:
                return
            self._closed = True
            core.throttle.close_locked()
        core.dispatcher.drain(settle=SETTLE_TIMEOUT)


def _open_innermost_first(
    op: BaseProgressOperation,
) -> list[tuple[BaseProgressOperation | BaseProgressPhase, BaseProgressPhase]]:
    """The open phases of ``op`` at any depth with their containers, each after its sub-phases."""
    order: list[tuple[BaseProgressOperation | BaseProgressPhase, BaseProgressPhase]] = []
    stack: list[BaseProgressOperation | BaseProgressPhase] = [op]
    while stack:  # a loop, not a recursion: phases nest to any depth
        container = stack.pop()
        for phase in sub_phases(container):
            if not phase.finished:
                order.append((container, phase))
                stack.append(phase)
    return order[::-1]
