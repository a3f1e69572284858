"""Snapshots of a local tracker's operations, taken under the tracker's lock.

The reading side of ``phases.py``: it reads operations and phases (the tracker's lock held) and
builds the read-only views of ``snapshot.py``.  Reading changes nothing.  One walk, bottom up and
without recursion (``tree.fold``), builds every phase's view from its sub-phases' views, so each
phase is visited once however deep the nest:

- a parent without a total of its own rolls up its sub-phases: its count and total are theirs
  summed (with those let go: ``retention.py``), its rate is that count over its elapsed time
  (as its ``phase_finished`` event says), and its ETA is the outlook of its running sub-phases;
- the outlook (``metrics.Outlook``) of each running phase with a total of its own is taken from
  its rate meter and added up the tree, so an operation's ``rate`` and ``eta`` account for its
  phases running side by side.
"""

from __future__ import annotations

from collections.abc import Mapping

from .._base.metrics import Outlook, finished_rate, per_second
from .._base.snapshot import NO_OUTCOMES, OperationSnapshot, PhaseSnapshot, outcome_of
from .phases import BaseProgressOperation, BaseProgressPhase, rolled_up, sub_phases
from .retention import Tally, add_outcomes
from .tree import fold

__all__ = ["operation_snapshot"]

_Node = tuple[BaseProgressPhase, bool]  # a phase, and whether it or an ancestor was cancelled
_Built = tuple[PhaseSnapshot, Outlook]  # a phase's view, and the outlook of the work under it


def operation_snapshot(op: BaseProgressOperation, now: float) -> OperationSnapshot:
    """The view of ``op`` and all its kept phases at clock reading ``now`` (lock held).

    Args:
        op: the operation.
        now: the tracker's clock reading.
    """

    def children(node: _Node) -> list[_Node]:
        return [(child, node[1] or child._cancelled) for child in sub_phases(node[0])]

    def build(node: _Node, built: list[_Built]) -> _Built:
        return _phase_snapshot(node[0], node[1], built, now)

    roots = [(phase, op._cancelled or phase._cancelled) for phase in sub_phases(op)]
    built = fold(roots, children, build)
    phases = [view for view, _ in built]
    outcomes, pruned = _finished_below(op._let_go, phases)
    outlook = Outlook.combine(outlook for _, outlook in built) if not op.finished else Outlook()
    return OperationSnapshot(
        operation_id=op.operation_id,
        title=op.title,
        description=op.description,
        started_at=op.started_at,
        elapsed=op._elapsed_locked(now),
        finished=op.finished,
        success=op.success,
        cancelled=op._cancelled,
        phases=tuple(phases),
        finished_counts=outcomes,
        pruned=pruned,
        rate=outlook.total_rate,
        eta=outlook.eta,
        outcome=op.outcome,
    )


def _phase_snapshot(phase: BaseProgressPhase, cancelled: bool, built: list[_Built], now: float) -> _Built:
    elapsed, speed = phase._figures_locked(now)
    rate, peak, eta = speed
    let_go = phase._let_go
    phases = [view for view, _ in built]
    counts = [(child.rollup_current, child.rollup_total) for child in phases]
    current, total = rolled_up(phase.current, phase.total, let_go, counts)
    outcomes, pruned = _finished_below(let_go, phases)
    rolls_up = phase.rolls_up
    if phase.finished:
        outlook = Outlook()
    elif not rolls_up:
        outlook = Outlook.of_phase(phase.current, phase.total, speed)
    else:
        outlook = Outlook.combine(outlook for _, outlook in built)
    if rolls_up:  # its speed is its sub-phases': their count over its time, their outlook
        rate = (finished_rate if phase.finished else per_second)(current, elapsed)
        eta = outlook.eta
    view = PhaseSnapshot(
        phase_id=phase.phase_id,
        operation_id=phase.operation_id,
        parent_phase_id=phase.parent_phase_id,
        title=phase.title,
        description=phase.description,
        current=phase.current,
        total=phase.total,
        rollup_current=current,
        rollup_total=total,
        percentage=None if not total else min(100.0, current / total * 100.0),
        message=phase.last_message,
        started_at=phase.started_at,
        elapsed=elapsed,
        rate=rate,
        peak_rate=peak,
        eta=eta,
        finished=phase.finished,
        success=phase.success,
        reason=phase.reason,
        cancelled=cancelled,
        depth=phase.depth,
        phases=tuple(phases),
        finished_counts=outcomes,
        pruned=pruned,
        stalled=phase.stalled and not phase.finished,
        resumed_from=phase.resumed_from,
        outcome=phase.outcome,
    )
    return view, outlook


def _finished_below(let_go: Tally | None, phases: list[PhaseSnapshot]) -> tuple[Mapping[str, int], int]:
    """(finished phases by outcome, how many of them were let go) below a container, at any
    depth, from what it let go and its kept sub-phases' views."""
    if let_go is None and not phases:
        return NO_OUTCOMES, 0
    outcomes: dict[str, int] = {}
    pruned = 0
    if let_go is not None:
        add_outcomes(outcomes, let_go.outcomes)
        pruned = sum(let_go.outcomes.values())
    for child in phases:
        if child.finished:
            name = child.outcome or outcome_of(child.success, child.reason)
            outcomes[name] = outcomes.get(name, 0) + 1
        add_outcomes(outcomes, child.finished_counts)
        pruned += child.pruned
    return outcomes or NO_OUTCOMES, pruned
