"""Local operations and phases: the state a ``BaseProgressTracker`` holds.

They reach their tracker only through its core handle (``core.py``: lock, clock, dispatcher,
throttle, phase registry), never through the tracker.  ``tracker.py`` explains the locking,
throttling and lock-free counting rules these classes follow.  The tracker calls two methods of
an operation, with its lock held: ``_finish_locked`` and ``_snapshot_locked``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .core import GIL_ENABLED, Clock, TrackerCore
from .dispatch import SETTLE_TIMEOUT
from .errors import ProgressError, checked_count, ensure_open, finish_outcome, validate_total
from .events import CancelRequested, OperationFinished, PhaseFinished, PhaseStarted, ProgressUpdate
from .metrics import RateMeter, Speed
from .port import ProgressOperation, ProgressPhase
from .snapshot import OperationSnapshot, PhaseSnapshot

__all__ = ["GIL_ENABLED", "BaseProgressOperation", "BaseProgressPhase", "Clock", "checked_count"]

Core = TrackerCore["BaseProgressPhase"]


class _LocalContainer:
    """What local operations and local phases share: starting, finishing and cancelling."""

    _core: Core
    _container: _LocalContainer | None
    _finished: bool
    _cancelled: bool
    operation_id: str
    phases: dict[str, ProgressPhase]
    current_phase: str | None

    def start_phase(
        self,
        phase_id: str,
        title: str,
        total: int | None = None,
        description: str | None = None,
    ) -> BaseProgressPhase:
        core = self._core
        with core.lock:
            if self._finished:
                raise ProgressError(f"cannot start phase {title!r}: {self!r} has finished")
            phase = BaseProgressPhase(phase_id, title, total, description, container=self)
            core.add_phase(phase_id, phase)
            self.phases[phase_id] = phase
            self.current_phase = phase_id
            core.dispatcher.queue(PhaseStarted(*phase._identity(), total=phase.total))
        core.dispatcher.drain()
        return phase

    def finish_phase(self, phase_id: str, success: bool = True, *, reason: str | None = None) -> None:
        core = self._core
        with core.lock:
            phase = self.phases.get(phase_id)
            if not isinstance(phase, BaseProgressPhase) or phase._finished:
                return
            phase._finish_locked(success, reason, core.get_time())
        core.dispatcher.drain(settle=SETTLE_TIMEOUT)

    def cancel(self) -> None:
        core = self._core
        with core.lock:
            if self._finished or self._cancelled:
                return
            self._cancelled = True
            phase_id = self.phase_id if isinstance(self, BaseProgressPhase) else None
            core.dispatcher.queue(CancelRequested(self.operation_id, phase_id))
        core.dispatcher.drain()

    @property
    def cancelled(self) -> bool:
        """Whether this was cancelled, or a phase or operation it belongs to."""
        return self._cancelled or (self._container is not None and self._container.cancelled)

    @property
    def finished(self) -> bool:
        """Whether this has finished (successfully or not)."""
        return self._finished


class BaseProgressPhase(_LocalContainer, ProgressPhase):
    """A phase held by a local tracker; all of its methods are safe from any thread."""

    def __init__(
        self,
        phase_id: str,
        title: str,
        total: int | None,
        description: str | None,
        *,
        container: _LocalContainer,
    ) -> None:
        super().__init__(phase_id, str(title), total, description)
        core = container._core
        self._core = core
        self._drain = core.dispatcher.drain
        self._container = container
        self.operation_id = container.operation_id
        parent = container if isinstance(container, BaseProgressPhase) else None
        self.parent_phase_id = None if parent is None else parent.phase_id
        self.depth: int = 0 if parent is None else parent.depth + 1
        self.reason: str | None = None
        self._finished = False
        self._cancelled = False
        self._dirty = False  # changed since the last progress_update (set without the lock)
        self._emitted: tuple[int | float, int | None] = (0, self.total)
        self._metadata: dict[str, Any] = {}
        self._bucket = core.throttle.bucket(self._pending_locked, self._emit_locked)
        now = core.get_time()
        self._started_time = now
        self._finished_time: float | None = None
        self._meter = RateMeter(now)

    def __repr__(self) -> str:
        return f"<phase {self.title!r} {self.current}/{self.total}>"

    # --- the hot path -----------------------------------------------------------------------

    def update(self, increment: int | float = 1, message: str | None = None, **metadata: Any) -> None:
        if increment.__class__ is not int or increment < 0:
            increment = checked_count(increment, "increment")
        if self._bucket.tokens >= 1.0 or metadata:
            self._update_locked(increment, message, metadata)
            return
        # Throttled: only count.  See "Counting without the lock" in tracker.py.  A finished
        # phase's bucket never runs dry (``Throttle.release``), so a finished phase never gets
        # here: ``_update_locked`` refuses it.
        self.current += increment
        if message is not None:
            self.last_message = message
        self._dirty = True

    if not GIL_ENABLED:  # free-threaded CPython: ``+=`` on an attribute is not atomic there

        def update(self, increment: int | float = 1, message: str | None = None, **metadata: Any) -> None:
            if increment.__class__ is not int or increment < 0:
                increment = checked_count(increment, "increment")
            self._update_locked(increment, message, metadata)

    def _update_locked(self, increment: int | float, message: str | None, metadata: dict[str, Any]) -> None:
        with self._core.lock:
            ensure_open(self._finished, self.title)
            self.current += increment
            if message is not None or metadata:
                self._note(message, metadata)
            queued = self._report_locked()
        if queued:
            self._drain()

    def set_progress(self, current: int | float, message: str | None = None, **metadata: Any) -> None:
        current = checked_count(current, "current")
        with self._core.lock:
            ensure_open(self._finished, self.title)
            self.current = current
            if message is not None or metadata:
                self._note(message, metadata)
            queued = self._report_locked()
        if queued:
            self._drain()

    def set_total(self, total: int | None) -> None:
        total = validate_total(total)
        with self._core.lock:
            ensure_open(self._finished, self.title)
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

        Raises:
            PhaseFinishedError: the phase has finished.
        """
        with self._core.lock:
            ensure_open(self._finished, self.title)
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

    # --- reporting (the tracker's lock held) ------------------------------------------------

    def _report_locked(self) -> bool:
        """Queue a progress event if the phase's bucket allows; else leave it for the flusher."""
        if self._core.throttle.take(self._bucket):
            self._emit_locked()
            return True
        self._dirty = True
        return False

    def _pending_locked(self) -> bool:
        """Whether the state changed since the last progress event (the throttle asks)."""
        return self._dirty or self._emitted != (self.current, self.total)

    def _emit_locked(self) -> None:
        """Queue a progress event with the current state, whatever the bucket holds."""
        now = self._core.get_time()
        self._dirty = False  # before reading the count: a racing update sets it again
        current, total = self.current, self.total
        rate, peak, eta = self._meter.sample(now, current, total)
        metadata, self._metadata = self._metadata, {}
        message = self.last_message
        self._emitted = (current, total)
        self._core.dispatcher.queue(
            ProgressUpdate(  # positional, in the field order: the cheapest call
                *self._identity(),
                current,
                total,
                self.percentage,
                None if message is None else str(message),
                rate,
                peak,
                eta,
                now - self._started_time,
                metadata,
            )
        )

    def _identity(self) -> tuple[str, str, str | None, str, str | None]:
        """The first fields of every phase event: operation, phase, parent, title, description."""
        return self.operation_id, self.phase_id, self.parent_phase_id, self.title, self.description

    def _speed_locked(self, now: float) -> Speed:
        """The speed figures, for events and snapshots alike; changes nothing."""
        if self._finished_time is not None:
            return self._meter.final(self._finished_time, self.current)
        return self._meter.speed(now, self.current, self.total)

    # --- finishing --------------------------------------------------------------------------

    def _finish_locked(self, success: bool, reason: str | None, now: float) -> None:
        success, reason = finish_outcome(success, reason, self.cancelled)
        for child in self.phases.values():
            if isinstance(child, BaseProgressPhase) and not child._finished:
                child._finish_locked(success, reason, now)
        if self._pending_locked():
            self._emit_locked()  # the final state always precedes phase_finished
        self._finished = True
        self._finished_time = now
        self._core.throttle.release(self._bucket)
        self.completed_at = datetime.now()
        self.success = success
        self.reason = reason
        self._core.dispatcher.queue(
            PhaseFinished(
                *self._identity(),
                success=success,
                reason=reason,
                duration=now - self._started_time,
                current=self.current,
                total=self.total,
                rate=self._speed_locked(now).rate,
            )
        )

    # --- reading ----------------------------------------------------------------------------

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
        rate, peak, eta = self._speed_locked(now)
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
            peak_rate=peak,
            eta=eta,
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

    def __init__(self, operation_id: str, title: str, description: str | None, *, core: Core) -> None:
        super().__init__(operation_id, str(title), description)
        self._core = core
        self._container = None
        self._finished = False
        self._cancelled = False
        self._started_time = core.get_time()
        self._finished_time: float | None = None

    def __repr__(self) -> str:
        return f"<operation {self.title!r}>"

    def _finish_locked(self, success: bool) -> bool:
        """Finish the operation and its open phases; ``False`` if it had already finished."""
        if self._finished:
            return False
        now = self._core.get_time()
        success, reason = finish_outcome(success, "cancelled" if self._cancelled else None, self._cancelled)
        for phase in self.phases.values():
            if isinstance(phase, BaseProgressPhase) and not phase._finished:
                phase._finish_locked(success, reason, now)
        self._finished = True
        self._finished_time = now
        self.completed_at = datetime.now()
        self.success = success
        self._core.dispatcher.queue(
            OperationFinished(self.operation_id, self.title, success, reason, now - self._started_time)
        )
        return True

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
