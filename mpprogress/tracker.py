"""The local tracker: the one place progress state lives, behind one lock.

``BaseProgressTracker`` is the threaded mode, the state holder every sink renders from, and what
the multiprocess aggregator applies remote updates to.  Rules it keeps:

- one ``RLock`` owned by the tracker and shared by its operations and phases; every mutation
  takes it, so counts are exact under any number of threads;
- events are queued under the lock and delivered to callbacks after it is released, in order
  (see ``dispatch.py``);
- ``progress_update`` events are throttled per phase by a token bucket: a burst of
  ``update_burst`` events goes out at once, then at most ``max_update_rate`` per second; the
  state itself is always exact, and the final state of a phase is always delivered before its
  ``phase_finished``.  Refilling happens on a small flusher thread (started only while some
  phase is being throttled), so ``update()`` reads no clock.

Counting without the lock: while a phase is throttled (its bucket is empty), ``update()`` only
does ``self.current += increment`` and raises a dirty flag, without the lock, because on this
machine one uncontended lock round trip costs as much as tqdm's whole ``update``.  That is exact
on CPython with the GIL: the interpreter switches threads only at calls and backward jumps, and
an in-place add of ints on an attribute contains neither (16 threads x 50,000 updates with a 1 us
switch interval stay exact; see the stress tests).  Everything else, and every update on a
free-threaded build (``GIL_ENABLED`` is false there), goes through the lock.  Emitting re-reads
the count under the lock after clearing the dirty flag, and the flusher also compares the count
with the last one emitted, so no increment is ever left unreported.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import deque
from datetime import datetime

from .dispatch import SETTLE_TIMEOUT, EventDispatcher
from .events import OPERATION_FINISHED, OPERATION_STARTED, ProgressCallback
from .phases import GIL_ENABLED, BaseProgressOperation, BaseProgressPhase, Clock, checked_count
from .port import ProgressTracker
from .snapshot import TrackerSnapshot

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
    """

    def __init__(
        self,
        *,
        get_time: Clock = time.monotonic,
        max_update_rate: float | None = 20.0,
        update_burst: int = 10,
        max_completed_operations: int = 100,
        auto_flush: bool = True,
    ) -> None:
        if max_update_rate is not None and max_update_rate < 0:
            raise ValueError(f"max_update_rate must be >= 0 or None, got {max_update_rate!r}")
        if update_burst < 1:
            raise ValueError(f"update_burst must be >= 1, got {update_burst!r}")
        if max_completed_operations < 0:
            raise ValueError(f"max_completed_operations must be >= 0, got {max_completed_operations!r}")
        self._lock = threading.RLock()
        self._get_time = get_time
        self._dispatcher = EventDispatcher()
        self._operations: dict[str, BaseProgressOperation] = {}
        self._phases: dict[str, BaseProgressPhase] = {}
        self._completed: deque[str] = deque()
        self.max_completed_operations = max_completed_operations
        self._rate = float(max_update_rate or 0.0)
        self._burst = float(update_burst) if self._rate else float("inf")
        self._throttled: set[BaseProgressPhase] = set()
        self._auto_flush = auto_flush
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()
        self._closed = False
        _track_for_fork(self)

    # --- callbacks --------------------------------------------------------------------------

    def add_callback(self, callback: ProgressCallback) -> None:
        """Subscribe ``callback(event_type=..., **data)`` to every event of this tracker."""
        self._dispatcher.add(callback)

    def remove_callback(self, callback: ProgressCallback) -> None:
        """Unsubscribe ``callback``; unknown callbacks are ignored."""
        self._dispatcher.remove(callback)

    @property
    def callbacks(self) -> tuple[ProgressCallback, ...]:
        """The subscribed callbacks."""
        return self._dispatcher.callbacks

    # --- operations -------------------------------------------------------------------------

    def start_operation(
        self, operation_id: str, title: str, description: str | None = None
    ) -> BaseProgressOperation:
        with self._lock:
            if operation_id in self._operations:
                raise ValueError(f"Operation {operation_id} already exists")
            op = BaseProgressOperation(operation_id, title, description, tracker=self)
            self._operations[operation_id] = op
            self._dispatcher.queue(
                OPERATION_STARTED,
                {"operation_id": operation_id, "title": op.title, "description": description},
            )
        self._dispatcher.drain()
        return op

    def get_operation(self, operation_id: str) -> BaseProgressOperation | None:
        with self._lock:
            return self._operations.get(operation_id)

    def get_phase(self, phase_id: str) -> BaseProgressPhase | None:
        """The phase (at any depth, in any kept operation) with this id, or ``None``."""
        with self._lock:
            return self._phases.get(phase_id)

    def finish_operation(self, operation_id: str, success: bool = True) -> None:
        with self._lock:
            op = self._operations.get(operation_id)
            if op is None or op._finished:
                return
            if success and op._cancelled:
                success = False
            now = self._get_time()
            reason = None if success else ("cancelled" if op._cancelled else "failed")
            for phase in op.phases.values():
                if isinstance(phase, BaseProgressPhase) and not phase._finished:
                    phase._finish_locked(success, reason, now)
            op._finished = True
            op._finished_time = now
            op.completed_at = datetime.now()
            op.success = success
            self._dispatcher.queue(
                OPERATION_FINISHED,
                {
                    "operation_id": operation_id,
                    "title": op.title,
                    "success": success,
                    "reason": reason,
                    "duration": now - op._started_time,
                },
            )
            self._completed.append(operation_id)
            self._prune_locked()
        self._dispatcher.drain(settle=SETTLE_TIMEOUT)

    def _prune_locked(self) -> None:
        while len(self._completed) > self.max_completed_operations:
            old = self._operations.pop(self._completed.popleft(), None)
            if old is None:
                continue
            stack = list(old.phases.values())
            while stack:
                phase = stack.pop()
                self._phases.pop(phase.phase_id, None)
                stack.extend(phase.phases.values())

    # --- reading ----------------------------------------------------------------------------

    def snapshot(self) -> TrackerSnapshot:
        """A consistent, read-only copy of every kept operation and phase."""
        with self._lock:
            now = self._get_time()
            return TrackerSnapshot(tuple(op._snapshot_locked(now) for op in self._operations.values()))

    @property
    def operations(self) -> tuple[BaseProgressOperation, ...]:
        """The kept operations, oldest first."""
        with self._lock:
            return tuple(self._operations.values())

    # --- throttling -------------------------------------------------------------------------

    def _throttle_locked(self, phase: BaseProgressPhase) -> None:
        self._throttled.add(phase)
        if self._auto_flush and self._flusher is None and not self._closed:
            self._stop.clear()
            self._flusher = threading.Thread(target=self._run_flusher, name="mpprogress-flusher", daemon=True)
            self._flusher.start()

    def flush(self) -> None:
        """Refill the throttled phases' buckets and deliver their pending state if allowed."""
        with self._lock:
            self._tick_locked()
        self._dispatcher.drain()

    def _tick_locked(self) -> None:
        now = self._get_time()
        for phase in list(self._throttled):
            phase._refill_locked(now, self._rate, self._burst)
            changed = phase._dirty or phase._emitted != (phase.current, phase.total)
            if changed and phase._tokens >= 1.0:
                phase._tokens -= 1.0
                phase._queue_progress_locked()
            elif not changed and phase._tokens >= self._burst:
                self._throttled.discard(phase)

    def _run_flusher(self) -> None:
        interval = 1.0 / self._rate
        while not self._stop.wait(interval):
            with self._lock:
                if not self._throttled or self._flusher is not threading.current_thread():
                    if self._flusher is threading.current_thread():
                        self._flusher = None
                    return
                self._tick_locked()
            self._dispatcher.drain()

    def close(self) -> None:
        """Stop the flusher and deliver every phase's pending state. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._flusher = None
            self._stop.set()
            for phase in list(self._throttled):
                if phase._dirty or phase._emitted != (phase.current, phase.total):
                    phase._queue_progress_locked()
            self._throttled.clear()
        self._dispatcher.drain(settle=SETTLE_TIMEOUT)

    def _reinit_after_fork(self) -> None:
        """In a forked child: fresh locks and no flusher (the parent's thread is not here)."""
        lock = threading.RLock()
        self._lock = lock
        for phase in self._phases.values():
            phase._lock = lock
        self._dispatcher.reinit_after_fork()
        self._flusher = None
        self._stop = threading.Event()
        for phase in self._throttled:
            phase._tokens = self._burst
        self._throttled.clear()


_trackers: weakref.WeakSet[BaseProgressTracker] = weakref.WeakSet()
_fork_hook_installed = False


def _track_for_fork(tracker: BaseProgressTracker) -> None:
    global _fork_hook_installed
    if not _fork_hook_installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_reinit_trackers_after_fork)
        _fork_hook_installed = True
    _trackers.add(tracker)


def _reinit_trackers_after_fork() -> None:
    for tracker in list(_trackers):
        tracker._reinit_after_fork()
