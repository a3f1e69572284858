"""Read-only views of a tracker's state, for sinks and web adapters to render from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from .outcomes import WORDS, phase_outcome

__all__ = ["NO_OUTCOMES", "OUTCOMES", "OperationSnapshot", "PhaseSnapshot", "TrackerSnapshot", "outcome_of"]

OUTCOMES = WORDS
"""How a finished phase ended, as ``finished_counts`` counts it: the words of ``outcomes.OUTCOMES``."""

NO_OUTCOMES: Mapping[str, int] = MappingProxyType({})


def outcome_of(success: bool | None, reason: str | None, current: float = 0, total: int | None = None) -> str:
    """The word of a finished phase's outcome (``outcomes.phase_outcome``): ``succeeded``,
    ``incomplete`` (a success short of its total), or the failure its reason names, ``failed``
    for any other reason (so a count by outcome has at most six keys)."""
    return phase_outcome(success, reason, current, total).word


@dataclass(frozen=True)
class PhaseSnapshot:
    """One phase as it stood when the snapshot was taken.

    ``rollup_current`` / ``rollup_total`` are the phase's own count and total, except for a
    phase with sub-phases and no total of its own: it reports the sums of its sub-phases
    (``rollup_total`` is ``None`` if any of them has no total), including those no longer in
    ``phases``.  ``percentage`` follows them.  Such a rolled-up phase's ``rate`` is
    ``rollup_current`` over its ``elapsed`` time, and its ``eta`` that of its running sub-phases
    (as ``OperationSnapshot.eta``).

    A tracker keeps only the newest finished phases of an operation (``max_finished_phases``);
    ``finished_counts`` counts every finished phase below this one by outcome (``OUTCOMES``),
    kept or not, and ``pruned`` says how many of them ``phases`` no longer holds, at any depth:
    what a sink shows as "… and 4,950 more finished".

    ``stalled`` is true while the worker of a running remote phase has been silent past the
    aggregator's stall timeout: in doubt, not final (``remote/registry.py``); it clears when the
    worker is heard from again, and the phase ends ``lost`` only once the worker is known gone.

    ``resumed_from`` is the count the phase resumed at from an earlier run (``resume.py``), or
    ``None`` when it started afresh: what a sink shows as "resumed at 400/1,000".

    ``outcome`` is the word of a finished phase's outcome (``outcomes.OUTCOMES``), ``None``
    while it runs; for a failure, ``reason`` says why (an exception's ``"Type: message"``).
    """

    phase_id: str
    operation_id: str
    parent_phase_id: str | None
    title: str
    description: str | None
    current: int | float
    total: int | None
    rollup_current: int | float
    rollup_total: int | None
    percentage: float | None
    message: str | None
    started_at: datetime
    elapsed: float
    rate: float | None
    peak_rate: float | None
    eta: float | None
    finished: bool
    success: bool | None
    reason: str | None
    cancelled: bool
    depth: int
    phases: tuple[PhaseSnapshot, ...] = ()
    finished_counts: Mapping[str, int] = field(default_factory=lambda: NO_OUTCOMES)
    pruned: int = 0
    stalled: bool = False
    resumed_from: int | float | None = None
    outcome: str | None = None

    def walk(self) -> tuple[PhaseSnapshot, ...]:
        """This phase and all its sub-phases, depth first (parents before their sub-phases)."""
        return _depth_first((self,))


@dataclass(frozen=True)
class OperationSnapshot:
    """One operation and its phases (top-level phases; sub-phases nest inside them).

    ``finished_counts`` and ``pruned`` count the operation's finished phases at any depth, as
    ``PhaseSnapshot`` explains.  ``rate`` is the summed recent rate of its running phases and
    ``eta`` the seconds until they are all done (``metrics.Outlook``): ``None`` while any of
    them has no total or has stalled, while nothing moves yet, and once the operation finished.
    ``outcome`` is the word of a finished operation's outcome (``outcomes.operation_outcome``),
    ``None`` while it runs.
    """

    operation_id: str
    title: str
    description: str | None
    started_at: datetime
    elapsed: float
    finished: bool
    success: bool | None
    cancelled: bool
    phases: tuple[PhaseSnapshot, ...] = ()
    finished_counts: Mapping[str, int] = field(default_factory=lambda: NO_OUTCOMES)
    pruned: int = 0
    rate: float | None = None
    eta: float | None = None
    outcome: str | None = None

    def all_phases(self) -> tuple[PhaseSnapshot, ...]:
        """Every phase of the operation, depth first (parents before their sub-phases)."""
        return _depth_first(self.phases)


def _depth_first(roots: tuple[PhaseSnapshot, ...]) -> tuple[PhaseSnapshot, ...]:
    # A loop, not a recursion: phases nest deeper than Python's recursion limit.
    found: list[PhaseSnapshot] = []
    stack = list(reversed(roots))
    while stack:
        phase = stack.pop()
        found.append(phase)
        stack.extend(reversed(phase.phases))
    return tuple(found)


@dataclass(frozen=True)
class TrackerSnapshot:
    """All operations a tracker holds, oldest first."""

    operations: tuple[OperationSnapshot, ...] = field(default=())

    def get(self, operation_id: str) -> OperationSnapshot | None:
        """The operation with this id, or ``None``."""
        return next((op for op in self.operations if op.operation_id == operation_id), None)
