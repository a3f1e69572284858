"""Hand-written SVG for the HTML report: the timeline's axis and lanes, and the throughput chart.

Every bar is a ``<rect class="bar o-OUTCOME">`` with a ``<title>`` (the browser shows it on
hover) and ``data-`` attributes naming what it stands for; colours come from the page's CSS.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from . import units
from .figures import OUTCOMES, PhaseFigures, Throughput
from .lanes import Bar, Lane

__all__ = ["Scale", "axis", "bar_title", "lanes_svg", "throughput_svg"]

LABEL_W: Final = 170
PLOT_W: Final = 960
WIDTH: Final = LABEL_W + PLOT_W + 20
LANE_H: Final = 14
LANE_STEP: Final = 18
MARKER_H: Final = 6  # a marker covers the top of its lane


@dataclass(frozen=True)
class Scale:
    """Time (epoch seconds) to x pixels, shared by every drawing of one report."""

    start: float
    end: float

    @property
    def span(self) -> float:
        """Seconds from the first to the last moment drawn (never zero)."""
        return max(self.end - self.start, 1e-6)

    @property
    def seconds_per_px(self) -> float:
        """The time one pixel of the plot stands for."""
        return self.span / PLOT_W

    def x(self, moment: float) -> float:
        """The x of ``moment``."""
        return LABEL_W + (moment - self.start) / self.span * PLOT_W


def offset(seconds: float, span: float) -> str:
    """A time since the run's start, as tick labels and tooltips write it."""
    if span < 10:
        return f"+{seconds:.2f} s" if span < 1 else f"+{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"+{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"+{rest // 60}:{rest % 60:02d}"


def _ticks(scale: Scale) -> list[float]:
    step = units.tick_step(scale.span)
    count = int(scale.span / step) + 1
    return [step * index for index in range(count) if step * index <= scale.span + 1e-9]


def _gridlines(scale: Scale, top: float, bottom: float) -> list[str]:
    return [f'<line class="grid" x1="{scale.x(scale.start + t):.1f}" y1="{top}" '
            f'x2="{scale.x(scale.start + t):.1f}" y2="{bottom}"/>' for t in _ticks(scale)]


def _tick_labels(scale: Scale, y: float, marks: bool = False) -> list[str]:
    """A label at each tick (and a short mark below it, with ``marks``)."""
    parts = []
    for tick in _ticks(scale):
        x = scale.x(scale.start + tick)
        if marks:
            parts.append(f'<line x1="{x:.1f}" y1="{y + 4}" x2="{x:.1f}" y2="{y + 10}"/>')
        parts.append(f'<text x="{x:.1f}" y="{y}" text-anchor="middle">{escape(offset(tick, scale.span))}</text>')
    return parts


def axis(scale: Scale) -> str:
    """The time axis above the lanes: ticks at round offsets from the run's start."""
    return "".join([f'<svg class="axis" width="{WIDTH}" height="22" viewBox="0 0 {WIDTH} 22" role="img" '
                    f'aria-label="time since the run started">', *_tick_labels(scale, 12, marks=True), "</svg>"])


def _items(phase: PhaseFigures) -> str:
    return units.counted(phase.current, phase.total)  # 25/10 (+15 over) past its total


def bar_title(bar: Bar, scale: Scale) -> str:
    """What hovering a bar shows: a phase's numbers, or a summary of the phases merged into it."""
    when = f"{offset(bar.start - scale.start, scale.span)} to {offset(bar.end - scale.start, scale.span)}"
    if len(bar.members) == 1:
        phase = bar.members[0]
        outcome = phase.outcome + (f" ({phase.reason})" if phase.reason and phase.reason != phase.outcome else "")
        worker = "" if phase.pid is None else f"\nworker: {phase.host or ''} pid {phase.pid}".replace(":  ", ": ")
        return (f"{phase.title}\n{outcome}\nduration {units.duration(phase.duration)}, items {_items(phase)}, "
                f"{units.rate(phase.rate)}\n{when}{worker}")
    if bar.marker:
        return f"{len(bar.members):,} {bar.outcome} here\n{when}\n" + "\n".join(
            member.title for member in bar.members[:10]) + ("\n..." if len(bar.members) > 10 else "")
    counts = Counter(member.outcome for member in bar.members)
    summary = ", ".join(f"{counts[outcome]:,} {outcome}" for outcome in OUTCOMES if counts[outcome])
    items = sum(member.current for member in bar.members)
    return f"{len(bar.members):,} phases merged: {summary}\n{when}\nitems {units.count(items)}"


def _bar(bar: Bar, scale: Scale, y: float) -> str:
    x = scale.x(bar.start)
    width = max(1.0, scale.x(bar.end) - x)
    what = (f'data-phase-id="{escape(bar.members[0].phase_id)}"' if len(bar.members) == 1
            else f'data-merged="{len(bar.members)}"')
    kind, height = ("bar marker", MARKER_H) if bar.marker else ("bar", LANE_H)
    drawn = (f'<rect class="{kind} o-{bar.outcome}" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height}" '
             f'data-outcome="{bar.outcome}" {what}><title>{escape(bar_title(bar, scale))}</title></rect>')
    fits = int((width - 6) / 6.5)  # characters of an 11 px label that fit in the bar
    if len(bar.members) == 1 and not bar.marker and fits >= 4:
        title = bar.members[0].title
        label = title if len(title) <= fits else title[: fits - 1] + "…"
        drawn += f'<text class="bar-label" x="{x + 3:.1f}" y="{y + LANE_H - 3:.1f}">{escape(label)}</text>'
    return drawn


def lanes_svg(lanes: Sequence[Lane], scale: Scale, label: str) -> str:
    """One group's lanes: a label at the left of each, its bars on the shared time scale."""
    height = len(lanes) * LANE_STEP + 4
    parts = [f'<svg class="lanes" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'aria-label="{escape(label)}">', *_gridlines(scale, 0, height)]
    for number, lane in enumerate(lanes):
        y = 2 + number * LANE_STEP
        fits = int((LABEL_W - 12) / 6.5)  # characters of an 11 px label
        short = lane.label if len(lane.label) <= fits else lane.label[: fits - 1] + "…"
        parts.append(f'<text class="lane-label" x="{LABEL_W - 8}" y="{y + LANE_H - 3}" text-anchor="end">'
                     f'<title>{escape(lane.label)}</title>{escape(short)}</text>')
        parts.extend(_bar(bar, scale, y) for bar in lane.bars)
    parts.append("</svg>")
    return "".join(parts)


def throughput_svg(flow: Throughput, scale: Scale, height: int = 150) -> str:
    """Items per second over time: one column per bucket, its numbers on hover."""
    top, bottom = 12, height - 22
    peak = max(flow.items_per_second, default=0.0) or 1.0
    parts = [f'<svg class="throughput" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
             f'role="img" aria-label="throughput over time">', *_gridlines(scale, top, bottom),
             f'<line class="baseline" x1="{LABEL_W}" y1="{bottom}" x2="{LABEL_W + PLOT_W}" y2="{bottom}"/>',
             f'<text x="{LABEL_W - 8}" y="{top + 4}" text-anchor="end">{escape(units.rate(peak))}</text>',
             f'<text x="{LABEL_W - 8}" y="{bottom}" text-anchor="end">0/s</text>']
    for index, per_second in enumerate(flow.items_per_second):
        begin = flow.start + index * flow.bucket_seconds
        x0, x1 = scale.x(begin), scale.x(begin + flow.bucket_seconds)
        tall = (bottom - top) * per_second / peak
        since = begin - scale.start
        when = f"{offset(since, scale.span)} to {offset(since + flow.bucket_seconds, scale.span)}"
        parts.append(f'<rect class="flow" x="{x0:.1f}" y="{bottom - tall:.1f}" width="{max(0.5, x1 - x0 - 0.5):.1f}" '
                     f'height="{tall:.1f}"><title>{escape(when)}: {escape(units.rate(per_second))}</title></rect>')
    parts.extend(_tick_labels(scale, height - 6))
    parts.append("</svg>")
    return "".join(parts)
