"""What a local tracker keeps of finished phases, and the exact tallies of those it lets go.

A long run inside one open operation (a worker loop over 200,000 small tasks, one phase each)
must not grow without bound, nor make every snapshot walk its whole history.  So an operation
keeps only its newest ``max_finished_phases`` finished phases (at any depth; running phases are
always kept).  When an older finished phase is let go (with its sub-phases, all finished), its
container adds it to a ``Tally``: how many phases it let go by outcome, and the summed roll-up
(current, total) of those directly under it, so roll-ups, percentages and counts stay exact.
"""

from __future__ import annotations

from collections.abc import Mapping

from .._base.snapshot import outcome_of

__all__ = ["Tally", "add_outcomes", "outcome_of"]


class Tally:
    """The finished sub-phases one operation or phase has let go.

    Attributes:
        outcomes: phases let go at any depth below the container, by outcome
            (``snapshot.OUTCOMES``).
        current: the summed roll-up count of the sub-phases let go directly under the container.
        total: their summed roll-up total; ``None`` once any of them had an unknown total.
        phases: how many sub-phases directly under the container were let go.
    """

    __slots__ = ("current", "outcomes", "phases", "total")

    def __init__(self) -> None:
        self.outcomes: dict[str, int] = {}
        self.current: int | float = 0
        self.total: int | None = 0
        self.phases = 0

    def add(self, outcomes: Mapping[str, int], current: int | float, total: int | None) -> None:
        """Take in one sub-phase let go: the outcomes of it and everything under it, its roll-up."""
        add_outcomes(self.outcomes, outcomes)
        self.current += current
        self.total = None if self.total is None or total is None else self.total + total
        self.phases += 1


def add_outcomes(into: dict[str, int], outcomes: Mapping[str, int]) -> None:
    """Add the counts of ``outcomes`` to ``into``."""
    for name, count in outcomes.items():
        into[name] = into.get(name, 0) + count
