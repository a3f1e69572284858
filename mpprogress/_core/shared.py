"""The core handle: what the operations and phases of one local tracker share.

A ``BaseProgressTracker`` makes one ``TrackerCore`` and hands it to every operation and phase
it creates; they reach the tracker's lock, clock, event queue, throttle and phase registry
through it, and never through the tracker itself.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from .._base.errors import DuplicateIdError
from .._base.forksafe import reinit_after_fork
from .._base.resume import ResumeSource
from .dispatch import EventDispatcher
from .throttle import Throttle

__all__ = ["GIL_ENABLED", "Clock", "TrackerCore"]

Clock = Callable[[], float]

GIL_ENABLED: bool = getattr(sys, "_is_gil_enabled", lambda: True)()
"""False on a free-threaded CPython, where the lock-free counting of ``update()`` is not exact."""

PhaseT = TypeVar("PhaseT")


class TrackerCore(Generic[PhaseT]):
    """One tracker's lock, clock, event dispatcher, throttle and phase registry.

    Args:
        get_time: monotonic clock in seconds.
        max_update_rate: see ``Throttle``.
        update_burst: see ``Throttle``.
        auto_flush: see ``Throttle``.
        max_phase_depth: most levels of nested phases; ``None`` for no limit.
        max_finished_phases: finished phases an open operation keeps; ``None`` keeps all.

    Attributes:
        lock: the one ``RLock`` every mutation takes (a new one in a forked child).
        get_time: the clock.
        dispatcher: queues events under ``lock`` and delivers them after it is released.
        throttle: the token buckets of the phases and the flusher thread.
        phases: every kept phase of the tracker, at any depth, by id.
        max_phase_depth: most levels of nested phases (a top-level phase is level 1), or ``None``.
        max_finished_phases: the newest finished phases each operation keeps (older ones are
            let go: ``retention.py``), or ``None`` to keep them all.
        resume: where phases resume from and item keys done are recorded (``resume.py``), or
            ``None``.
        claimed: the (operation key, phase key) pairs a phase of this run has resumed (or
            tried to): a second phase with the same keys starts afresh.
    """

    __slots__ = (
        "__weakref__",
        "claimed",
        "dispatcher",
        "get_time",
        "lock",
        "max_finished_phases",
        "max_phase_depth",
        "phases",
        "resume",
        "throttle",
    )

    def __init__(
        self,
        *,
        get_time: Clock,
        max_update_rate: float | None,
        update_burst: int,
        auto_flush: bool,
        max_phase_depth: int | None = None,
        max_finished_phases: int | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.get_time = get_time
        self.dispatcher = EventDispatcher()
        self.throttle = Throttle(
            max_update_rate,
            update_burst,
            lock=self.lock,
            get_time=get_time,
            deliver=self.dispatcher.drain,
            auto_flush=auto_flush,
        )
        self.phases: dict[str, PhaseT] = {}
        self.max_phase_depth = max_phase_depth
        self.max_finished_phases = max_finished_phases
        self.resume: ResumeSource | None = None
        self.claimed: set[tuple[str, str]] = set()
        reinit_after_fork(self)

    def add_phase(self, phase_id: str, phase: PhaseT) -> None:
        """Register a new phase; call with ``lock`` held.

        Raises:
            DuplicateIdError: the tracker already holds a phase with this id.
        """
        if phase_id in self.phases:
            raise DuplicateIdError(f"Phase {phase_id} already exists")
        self.phases[phase_id] = phase

    def _reinit_after_fork(self) -> None:
        """In a forked child: fresh locks and no flusher (the parent's threads are not here)."""
        self.lock = threading.RLock()
        self.dispatcher.reinit_after_fork()
        self.throttle.reinit_after_fork(self.lock)
