"""The tracker port: what application code calls.

``ProgressTracker`` -> ``ProgressOperation`` -> ``ProgressPhase``, the seed's contract.  Every
implementation (the locked local tracker, the remote client in worker processes, the no-op
tracker) subclasses these three classes, so worker code never changes between modes.

Standard library only: no I/O, threads or sockets.  The errors and checks every implementation
shares are in ``errors.py`` (importable from here too); resuming a phase, in ``resume.py``.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from .errors import (
    DuplicateIdError,
    PhaseDepthError,
    PhaseFinishedError,
    ProgressCancelled,
    ProgressError,
    checked_count,
    ensure_open,
    failure_reason,
    finish_outcome,
    validate_total,
)
from .resume import ResumePoint, remaining_items

__all__ = [
    "DuplicateIdError",
    "PhaseDepthError",
    "PhaseFinishedError",
    "ProgressCancelled",
    "ProgressError",
    "ProgressOperation",
    "ProgressPhase",
    "ProgressTracker",
    "checked_count",
    "ensure_open",
    "failure_reason",
    "finish_outcome",
    "validate_total",
]


class _PhaseContainer(ABC):
    """What operations and phases share: they hold phases and open them with ``phase()``."""

    phases: dict[str, ProgressPhase]
    current_phase: str | None

    @abstractmethod
    def start_phase(
        self, phase_id: str, title: str, total: int | None = None, description: str | None = None
    ) -> ProgressPhase:
        """Start a phase inside this container.

        Args:
            phase_id: unique id of the new phase within its tracker.
            title: short human title, shown on the phase's row.
            total: expected number of items, or ``None`` when unknown.
            description: longer text, optional.

        Returns:
            The new phase.

        Raises:
            DuplicateIdError: a phase with this id already exists (a ``ValueError``).
        """

    @abstractmethod
    def finish_phase(self, phase_id: str, success: bool = True, *, reason: str | None = None) -> None:
        """Mark a phase finished; finishing an unknown or finished phase does nothing.

        Args:
            phase_id: the phase to finish.
            success: whether its work succeeded.
            reason: why it failed (``"error"``, ``"cancelled"``, ``"lost"``...), or ``None``.
        """

    @contextmanager
    def phase(
        self, title: str, total: int | None = None, description: str | None = None, *, phase_id: str | None = None
    ) -> Iterator[ProgressPhase]:
        """Open a phase for the duration of a ``with`` block.

        The phase finishes successfully when the block exits normally, and as failed (then the
        exception is re-raised) when it raises, including ``KeyboardInterrupt``.

        Args:
            title: short human title.
            total: expected number of items, or ``None`` when unknown.
            description: longer text, optional.
            phase_id: the phase's id, unique within its tracker; a fresh UUID by default.  One
                of your own is what a resumed run finds the phase by, whatever its title.

        Yields:
            The running phase.

        Raises:
            DuplicateIdError: the tracker already holds a phase with this id (a ``ValueError``).
            ValueError: ``phase_id`` is not a non-empty string.
        """
        if phase_id is None:
            phase_id = str(uuid.uuid4())
        elif not isinstance(phase_id, str) or not phase_id:
            raise ValueError(f"phase_id must be a non-empty string, got {phase_id!r}")
        started = self.start_phase(phase_id, title, total, description)
        try:
            yield started
        except BaseException as exc:
            self.finish_phase(phase_id, success=False, reason=failure_reason(exc))
            raise
        self.finish_phase(phase_id, success=True)


class ProgressPhase(_PhaseContainer):
    """One phase of work with a count, an optional total and a latest message.

    A phase may hold sub-phases (``phase.phase(...)``) to any depth its tracker allows (the
    local tracker's ``max_phase_depth``, 1,000 levels by default).

    In a run resuming an earlier one (``session(journal=..., resume=True)``), ``resumed`` says
    where the phase resumed that run's (``resume.py``) and ``resumed_from`` the count it resumed
    at; both ``None`` when it started afresh.
    """

    resumed: ResumePoint | None = None
    resumed_from: int | float | None = None

    def __init__(self, phase_id: str, title: str, total: int | None = None, description: str | None = None) -> None:
        self.phase_id = phase_id
        self.title = title
        self.total: int | None = validate_total(total)
        self.description = description
        self.current: int | float = 0
        self.started_at = datetime.now()
        self.completed_at: datetime | None = None
        self.last_message: str | None = None
        self.success: bool | None = None
        self.phases: dict[str, ProgressPhase] = {}
        self.current_phase: str | None = None

    @abstractmethod
    def update(self, increment: int | float = 1, message: str | None = None, **metadata: Any) -> None:
        """Advance the count by ``increment``.

        Args:
            increment: how many items were done; a non-negative number (use
                ``set_progress`` to go back).
            message: the latest status text; ``None`` keeps the previous message.
            **metadata: extra JSON-friendly fields carried on the ``progress_update`` event.

        Raises:
            TypeError: ``increment`` is not a number.
            ValueError: ``increment`` is negative.
            PhaseFinishedError: the phase has already finished.
        """

    @abstractmethod
    def set_progress(self, current: int | float, message: str | None = None, **metadata: Any) -> None:
        """Set the count to an absolute value.

        Args:
            current: the new count, non-negative.
            message: the latest status text; ``None`` keeps the previous message.
            **metadata: extra JSON-friendly fields carried on the ``progress_update`` event.

        Raises:
            TypeError: ``current`` is not a number.
            ValueError: ``current`` is negative.
            PhaseFinishedError: the phase has already finished.
        """

    @abstractmethod
    def set_total(self, total: int | None) -> None:
        """Change the expected total (for work whose size is discovered as it goes).

        Args:
            total: the new total, or ``None`` when unknown.
        """

    @abstractmethod
    def cancel(self) -> None:
        """Ask the work of this phase (and its sub-phases) to stop; see ``cancelled``."""

    @property
    @abstractmethod
    def cancelled(self) -> bool:
        """Whether this phase, a parent phase or its operation was cancelled."""

    def raise_if_cancelled(self) -> None:
        """Raise ``ProgressCancelled`` if the phase was cancelled; call it between items.

        Raises:
            ProgressCancelled: the phase, a parent or the operation was cancelled.
        """
        if self.cancelled:
            raise ProgressCancelled(f"phase {self.title!r} was cancelled")

    @property
    def percentage(self) -> float | None:
        """Completion in percent, capped at 100; ``None`` when the total is unknown or 0."""
        if not self.total:
            return None
        return min(100.0, (self.current / self.total) * 100.0)

    @property
    def is_complete(self) -> bool:
        """True once the phase has finished, or its count has reached a non-zero total."""
        if self.completed_at is not None:
            return True
        return bool(self.total) and self.current >= self.total  # type: ignore[operator]

    def track(
        self, iterable: Iterable[Any], message: str | None = None, *, key: Callable[[Any], object] | None = None
    ) -> Iterator[Any]:
        """Yield the items of ``iterable``, counting one per item (the total from its length if unset).

        A resumed phase skips what an earlier run did: the items whose keys it recorded (with
        ``key``), else the first ``resumed_from`` (``resume.remaining_items``).

        Args:
            iterable: the items to walk through.
            message: an optional status text set with the first item.
            key: gives an item's stable key (``str`` for URLs), recorded once its body ran.

        Yields:
            The items of ``iterable``, unchanged, except those already done.
        """
        if self.total is None and hasattr(iterable, "__len__"):
            self.set_total(len(iterable))  # type: ignore[arg-type]
        update = self.update
        if message is not None:
            self.update(0, message)
        if self.resumed is not None or key is not None:
            yield from remaining_items(self, iterable, key)
            return
        for item in iterable:
            yield item
            update()

    def _done_keys(self) -> frozenset[str]:  # the item keys an earlier run recorded done here
        return frozenset()

    def _item_done(self, key: str) -> None:  # one item of ``track(key=...)``: count, record its key
        self.update()


class ProgressOperation(_PhaseContainer):
    """A top-level unit of work ("Researching Stripe") made of phases."""

    def __init__(self, operation_id: str, title: str, description: str | None = None) -> None:
        self.operation_id = operation_id
        self.title = title
        self.description = description
        self.started_at = datetime.now()
        self.completed_at: datetime | None = None
        self.success: bool | None = None
        self.phases: dict[str, ProgressPhase] = {}
        self.current_phase: str | None = None

    @abstractmethod
    def cancel(self) -> None:
        """Ask every phase of this operation to stop; they see ``phase.cancelled``."""

    @property
    @abstractmethod
    def cancelled(self) -> bool:
        """Whether the operation was cancelled."""

    @property
    def is_complete(self) -> bool:
        """True once the operation has finished."""
        return self.completed_at is not None


class ProgressTracker(ABC):
    """Port for progress tracking: operations, made of phases, made of updates."""

    _simple_phase: ProgressPhase | None = None
    _simple_operation_id: str | None = None

    @abstractmethod
    def start_operation(self, operation_id: str, title: str, description: str | None = None) -> ProgressOperation:
        """Start a top-level operation.

        Args:
            operation_id: unique id of the operation.
            title: short human title.
            description: longer text, optional.

        Returns:
            The new operation.

        Raises:
            DuplicateIdError: an operation with this id already exists (a ``ValueError``).
        """

    @abstractmethod
    def get_operation(self, operation_id: str) -> ProgressOperation | None:
        """Return the operation with this id, or ``None`` if unknown (or pruned)."""

    @abstractmethod
    def finish_operation(self, operation_id: str, success: bool = True, *, reason: str | None = None) -> None:
        """Mark an operation finished; finishing an unknown or finished one does nothing.

        Phases still open are finished with it, with the same success.

        Args:
            operation_id: the operation to finish.
            success: whether it succeeded.
            reason: why it failed (``"interrupted"``, an exception's ``"Type: message"``...), or
                ``None``; a cancelled operation fails as ``"cancelled"`` unless interrupted.
        """

    def close(self) -> None:  # noqa: B027 - optional hook: most trackers hold nothing
        """Release what the tracker holds (threads, sockets, sinks it created). Idempotent."""

    def __enter__(self) -> ProgressTracker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def operation(
        self, title: str, description: str | None = None, *, operation_id: str | None = None
    ) -> Iterator[ProgressOperation]:
        """Run an operation for the duration of a ``with`` block.

        Success on normal exit; on an exception the operation is marked failed and the
        exception re-raised.

        Args:
            title: short human title.
            description: longer text, optional.
            operation_id: the id to use; a fresh UUID by default.

        Yields:
            The running operation.
        """
        operation_id = operation_id or str(uuid.uuid4())
        op = self.start_operation(operation_id, title, description)
        try:
            yield op
        except BaseException as exc:
            self.finish_operation(operation_id, success=False, reason=failure_reason(exc))
            raise
        self.finish_operation(operation_id, success=True)

    # The ticket's simple form: phases on an implicit default operation.

    def start_phase(
        self, title: str, total: int | None = None, description: str | None = None
    ) -> ProgressPhase:
        """Start a phase on the tracker's implicit default operation (the simple form).

        ``tracker.update(...)`` then advances this phase until the next ``start_phase``.

        Args:
            title: short human title.
            total: expected number of items, or ``None``.
            description: longer text, optional.

        Returns:
            The new phase.
        """
        op = self.get_operation(self._simple_operation_id) if self._simple_operation_id else None
        if op is None or op.is_complete:
            self._simple_operation_id = f"default-{uuid.uuid4()}"
            op = self.start_operation(self._simple_operation_id, "Progress")
        if self._simple_phase is not None and self._simple_phase.completed_at is None:
            op.finish_phase(self._simple_phase.phase_id)
        self._simple_phase = op.start_phase(str(uuid.uuid4()), title, total, description)
        return self._simple_phase

    def update(self, increment: int | float = 1, message: str | None = None, **metadata: Any) -> None:
        """Advance the phase opened by ``start_phase`` (the simple form).

        Raises:
            ProgressError: no phase was started with ``tracker.start_phase``.
        """
        if self._simple_phase is None:
            raise ProgressError("call tracker.start_phase(title, total) before tracker.update()")
        self._simple_phase.update(increment, message, **metadata)

    def finish_phase(self, success: bool = True) -> None:
        """Finish the phase opened by ``start_phase`` (the simple form)."""
        phase, self._simple_phase = self._simple_phase, None
        op = self.get_operation(self._simple_operation_id) if self._simple_operation_id else None
        if phase is not None and op is not None:
            op.finish_phase(phase.phase_id, success)
