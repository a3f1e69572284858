"""Planning the live frame: which phase rows of the running operations fit on the screen.

Pure arithmetic over snapshots, apart from drawing (``console_render``): what is shown, what
folds into a summary line, and what is hidden, for a budget of screen lines.

Phases may nest to any depth, so no walk here recurses (a chain of a few hundred phases would
exhaust Python's stack): ``iter_phases`` keeps its own stack, and rows nested deeper than
``SHOWN_DEPTH`` levels are counted on the fold line instead of drawn.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ..._base.snapshot import OperationSnapshot, PhaseSnapshot
from ._text import outcome

__all__ = [
    "SHOWN_DEPTH",
    "FramePlan",
    "OperationPlan",
    "PhaseRow",
    "dropped_phases",
    "iter_phases",
    "plan_frame",
    "shown_phases",
]

SHOWN_DEPTH = 10
"""Levels of phases drawn as rows (the top level is level 0); deeper ones are counted."""

PhaseRow = tuple[PhaseSnapshot, int]
"""A phase and its depth below the operation (0 for a top-level phase)."""


def iter_phases(operation: OperationSnapshot) -> Iterator[PhaseRow]:
    """Every phase of ``operation`` with its depth, depth first, parents before their sub-phases.

    Iterative: any depth works.
    """
    stack: list[PhaseRow] = [(phase, 0) for phase in reversed(operation.phases)]
    while stack:
        phase, depth = stack.pop()
        yield phase, depth
        if phase.phases:
            stack.extend((child, depth + 1) for child in reversed(phase.phases))


def shown_phases(operation: OperationSnapshot) -> tuple[tuple[PhaseRow, ...], Counter[str]]:
    """The rows of ``operation`` down to ``SHOWN_DEPTH`` levels, and how the deeper phases stand.

    Returns:
        The rows (depth first), and outcome (``running``, ``finished``, ``failed``...) -> number of
        phases nested deeper than ``SHOWN_DEPTH`` levels.
    """
    # ``iter_phases`` inlined: this runs over every phase of every running operation ten times
    # a second, and most phases have no sub-phases.
    rows: list[PhaseRow] = []
    deeper: Counter[str] = Counter()
    stack: list[PhaseRow] = [(phase, 0) for phase in reversed(operation.phases)]
    while stack:
        row = stack.pop()
        phase, depth = row
        if depth < SHOWN_DEPTH:
            rows.append(row)
        else:
            deeper[outcome(phase)] += 1
        if phase.phases:
            stack.extend((child, depth + 1) for child in reversed(phase.phases))
    return tuple(rows), deeper


def dropped_phases(operation: OperationSnapshot, rows: Sequence[PhaseRow], deeper: Counter[str]) -> Counter[str]:
    """The finished phases the tracker no longer keeps (``operation.pruned``), by outcome.

    Args:
        operation: the operation.
        rows: its rows (``shown_phases``).
        deeper: its phases nested deeper than the rows, by outcome (``shown_phases``).
    """
    kept = Counter(outcome(phase) for phase, _ in rows if phase.finished) + _finished(deeper)
    return Counter(operation.finished_counts) - kept


def _finished(counts: Counter[str]) -> Counter[str]:
    return Counter({name: count for name, count in counts.items() if name != "running"})


@dataclass(frozen=True)
class OperationPlan:
    """One operation's share of the frame: the rows shown and what was folded away.

    ``folded`` counts the finished phases not shown, by outcome (those the tracker no longer
    keeps too: ``OperationSnapshot.finished_counts``), ``folded_running`` the running ones,
    ``deeper`` the phases nested deeper than ``SHOWN_DEPTH`` levels, by outcome.
    """

    operation: OperationSnapshot
    rows: tuple[PhaseRow, ...]
    folded: Counter[str] = field(default_factory=Counter)
    folded_running: int = 0
    deeper: Counter[str] = field(default_factory=Counter)

    @property
    def has_fold_line(self) -> bool:
        """Whether anything was folded, so the operation ends with a fold line."""
        return bool(self.folded or self.folded_running or self.deeper)

    @property
    def lines(self) -> int:
        """Screen lines used: header, rows, and a fold line if anything was folded."""
        return 1 + len(self.rows) + self.has_fold_line


@dataclass(frozen=True)
class FramePlan:
    """The whole live frame: operations shown, and how many did not fit at all."""

    operations: tuple[OperationPlan, ...]
    hidden_operations: int = 0
    hidden_running: int = 0


def _share(demands: Sequence[int], supply: int) -> list[int]:
    """Split ``supply`` rows fairly: nobody gets more than they need, the rest is even."""
    shares = [0] * len(demands)
    left = max(0, supply)
    order = sorted(range(len(demands)), key=demands.__getitem__)
    for done, index in enumerate(order):
        shares[index] = min(demands[index], left // (len(order) - done))
        left -= shares[index]
    return shares


def _fold_shares(demands: Sequence[int], has_fold_line: Sequence[bool], room: int) -> list[int]:
    """Rows per operation when an operation that must fold rows also needs a fold line."""
    extra: set[int] = set()
    shares = _share(demands, room)
    for _ in range(len(demands)):
        need = {i for i, (share, demand) in enumerate(zip(shares, demands, strict=True)) if share < demand}
        need = {i for i in need if not has_fold_line[i]}
        if need <= extra:
            break
        extra |= need
        shares = _share(demands, room - len(extra))
    for i in extra:  # folding a single row would cost the line it frees: show the row instead
        if demands[i] - shares[i] == 1:
            shares[i] += 1
    return shares


def plan_frame(operations: Sequence[OperationSnapshot], budget: int) -> FramePlan:
    """Decide which rows of the running operations fit in ``budget`` screen lines.

    Everything is shown when it fits (with a fold line for the phases the tracker no longer
    keeps, if any).  Otherwise finished phases fold into one summary line per
    operation; if running phases still do not fit, each operation gets a fair share of rows
    (parents before their sub-phases) and the rest fold too; operations that get no room at
    all fold into a last line.

    Args:
        operations: the operations to show, oldest first.
        budget: screen lines available, at least 3.

    Returns:
        The plan ``render_frame`` draws.
    """
    walks = [shown_phases(op) for op in operations]
    every = [rows for rows, _ in walks]
    deeper = [counts for _, counts in walks]
    dropped = [
        dropped_phases(op, rows, deep) if op.pruned else Counter[str]()
        for op, (rows, deep) in zip(operations, walks, strict=True)
    ]
    if sum(1 + len(rows) + bool(deep or gone) for (rows, deep), gone in zip(walks, dropped, strict=True)) <= budget:
        return FramePlan(
            tuple(
                OperationPlan(op, rows, gone, deeper=deep)
                for op, (rows, deep), gone in zip(operations, walks, dropped, strict=True)
            )
        )
    active = [tuple(row for row in rows if not row[0].finished) for rows in every]
    # Every finished phase, kept or dropped by the tracker, less those counted as nested deeper.
    folded = [Counter(op.finished_counts) - _finished(deep) for op, deep in zip(operations, deeper, strict=True)]
    if sum(2 + len(rows) for rows in active) <= budget:
        return FramePlan(
            tuple(
                OperationPlan(op, rows, counts, deeper=deep)
                for op, rows, counts, deep in zip(operations, active, folded, deeper, strict=True)
            )
        )
    shown = len(operations) if 2 * len(operations) <= budget else max(1, (budget - 1) // 2)
    hidden_running = sum(len(rows) + deep["running"] for rows, deep in zip(active[shown:], deeper[shown:], strict=True))
    demands = [len(rows) for rows in active[:shown]]
    fold_lines = [bool(counts or deep) for counts, deep in zip(folded[:shown], deeper[:shown], strict=True)]
    room = budget - sum(1 + fold_line for fold_line in fold_lines) - (shown < len(operations))
    shares = _fold_shares(demands, fold_lines, room)
    plans = tuple(
        OperationPlan(op, rows[:share], counts, len(rows) - share, deep)
        for op, rows, counts, share, deep in zip(operations, active, folded, shares, deeper, strict=False)
    )
    return FramePlan(plans, len(operations) - shown, hidden_running)
