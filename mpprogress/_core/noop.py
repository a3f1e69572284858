"""The silent tracker: the full port, no output, no events, no threads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .._base.errors import DuplicateIdError, ensure_open, finish_outcome, validate_total
from .._base.port import ProgressOperation, ProgressPhase, ProgressTracker

__all__ = ["NoOpProgressOperation", "NoOpProgressPhase", "NoOpProgressTracker"]


class _NoOpContainer:
    phases: dict[str, ProgressPhase]
    current_phase: str | None
    _cancelled: bool

    def start_phase(
        self, phase_id: str, title: str, total: int | None = None, description: str | None = None
    ) -> NoOpProgressPhase:
        if phase_id in self.phases:
            raise DuplicateIdError(f"Phase {phase_id} already exists")
        phase = NoOpProgressPhase(phase_id, title, total, description, parent=self)
        self.phases[phase_id] = phase
        self.current_phase = phase_id
        return phase

    def finish_phase(self, phase_id: str, success: bool = True, *, reason: str | None = None) -> None:
        phase = self.phases.get(phase_id)
        if phase is not None and phase.completed_at is None:
            phase.completed_at = datetime.now()
            phase.success, _ = finish_outcome(success, reason, phase.cancelled)

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        self._cancelled = True


class NoOpProgressPhase(_NoOpContainer, ProgressPhase):
    """A phase that keeps its numbers (so code may read them) and reports nothing."""

    def __init__(
        self,
        phase_id: str,
        title: str,
        total: int | None = None,
        description: str | None = None,
        *,
        parent: _NoOpContainer | None = None,
    ) -> None:
        super().__init__(phase_id, title, total, description)
        self._parent = parent
        self._cancelled = False

    def update(self, increment: int | float = 1, message: str | None = None, **metadata: Any) -> None:
        ensure_open(self.completed_at is not None, self.title)
        self.current += increment
        if message is not None:
            self.last_message = message

    def set_progress(self, current: int | float, message: str | None = None, **metadata: Any) -> None:
        ensure_open(self.completed_at is not None, self.title)
        self.current = current
        if message is not None:
            self.last_message = message

    def set_total(self, total: int | None) -> None:
        total = validate_total(total)
        ensure_open(self.completed_at is not None, self.title)
        self.total = total

    @property
    def cancelled(self) -> bool:
        node: _NoOpContainer | None = self
        while node is not None:  # a loop, not a recursion: phases nest to any depth
            if node._cancelled:
                return True
            node = node._parent if isinstance(node, NoOpProgressPhase) else None
        return False


class NoOpProgressOperation(_NoOpContainer, ProgressOperation):
    """An operation of the silent tracker."""

    def __init__(self, operation_id: str, title: str, description: str | None = None) -> None:
        super().__init__(operation_id, title, description)
        self._cancelled = False


class NoOpProgressTracker(ProgressTracker):
    """Silent mode: every call works and nothing is shown or sent."""

    def __init__(self) -> None:
        self._operations: dict[str, NoOpProgressOperation] = {}

    def start_operation(
        self, operation_id: str, title: str, description: str | None = None
    ) -> NoOpProgressOperation:
        if operation_id in self._operations:
            raise DuplicateIdError(f"Operation {operation_id} already exists")
        op = NoOpProgressOperation(operation_id, title, description)
        self._operations[operation_id] = op
        return op

    def get_operation(self, operation_id: str) -> NoOpProgressOperation | None:
        return self._operations.get(operation_id)

    def finish_operation(self, operation_id: str, success: bool = True, *, reason: str | None = None) -> None:
        op = self._operations.pop(operation_id, None)
        if op is not None and op.completed_at is None:
            op.completed_at = datetime.now()
            op.success, _ = finish_outcome(success, None, op.cancelled)

    def add_callback(self, callback: object) -> None:
        """Accepted for compatibility; the silent tracker emits no events."""

    def remove_callback(self, callback: object) -> None:
        """Accepted for compatibility."""
