"""The timeline's layout: phases into lanes, lanes into groups, bars merged below a pixel.

One lane per worker process, grouped by host; phases that say no worker are grouped by their
operation.  Phases that overlap in one lane (sub-phases, threads) take extra lanes, first fit.
Bars narrower than a few pixels that touch are merged into one bar, coloured by the most
serious outcome among them; a group with many lanes is folded (drawn as one overview lane
until opened), and past ``max_drawn`` lanes a group draws no more.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from .figures import OUTCOMES, PhaseFigures, worker_label

__all__ = ["Bar", "Lane", "LaneGroup", "layout"]

MERGE_BELOW_PX: Final = 3.0
_SEVERITY: Final = {outcome: rank for rank, outcome in enumerate(OUTCOMES)}


@dataclass(frozen=True)
class Bar:
    """One bar: a phase, or several merged ones (``members``)."""

    start: float
    end: float
    outcome: str
    members: tuple[PhaseFigures, ...]


@dataclass(frozen=True)
class Lane:
    """One row of bars."""

    label: str
    bars: list[Bar]


@dataclass(frozen=True)
class LaneGroup:
    """A host's workers, or one operation's phases without a worker."""

    name: str
    lanes: list[Lane]  # those drawn when open (at most ``max_drawn``)
    hidden_lanes: int  # lanes not drawn at all
    folded: bool
    overview: Lane  # every phase of the group in one lane
    outcomes: dict[str, int]
    phases: int


def _worst(members: Iterable[PhaseFigures]) -> str:
    return min((member.outcome for member in members), key=_SEVERITY.__getitem__)


def merge(phases: Sequence[PhaseFigures], seconds_per_px: float, *, overlapping: bool = False) -> list[Bar]:
    """Bars for ``phases`` of one lane, in time order: neighbours closer than a pixel merge when one
    of them is narrower than ``MERGE_BELOW_PX`` pixels (any that touch, with ``overlapping``)."""
    bars: list[Bar] = []
    narrow = MERGE_BELOW_PX * seconds_per_px
    members: list[PhaseFigures] = []
    start = end = 0.0
    for phase in sorted(phases, key=lambda p: p.started_at):
        if members and phase.started_at <= end + seconds_per_px and (
            overlapping or end - start < narrow or phase.end - phase.started_at < narrow
        ):
            members.append(phase)
            end = max(end, phase.end)
            continue
        if members:
            bars.append(Bar(start, end, _worst(members), tuple(members)))
        members, start, end = [phase], phase.started_at, phase.end
    if members:
        bars.append(Bar(start, end, _worst(members), tuple(members)))
    return bars


def _first_fit(phases: Sequence[PhaseFigures]) -> list[list[PhaseFigures]]:
    """Phases into as few rows as keep them from overlapping (earliest free row first)."""
    rows: list[list[PhaseFigures]] = []
    free: list[tuple[float, int]] = []  # (end of the row's last phase, row)
    for phase in sorted(phases, key=lambda p: (p.started_at, -p.end)):
        if free and free[0][0] <= phase.started_at:
            _, row = heapq.heappop(free)
        else:
            row = len(rows)
            rows.append([])
        rows[row].append(phase)
        heapq.heappush(free, (phase.end, row))
    return rows


def layout(
    phases: Sequence[PhaseFigures], titles: dict[str, str], seconds_per_px: float,
    *, fold_above: int = 24, max_drawn: int = 200,
) -> list[LaneGroup]:
    """The timeline's groups, in order of their first phase.

    Args:
        phases: the run's phases.
        titles: operation id -> title (names the groups of phases without a worker).
        seconds_per_px: the time one pixel of the plot stands for.
        fold_above: a group with more lanes than this starts folded.
        max_drawn: lanes drawn at most per group (the rest are counted).
    """
    by_group: dict[str, dict[int | None, list[PhaseFigures]]] = defaultdict(lambda: defaultdict(list))
    for phase in phases:
        if phase.host is None and phase.pid is None:
            name = f"operation: {titles.get(phase.operation_id, phase.operation_id)}"
        else:
            name = f"host {phase.host}" if phase.host is not None else "host unknown"
        by_group[name][phase.pid].append(phase)
    groups = []
    for name, workers in by_group.items():
        lanes: list[tuple[float, Lane]] = []
        members = [phase for worker in workers.values() for phase in worker]
        for pid, worker_phases in workers.items():
            label = worker_label(None, pid, "") if pid is not None else "lane"
            for number, row in enumerate(_first_fit(worker_phases)):
                text = label if number == 0 and pid is not None else f"{label} {number + 1}"
                lanes.append((row[0].started_at, Lane(text, merge(row, seconds_per_px))))
        lanes.sort(key=lambda item: item[0])
        drawn = [lane for _, lane in lanes[:max_drawn]]
        groups.append((
            min(p.started_at for p in members),
            LaneGroup(
                name=name, lanes=drawn, hidden_lanes=len(lanes) - len(drawn), folded=len(lanes) > fold_above,
                overview=Lane("all", merge(members, seconds_per_px, overlapping=True)),
                outcomes=dict(Counter(p.outcome for p in members)), phases=len(members),
            ),
        ))
    groups.sort(key=lambda item: item[0])
    return [group for _, group in groups]
