"""Planning the live frame: which phase rows of the running operations fit on the screen.

Pure arithmetic over snapshots, apart from drawing (``console_render``): what is shown, what
folds into a summary line, and what is hidden, for a budget of screen lines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..snapshot import OperationSnapshot, PhaseSnapshot
from .console_text import outcome

__all__ = ["FramePlan", "OperationPlan", "plan_frame"]


@dataclass(frozen=True)
class OperationPlan:
    """One operation's share of the frame: the rows shown and what was folded away."""

    operation: OperationSnapshot
    rows: tuple[PhaseSnapshot, ...]
    folded: Counter[str] = field(default_factory=Counter)
    folded_running: int = 0

    @property
    def lines(self) -> int:
        """Screen lines used: header, rows, and a fold line if anything was folded."""
        return 1 + len(self.rows) + (1 if self.folded or self.folded_running else 0)


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

    Everything is shown when it fits.  Otherwise finished phases fold into one summary line per
    operation; if running phases still do not fit, each operation gets a fair share of rows
    (parents before their sub-phases) and the rest fold too; operations that get no room at
    all fold into a last line.

    Args:
        operations: the operations to show, oldest first.
        budget: screen lines available, at least 3.

    Returns:
        The plan ``render_frame`` draws.
    """
    every = [op.all_phases() for op in operations]
    if sum(1 + len(rows) for rows in every) <= budget:
        return FramePlan(tuple(OperationPlan(op, rows) for op, rows in zip(operations, every, strict=True)))
    active = [tuple(p for p in rows if not p.finished) for rows in every]
    folded = [Counter(outcome(p) for p in rows if p.finished) for rows in every]
    if sum(2 + len(rows) for rows in active) <= budget:
        return FramePlan(tuple(OperationPlan(*parts) for parts in zip(operations, active, folded, strict=True)))
    shown = len(operations) if 2 * len(operations) <= budget else max(1, (budget - 1) // 2)
    hidden_running = sum(len(rows) for rows in active[shown:])
    demands = [len(rows) for rows in active[:shown]]
    room = budget - sum(1 + bool(counts) for counts in folded[:shown]) - (shown < len(operations))
    shares = _fold_shares(demands, [bool(counts) for counts in folded[:shown]], room)
    plans = tuple(
        OperationPlan(op, rows[:share], counts, len(rows) - share)
        for op, rows, counts, share in zip(operations, active, folded, shares, strict=False)
    )
    return FramePlan(plans, len(operations) - shown, hidden_running)
