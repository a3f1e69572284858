"""The timeline's layout: phases into lanes, lanes into groups, bars merged below a pixel.

One lane per worker process, grouped by host, labelled by its pid and what it ran; phases that
say no worker are grouped by their operation.  Phases that overlap in one lane (sub-phases,
threads) take extra lanes, first fit.
Phases narrower than a few pixels are gathered into bins two pixels wide; neighbouring bins of
one most common outcome become one bar, and a bin holding a rarer, more serious outcome (a
failure among thousands) gets a marker of that colour over it.  A group with many lanes is
folded (drawn as one overview lane until opened), and past ``max_drawn`` lanes a group draws
no more.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from .figures import OUTCOMES, PhaseFigures, ran, worker_label

__all__ = ["Bar", "Lane", "LaneGroup", "layout"]

MERGE_BELOW_PX: Final = 3.0  # narrower phases are drawn in bins
BIN_PX: Final = 2.0
_SEVERITY: Final = {outcome: rank for rank, outcome in enumerate(OUTCOMES)}


@dataclass(frozen=True)
class Bar:
    """One bar: a phase, or several merged ones (``members``) coloured by their most common
    outcome; a ``marker`` is drawn over the bars where rarer, more serious outcomes are."""

    start: float
    end: float
    outcome: str
    members: tuple[PhaseFigures, ...]
    marker: bool = False


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


def _most_common(members: Sequence[PhaseFigures]) -> str:
    counts = Counter(member.outcome for member in members)
    return min(counts, key=lambda outcome: (-counts[outcome], _SEVERITY[outcome]))  # a tie: the more serious


def merge(phases: Sequence[PhaseFigures], origin: float, seconds_per_px: float, *,
          overlapping: bool = False) -> list[Bar]:
    """Bars for ``phases`` of one lane, the most serious drawn last (on top).

    Each phase at least ``MERGE_BELOW_PX`` wide is its own bar.  Narrower ones (all of them, with
    ``overlapping``) fall into ``BIN_PX``-wide bins from ``origin``: neighbouring bins with the
    same most common outcome make one bar, and a bin holding a more serious outcome than that
    gets a marker in that outcome's colour (a failure among thousands stays visible).
    """
    window = BIN_PX * seconds_per_px
    bars: list[Bar] = []
    bins: dict[int, list[PhaseFigures]] = defaultdict(list)
    for phase in phases:
        if not overlapping and phase.end - phase.started_at >= MERGE_BELOW_PX * seconds_per_px:
            bars.append(Bar(phase.started_at, phase.end, phase.outcome, (phase,)))
            continue
        for index in range(int((phase.started_at - origin) / window), int((phase.end - origin) / window) + 1):
            bins[index].append(phase)
    base: list[tuple[int, str, list[PhaseFigures]]] = []
    markers: list[tuple[int, str, list[PhaseFigures]]] = []
    for index in sorted(bins):
        common, worst = _most_common(bins[index]), _worst(bins[index])
        base.append((index, common, bins[index]))
        if worst != common:
            markers.append((index, worst, [phase for phase in bins[index] if phase.outcome == worst]))
    bars.extend(_runs(base, origin, window))
    bars.extend(_runs(markers, origin, window, marker=True))
    return sorted(bars, key=lambda bar: (bar.marker, -_SEVERITY[bar.outcome], bar.start))


def _runs(bins: list[tuple[int, str, list[PhaseFigures]]], origin: float, window: float, *,
          marker: bool = False) -> list[Bar]:
    """One bar per run of neighbouring bins of one outcome; a marker spans its bins, a bar its phases."""
    bars: list[Bar] = []
    members: dict[int, PhaseFigures] = {}  # the run's phases, each once, in order
    first = previous = -2
    outcome = ""
    for index, kind, phases in [*bins, (-2, "", [])]:  # the sentinel closes the last run
        if members and (index != previous + 1 or kind != outcome):
            gathered = tuple(members.values())
            if marker:
                bars.append(Bar(origin + first * window, origin + (previous + 1) * window, outcome, gathered, True))
            else:
                bars.append(Bar(min(p.started_at for p in gathered), max(p.end for p in gathered), outcome, gathered))
            members = {}
        if not members:
            first = index
        for phase in phases:
            members.setdefault(id(phase), phase)
        outcome, previous = kind, index
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
    phases: Sequence[PhaseFigures], titles: dict[str, str], origin: float, seconds_per_px: float,
    *, fold_above: int = 24, max_drawn: int = 200,
) -> list[LaneGroup]:
    """The timeline's groups, in order of their first phase.

    Args:
        phases: the run's phases.
        titles: operation id -> title (names the groups of phases without a worker).
        origin: the time at the left of the plot.
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
                lanes.append((row[0].started_at, Lane(f"{text}: {ran(row, 1)}", merge(row, origin, seconds_per_px))))
        lanes.sort(key=lambda item: item[0])
        drawn = [lane for _, lane in lanes[:max_drawn]]
        groups.append((
            min(p.started_at for p in members),
            LaneGroup(
                name=name, lanes=drawn, hidden_lanes=len(lanes) - len(drawn), folded=len(lanes) > fold_above,
                overview=Lane("all", merge(members, origin, seconds_per_px, overlapping=True)),
                outcomes=dict(Counter(p.outcome for p in members)), phases=len(members),
            ),
        ))
    groups.sort(key=lambda item: item[0])
    return [group for _, group in groups]
