"""Local operations and phases: the state a ``BaseProgressTracker`` holds.

They share the tracker's lock and queue their events on its dispatcher; ``tracker.py`` explains
the locking, throttling and lock-free counting rules these classes follow.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .dispatch import SETTLE_TIMEOUT
from .events import CANCEL_REQUESTED, PHASE_FINISHED, PHASE_STARTED, PROGRESS_UPDATE
from .metrics import RateMeter
from .port import (
    PhaseFinishedError,
    ProgressError,
    ProgressOperation,
    ProgressPhase,
    validate_total,
)
from .snapshot import OperationSnapshot, PhaseSnapshot

if TYPE_CHECKING:
    from .tracker import BaseProgressTracker

__all__ = ["GIL_ENABLED", "BaseProgressOperation", "BaseProgressPhase", "Clock", "checked_count"]

Clock = Callable[[], float]

GIL_ENABLED: bool = getattr(sys, "_is_gil_enabled", lambda: True)()


def checked_count(value: object, name: str) -> int | float:
    """Validate an increment or an absolute count: a finite, non-negative number.

    Raises:
        TypeError: ``value`` is not an int or float (booleans are refused).
        ValueError: ``value`` is negative, NaN or infinite.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be an int or float, not {type(value).__name__}")
    if not (0 <= value < float("inf")):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


class _LocalContainer:
    """Starting and finishing phases, shared by local operations and local phases."""

    _tracker: BaseProgressTracker
    _finished: bool
    phases: dict[str, ProgressPhase]
    current_phase: str | None

    operation_id: str
    _cancelled: bool

    def start_phase(
        self,
        phase_id: str,
        title: str,
        total: int | None = None,
        description: str | None = None,
    ) -> BaseProgressPhase:
        tracker = self._tracker
        with tracker._lock:
            if self._finished:
                raise ProgressError(f"cannot start phase {title!r}: {self!r} has finished")
            if phase_id in tracker._phases:
                raise ValueError(f"Phase {phase_id} already exists")
            phase = BaseProgressPhase(phase_id, title, total, description, container=self)  # type: ignore[arg-type]
            self.phases[phase_id] = phase
            self.current_phase = phase_id
            tracker._phases[phase_id] = phase
            tracker._dispatcher.queue(PHASE_STARTED, phase._identity(total=phase.total))
        tracker._dispatcher.drain()
        return phase

    def cancel(self) -> None:
        tracker = self._tracker
        with tracker._lock:
            if self._finished or self._cancelled:
                return
            self._cancelled = True
            phase_id = self.phase_id  # type: ignore[attr-defined]  # None on operations
            tracker._dispatcher.queue(CANCEL_REQUESTED, {"operation_id": self.operation_id, "phase_id": phase_id})
        tracker._dispatcher.drain()

    def finish_phase(self, phase_id: str, success: bool = True, *, reason: str | None = None) -> None:
        tracker = self._tracker
        with tracker._lock:
            phase = self.phases.get(phase_id)
            if not isinstance(phase, BaseProgressPhase) or phase._finished:
                return
            phase._finish_locked(success, reason, tracker._get_time())
        tracker._dispatcher.drain(settle=SETTLE_TIMEOUT)


class BaseProgressPhase(_LocalContainer, ProgressPhase):
    """A phase held by a local tracker; all of its methods are safe from any thread."""

    def __init__(
        self,
        phase_id: str,
        title: str,
        total: int | None,
        description: str | None,
        *,
        container: BaseProgressOperation | BaseProgressPhase,
    ) -> None:
        super().__init__(phase_id, str(title), total, description)
        tracker = container._tracker
        self._tracker = tracker
        self._lock = tracker._lock
        self._drain = tracker._dispatcher.drain
        self._container = container
        self.operation_id = container.operation_id
        self.parent_phase_id = container.phase_id if isinstance(container, BaseProgressPhase) else None
        self.depth: int = container.depth + 1 if isinstance(container, BaseProgressPhase) else 0
        self.reason: str | None = None
        self._finished = False
        self._cancelled = False
        self._dirty = False
        self._emitted: tuple[int | float, int | None] = (0, self.total)
        self._metadata: dict[str, Any] = {}
        self._tokens: float = tracker._burst
        self._refilled_at = 0.0
        now = tracker._get_time()
        self._started_time = now
        self._finished_time: float | None = None
        self._meter = RateMeter(now)

    def __repr__(self) -> str:
        return f"<phase {self.title!r} {self.current}/{self.total}>"

    # --- the hot path -----------------------------------------------------------------------

    def update(self, increment: int | float = 1, message: str | None = None, **metadata: Any) -> None:
        if increment.__class__ is not int or increment < 0:  # type: ignore[operator]
            increment = checked_count(increment, "increment")
        if self._finished:
            raise PhaseFinishedError(f"phase {self.title!r} has finished; it cannot be updated")
        if self._tokens >= 1.0 or metadata:
            self._update_locked(increment, message, metadata)
            return
        # Throttled: only count.  See "Counting without the lock" in the module docstring.
        self.current += increment
        if message is not None:
            self.last_message = message
        self._dirty = True

    if not GIL_ENABLED:  # free-threaded CPython: ``+=`` on an attribute is not atomic there

        def update(self, increment: int | float = 1, message: str | None = None, **metadata: Any) -> None:
            if increment.__class__ is not int or increment < 0:  # type: ignore[operator]
                increment = checked_count(increment, "increment")
            self._update_locked(increment, message, metadata)

    def _update_locked(self, increment: int | float, message: str | None, metadata: dict[str, Any]) -> None:
        with self._lock:
            if self._finished:
                raise PhaseFinishedError(f"phase {self.title!r} has finished; it cannot be updated")
            self.current += increment
            if message is not None or metadata:
                self._note(message, metadata)
            queued = self._report_locked()
        if queued:
            self._drain()

    def set_progress(self, current: int | float, message: str | None = None, **metadata: Any) -> None:
        current = checked_count(current, "current")
        with self._lock:
            if self._finished:
                raise PhaseFinishedError(f"phase {self.title!r} has finished; it cannot be updated")
            self.current = current
            if message is not None or metadata:
                self._note(message, metadata)
            queued = self._report_locked()
        if queued:
            self._drain()

    def set_total(self, total: int | None) -> None:
        total = validate_total(total)
        with self._lock:
            if self._finished:
                raise PhaseFinishedError(f"phase {self.title!r} has finished; it cannot be updated")
            self.total = total
            queued = self._report_locked()
        if queued:
            self._drain()

    def apply_state(
        self, current: int | float, total: int | None, message: str | None, metadata: dict[str, Any]
    ) -> None:
        """Take an absolute state that was validated elsewhere (a remote worker's), at once.

        One lock round trip and at most one ``progress_update`` (none when nothing changed):
        what the aggregator calls for each phase state a worker sends.  ``message`` ``None``
        keeps the last message.
        """
        with self._lock:
            if self._finished:
                raise PhaseFinishedError(f"phase {self.title!r} has finished; it cannot be updated")
            if (
                current == self.current
                and total == self.total
                and (message is None or message == self.last_message)
                and not metadata
            ):
                return
            self.total = total
            self.current = current
            if message is not None or metadata:
                self._note(message, metadata)
            queued = self._report_locked()
        if queued:
            self._drain()

    def _note(self, message: str | None, metadata: dict[str, Any]) -> None:
        if message is not None:
            self.last_message = str(message)
        if metadata:
            self._metadata.update(metadata)

    def _report_locked(self) -> bool:
        """Queue a progress event if the phase's bucket allows; else leave it for the flusher."""
        if self._tokens < 1.0:
            self._dirty = True
            return False
        self._tokens -= 1.0
        self._queue_progress_locked()
        return True

    def _queue_progress_locked(self) -> None:
        tracker = self._tracker
        now = tracker._get_time()
        self._dirty = False  # before reading the count: a racing update sets it again
        current = self.current
        self._meter.sample(now, current)
        data = self._metadata
        self._metadata = {}
        data.update(self._identity())
        data.update(
            current=current,
            total=self.total,
            percentage=self.percentage,
            message=None if self.last_message is None else str(self.last_message),
            rate=self._meter.current_rate(now, current),
            peak_rate=self._meter.peak,
            eta=self._meter.eta(now, current, self.total),
            elapsed=now - self._started_time,
        )
        self._emitted = (current, self.total)
        tracker._dispatcher.queue(PROGRESS_UPDATE, data)
        if self._tokens < tracker._burst and self not in tracker._throttled:
            self._refilled_at = now
            tracker._throttle_locked(self)

    def _refill_locked(self, now: float, rate: float, burst: float) -> None:
        self._tokens = min(burst, self._tokens + (now - self._refilled_at) * rate)
        self._refilled_at = now

    def _identity(self, **extra: Any) -> dict[str, Any]:
        return {
            "operation_id": self.operation_id,
            "phase_id": self.phase_id,
            "parent_phase_id": self.parent_phase_id,
            "title": self.title,
            "description": self.description,
            **extra,
        }

    # --- finishing and cancelling -----------------------------------------------------------

    def _finish_locked(self, success: bool, reason: str | None, now: float) -> None:
        if success and self.cancelled:
            success, reason = False, "cancelled"
        if not success and reason is None:
            reason = "failed"
        for child in self.phases.values():
            if isinstance(child, BaseProgressPhase) and not child._finished:
                child._finish_locked(success, reason, now)
        if self._dirty or self._emitted != (self.current, self.total):
            self._queue_progress_locked()  # the final state always precedes phase_finished
        self._finished = True
        self._finished_time = now
        self._tracker._throttled.discard(self)
        self.completed_at = datetime.now()
        self.success = success
        self.reason = None if success else reason
        duration = now - self._started_time
        self._tracker._dispatcher.queue(
            PHASE_FINISHED,
            self._identity(
                success=success,
                reason=self.reason,
                duration=duration,
                current=self.current,
                total=self.total,
                rate=self._meter.average(now, self.current),
            ),
        )

    @property
    def cancelled(self) -> bool:
        return self._cancelled or self._container.cancelled

    @property
    def finished(self) -> bool:
        """Whether the phase has finished (successfully or not)."""
        return self._finished

    def rollup(self) -> tuple[int | float, int | None]:
        """The phase's effective (current, total), summing sub-phases when it has no total."""
        if self.total is not None or not self.phases:
            return self.current, self.total
        current: int | float = self.current
        total: int | None = 0
        for child in list(self.phases.values()):
            child_current, child_total = child.rollup() if isinstance(child, BaseProgressPhase) else (0, None)
            current += child_current
            total = None if total is None or child_total is None else total + child_total
        return current, total

    @property
    def percentage(self) -> float | None:
        current, total = self.rollup()
        if not total:
            return None
        return min(100.0, current / total * 100.0)

    def _snapshot_locked(self, now: float) -> PhaseSnapshot:
        end = self._finished_time if self._finished_time is not None else now
        if not self._finished:
            self._meter.sample(now, self.current)
        rate = self._meter.average(end, self.current) if self._finished else self._meter.current_rate(now, self.current)
        rollup_current, rollup_total = self.rollup()
        return PhaseSnapshot(
            phase_id=self.phase_id,
            operation_id=self.operation_id,
            parent_phase_id=self.parent_phase_id,
            title=self.title,
            description=self.description,
            current=self.current,
            total=self.total,
            rollup_current=rollup_current,
            rollup_total=rollup_total,
            percentage=self.percentage,
            message=self.last_message,
            started_at=self.started_at,
            elapsed=end - self._started_time,
            rate=rate,
            peak_rate=self._meter.peak,
            eta=None if self._finished else self._meter.eta(now, rollup_current, rollup_total),
            finished=self._finished,
            success=self.success,
            reason=self.reason,
            cancelled=self.cancelled,
            depth=self.depth,
            phases=tuple(
                child._snapshot_locked(now) for child in self.phases.values() if isinstance(child, BaseProgressPhase)
            ),
        )


class BaseProgressOperation(_LocalContainer, ProgressOperation):
    """An operation held by a local tracker."""

    depth = -1
    phase_id = None

    def __init__(
        self, operation_id: str, title: str, description: str | None, *, tracker: BaseProgressTracker
    ) -> None:
        super().__init__(operation_id, str(title), description)
        self._tracker = tracker
        self._finished = False
        self._cancelled = False
        self._started_time = tracker._get_time()
        self._finished_time: float | None = None

    def __repr__(self) -> str:
        return f"<operation {self.title!r}>"

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    @property
    def finished(self) -> bool:
        """Whether the operation has finished."""
        return self._finished

    def _snapshot_locked(self, now: float) -> OperationSnapshot:
        end = self._finished_time if self._finished_time is not None else now
        return OperationSnapshot(
            operation_id=self.operation_id,
            title=self.title,
            description=self.description,
            started_at=self.started_at,
            elapsed=end - self._started_time,
            finished=self._finished,
            success=self.success,
            cancelled=self._cancelled,
            phases=tuple(p._snapshot_locked(now) for p in self.phases.values() if isinstance(p, BaseProgressPhase)),
        )
