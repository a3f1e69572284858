"""Local operations and phases: the state a ``BaseProgressTracker`` holds, as a tree.

They reach their tracker only through its core handle (``core.py``: lock, clock, dispatcher,
throttle, phase registry), never through the tracker.  This module holds the tree: starting,
finishing, cancelling and rolling up; a phase's count (the hot path and reporting) is
``counting.LocalCount``, and ``tracker.py`` explains the locking, throttling and lock-free
counting rules.  The tracker calls one method of an operation, with its lock held:
``_finish_locked``; ``capture.py`` reads operations and phases (lock held too) to build
snapshots.  Phases nest to any depth, so every walk over them is a loop (``tree.py``).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime

from .._base.errors import PhaseDepthError, ProgressError, checked_count, finish_outcome
from .._base.events import CancelRequested, OperationFinished, PhaseFinished, PhaseStarted, Worker
from .._base.formats import format_title
from .._base.metrics import Speed, finished_rate
from .._base.outcomes import items_failed, operation_outcome, phase_outcome
from .._base.port import ProgressOperation, ProgressPhase
from .._base.resume import ResumePoint, phase_key, stable_key
from .counting import LocalCount
from .dispatch import SETTLE_TIMEOUT
from .retention import Tally, add_outcomes, outcome_of
from .shared import GIL_ENABLED, Clock, TrackerCore
from .tree import fold, preorder

__all__ = ["GIL_ENABLED", "BaseProgressOperation", "BaseProgressPhase", "Clock", "Count", "checked_count"]

Core = TrackerCore["BaseProgressPhase"]

Count = tuple[int | float, int | None]
"""A (current, total) pair; the total is ``None`` when unknown."""

# A phase to finish, with what its parent hands down: (phase, success, reason, cancelled).
_Closing = tuple["BaseProgressPhase", bool, "str | None", bool]


class _LocalContainer:
    """What local operations and local phases share: starting, finishing and cancelling."""

    _core: Core
    _container: _LocalContainer | None
    _operation: BaseProgressOperation
    _finished: bool
    _cancelled: bool
    _let_go: Tally | None  # the finished sub-phases let go (see retention.py), once there are any
    depth: int
    operation_id: str
    phases: dict[str, ProgressPhase]
    current_phase: str | None

    def start_phase(
        self,
        phase_id: str,
        title: str,
        total: int | None = None,
        description: str | None = None,
        *,
        worker: Worker | None = None,
    ) -> BaseProgressPhase:
        core = self._core
        with core.lock:
            if self._finished:
                raise ProgressError(f"cannot start phase {title!r}: {self!r} has finished")
            limit = core.max_phase_depth
            if limit is not None and self.depth + 1 >= limit:
                raise PhaseDepthError(
                    f"cannot start phase {title!r}: it would nest {self.depth + 2} levels deep, "
                    f"beyond the tracker's max_phase_depth of {limit}"
                )
            phase = BaseProgressPhase(phase_id, title, total, description, container=self)
            core.add_phase(phase_id, phase)
            self.phases[phase_id] = phase
            self.current_phase = phase_id
            point = _resume_point(self, phase) if core.resume is not None and core.resume.resuming else None
            if point is not None:
                phase._resume_at_locked(point)
            core.dispatcher.queue(
                PhaseStarted(*phase._identity(), total=phase.total, worker=worker, resumed_from=phase.resumed_from)
            )
            if point is not None:
                phase._report_locked()  # where it resumed, at once: sinks (the journal) see it
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
        node: _LocalContainer | None = self
        while node is not None:  # a loop, not a recursion: phases nest to any depth
            if node._cancelled:
                return True
            node = node._container
        return False

    @property
    def finished(self) -> bool:
        """Whether this has finished (successfully or not)."""
        return self._finished


class BaseProgressPhase(_LocalContainer, LocalCount):
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
        super().__init__(phase_id, format_title(title), total, description)
        core = container._core
        self._core = core
        self._container = container
        self._operation = container._operation
        self._let_go = None
        self.operation_id = container.operation_id
        parent = container if isinstance(container, BaseProgressPhase) else None
        self.parent_phase_id = None if parent is None else parent.phase_id
        self.depth: int = 0 if parent is None else parent.depth + 1
        self.reason: str | None = None
        self.outcome: str | None = None  # the word of its outcome once finished (outcomes.py)
        self.stalled = False  # a remote phase whose worker has gone silent (set by remote.applier)
        self._finished = False
        self._cancelled = False
        self._start_counting(core)

    def __repr__(self) -> str:
        return f"<phase {self.title!r} {self.current}/{self.total}>"

    # --- finishing --------------------------------------------------------------------------

    def _finish_locked(self, success: bool, reason: str | None, now: float) -> None:
        """Finish the phase and its open sub-phases, innermost first; the lock is held."""
        self._operation._retire_locked(_finish_all([(self, success, reason, self.cancelled)], now))

    def _finish_one_locked(self, success: bool, reason: str | None, now: float) -> None:
        """Finish this phase alone (its sub-phases have finished): ``success`` is final."""
        if self._pending_locked():
            self._emit_locked()  # the final state always precedes phase_finished
        self._finished = True
        self._finished_time = now
        self._core.throttle.release(self._bucket)
        self.completed_at = datetime.now()
        current, total = self.rollup()  # a rolled-up parent reports its sub-phases' count
        if success and self.failed_items:  # it said some items failed: the reason says how many
            reason = items_failed(self.failed_items, current)
        self.success = success
        self.reason = reason
        duration = now - self._started_time
        rate = finished_rate(current, duration) if self.rolls_up else self._speed_locked(now).rate
        self.outcome = phase_outcome(success, reason, current, total).word
        self._core.dispatcher.queue(
            PhaseFinished(
                *self._identity(),
                success=success,
                reason=reason,
                duration=duration,
                current=current,
                total=total,
                rate=rate,
                outcome=self.outcome,
            )
        )

    # --- reading ----------------------------------------------------------------------------

    @property
    def rolls_up(self) -> bool:
        """Whether the phase has no total of its own and sub-phases (kept or let go) to sum."""
        return self.total is None and bool(self.phases or self._let_go)

    def rollup(self) -> tuple[int | float, int | None]:
        """The phase's effective (current, total), summing sub-phases when it has no total."""
        if not self.rolls_up:
            return self.current, self.total
        (rolled,) = fold([self], _rolled_up_children, _rollup_of)
        return rolled

    @property
    def percentage(self) -> float | None:
        current, total = self.rollup()
        return None if not total else min(100.0, current / total * 100.0)

    def _figures_locked(self, now: float) -> tuple[float, Speed]:
        """(elapsed seconds, speed figures) at ``now``, for snapshots; changes nothing."""
        end = self._finished_time if self._finished_time is not None else now
        return end - self._started_time, self._speed_locked(now)


def _resume_point(container: _LocalContainer, phase: BaseProgressPhase) -> ResumePoint | None:
    """Give ``phase`` its stable keys and find where it resumes, if anywhere (lock held).

    Only the first phase of this run with a pair of keys resumes (``TrackerCore.claimed``).
    """
    core = phase._core
    op_key = phase._operation._key
    parent_keys = container._keys if isinstance(container, BaseProgressPhase) else (op_key, None)
    if op_key is None or parent_keys is None or core.resume is None:
        return None  # started before the tracker had a journal
    keys = (op_key, phase_key(parent_keys[1], phase.phase_id, phase.title))
    phase._keys = keys
    if keys in core.claimed:
        return None
    core.claimed.add(keys)
    return core.resume.resume_point(*keys)


def sub_phases(container: _LocalContainer) -> list[BaseProgressPhase]:
    """The local sub-phases of an operation or a phase, oldest first."""
    return [child for child in container.phases.values() if isinstance(child, BaseProgressPhase)]


def _open(phases: list[BaseProgressPhase]) -> list[BaseProgressPhase]:
    return [phase for phase in phases if not phase._finished]


def _rolled_up_children(phase: BaseProgressPhase) -> list[BaseProgressPhase]:
    """The sub-phases whose counts make ``phase``'s: none when it has a total of its own."""
    return sub_phases(phase) if phase.total is None else []


def _rollup_of(phase: BaseProgressPhase, children: list[Count]) -> Count:
    return rolled_up(phase.current, phase.total, phase._let_go, children)


def rolled_up(current: int | float, total: int | None, let_go: Tally | None, children: list[Count]) -> Count:
    """A phase's roll-up from its own count and total, what it let go, and its kept sub-phases'.

    A phase with a total of its own, or with no sub-phases at all, is its own roll-up.
    """
    if total is not None or not (children or let_go):
        return current, total
    start: Count = (current, 0) if let_go is None else (current + let_go.current, let_go.total)
    return add_counts(start, children)


def add_counts(start: Count, counts: list[Count]) -> Count:
    """``start`` plus every (current, total) of ``counts``; the total is ``None`` if any is."""
    current, total = start
    for child_current, child_total in counts:
        current += child_current
        total = None if total is None or child_total is None else total + child_total
    return current, total


def _finish_all(roots: list[_Closing], now: float, *, closed_by_owner: bool = True) -> list[BaseProgressPhase]:
    """Finish phases and their open sub-phases, each after its sub-phases (lock held).

    Each phase applies the finish rule to what its parent hands down, with its own
    cancellation: a cancelled sub-phase fails as ``cancelled`` under a parent that succeeds.
    A phase nobody finished itself (an open sub-phase of a finishing phase, every open phase of
    a finishing operation: ``closed_by_owner=False`` for the roots) succeeds only if it reached
    its total: one left short (a worker that died unseen, a phase the code forgot to finish)
    fails as ``incomplete`` rather than claiming work that was never done.

    Returns:
        The phases finished, in the order they finished.
    """

    def children(node: _Closing) -> list[_Closing]:
        phase, success, reason, cancelled = node
        success, reason = finish_outcome(success, reason, cancelled)
        return [(child, success, reason, cancelled or child._cancelled) for child in _open(sub_phases(phase))]

    finished: list[BaseProgressPhase] = []
    owners = {id(root[0]) for root in roots} if closed_by_owner else set()

    def build(node: _Closing, _: list[None]) -> None:
        phase, success, reason, cancelled = node
        success, reason = finish_outcome(success, reason, cancelled)
        if success and id(phase) not in owners and phase.total is not None and phase.current < phase.total:
            success, reason = False, "incomplete"
        phase._finish_one_locked(success, reason, now)
        finished.append(phase)

    fold(roots, children, build)
    return finished


def _let_go(phase: BaseProgressPhase, registry: dict[str, BaseProgressPhase]) -> None:
    """Drop a finished phase (and its sub-phases) from its container and the registry, keeping
    its outcomes and roll-up in the container's tally.  Does nothing if it was dropped already
    (with a parent let go before it)."""
    if registry.get(phase.phase_id) is not phase:
        return
    outcomes: dict[str, int] = {}
    for node in preorder([phase], sub_phases):
        del registry[node.phase_id]
        outcome = node.outcome or outcome_of(node.success, node.reason)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if node._let_go is not None:
            add_outcomes(outcomes, node._let_go.outcomes)
    container = phase._container
    assert container is not None
    if container._let_go is None:
        container._let_go = Tally()
    container._let_go.add(outcomes, *phase.rollup())
    del container.phases[phase.phase_id]
    if container.current_phase == phase.phase_id:
        container.current_phase = None


class BaseProgressOperation(_LocalContainer, ProgressOperation):
    """An operation held by a local tracker."""

    depth = -1
    phase_id = None

    def __init__(self, operation_id: str, title: str, description: str | None, *, core: Core) -> None:
        super().__init__(operation_id, format_title(title), description)
        self._core = core
        self._container = None
        self._operation = self
        self._let_go = None
        self._recent: deque[BaseProgressPhase] = deque()  # finished phases, at any depth, oldest first
        self._finished = False
        self._cancelled = False
        self._started_time = core.get_time()
        self._finished_time: float | None = None
        self.outcome: str | None = None  # the word of its outcome once finished (outcomes.py)
        # The operation's stable key, for its phases to resume by (``resume.py``).
        resume = core.resume
        self._key = stable_key(operation_id, self.title) if resume is not None and resume.resuming else None

    def __repr__(self) -> str:
        return f"<operation {self.title!r}>"

    def _finish_locked(self, success: bool, reason: str | None = None) -> bool:
        """Finish the operation and its open phases (a failure's ``reason``, if not "failed");
        ``False`` if it had already finished."""
        if self._finished:
            return False
        now = self._core.get_time()
        success, reason = finish_outcome(  # Ctrl-C cancels first: the operation is still interrupted
            success, "cancelled" if self._cancelled and reason != "interrupted" else reason, self._cancelled)
        roots = [(phase, success, reason, self._cancelled or phase._cancelled) for phase in _open(sub_phases(self))]
        self._retire_locked(_finish_all(roots, now, closed_by_owner=False))
        self._finished = True
        self._finished_time = now
        self.completed_at = datetime.now()
        self.success = success
        ended = operation_outcome(success, reason, self._phase_outcomes_locked())
        self.outcome = ended.outcome.word
        self._core.dispatcher.queue(OperationFinished(
            self.operation_id, self.title, success, reason, now - self._started_time, self.outcome, ended.phases
        ))
        return True

    def _phase_outcomes_locked(self) -> dict[str, int]:
        """Outcome word -> how many of its phases (kept or let go, any depth) ended so."""
        counts: dict[str, int] = {}
        nodes = list(preorder(sub_phases(self), sub_phases))
        for node in nodes:
            if node.outcome is not None:
                counts[node.outcome] = counts.get(node.outcome, 0) + 1
        for tally in (self._let_go, *(node._let_go for node in nodes)):
            add_outcomes(counts, tally.outcomes if tally is not None else {})
        return counts

    def _retire_locked(self, finished: list[BaseProgressPhase]) -> None:
        """Note phases that just finished; let the oldest finished go beyond the tracker's
        ``max_finished_phases`` (lock held)."""
        limit = self._core.max_finished_phases
        if limit is None:
            return
        recent = self._recent
        recent.extend(finished)
        while len(recent) > limit:
            _let_go(recent.popleft(), self._core.phases)

    def _elapsed_locked(self, now: float) -> float:
        """Seconds the operation has run (until it finished), for snapshots."""
        end = self._finished_time if self._finished_time is not None else now
        return end - self._started_time
