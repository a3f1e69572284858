"""The timeline picture of a journaled run, as one standalone SVG document for the page.

Drawn with the report's own pieces (``report.lanes.layout``, ``report.svg``) from the journal
the run writes; the page shows it as an ``<img>``, where an SVG can run no script and load
nothing.  A big group of lanes is drawn as its one overview lane (the report's folding).
Re-drawn at most every ``every`` seconds, and only when the journal file changed.  A relay's
run spans the relay's whole life, so the page may ask for a window instead (``WINDOWS``): the
latest operation, or the last minutes; phases that began before it are cut at its left edge.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from html import escape
from pathlib import Path

from .._report.figures import RunFigures
from .._report.lanes import layout
from .._report.reader import load_run
from .._report.svg import LANE_STEP, WIDTH, Scale, axis, lanes_svg
from .._report.units import OUTCOME_COLOURS
from ..adapters.journal._schema import JournalError
from .hub import WINDOWS

__all__ = ["JournalTimeline", "timeline_svg", "window_start"]

_STYLE = (
    "text{font:11px system-ui,sans-serif;fill:#495057}.lane-label{fill:#343a40}line{stroke:#adb5bd}"
    "line.grid{stroke:#f1f3f5}.bar{stroke:#fff;stroke-width:.5}text.bar-label{fill:#fff;font-size:10px}"
    ".group{font-weight:600;fill:#212529}"
    + "".join(f".o-{name}{{fill:{colour}}}" for name, colour in OUTCOME_COLOURS.items())
)


def window_start(figures: RunFigures, window: str | None, now: float) -> float | None:
    """Where ``window`` (one of ``WINDOWS``; anything else: the whole run) begins, or ``None``."""
    if window == "latest":
        return max((op.started_at for op in figures.operations), default=None)
    if window in WINDOWS:
        return now - 60 * int(window[:-1])
    return None


def timeline_svg(figures: RunFigures, since: float | None = None) -> bytes:
    """The run's timeline: the time axis, then per group of workers its lanes (or its overview).

    Args:
        figures: the run.
        since: draw only from this moment on (phases over by then are left out, earlier starts cut).
    """
    run = figures.run
    phases = figures.phases
    start = min([run.started_at, *(p.started_at for p in phases)])
    if since is not None and since > start:
        start = min(since, run.end)
        phases = [replace(p, started_at=max(p.started_at, start)) for p in phases if p.end >= start]
    scale = Scale(start, run.end)
    titles = {op.operation_id: op.title for op in figures.operations}
    parts, y = [], 0
    parts.append(f'<g transform="translate(0,{y})">{axis(scale)}</g>')
    y += 24
    for group in layout(phases, titles, scale.start, scale.seconds_per_px):
        lanes = [group.overview] if group.folded else group.lanes
        note = f" (folded: {len(group.lanes) + group.hidden_lanes:,} lanes)" if group.folded else ""
        parts.append(f'<text class="group" x="4" y="{y + 12}">{escape(group.name + note)}</text>')
        y += 18
        parts.append(f'<g transform="translate(0,{y})">{lanes_svg(lanes, scale, group.name)}</g>')
        y += len(lanes) * LANE_STEP + 8
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y}" viewBox="0 0 {WIDTH} {y}">'
            f"<style>{_STYLE}</style>{''.join(parts)}</svg>").encode()


class JournalTimeline:
    """The timeline of the latest run in a journal, re-drawn when the file changes.

    Call it for ``(version, svg)``, or ``None`` while the journal holds no run yet.

    Args:
        path: the journal file.
        every: seconds at least between two drawings.
        soon: seconds at least between two drawings for a while after ``urge()`` (a phase
            finished: the page's cards say so at once, the timeline must not lag behind them).
    """

    def __init__(self, path: str | os.PathLike[str], every: float = 3.0, soon: float = 0.3) -> None:
        self._path = Path(path)
        self._every = every
        self._soon = soon
        self._urged_until = float("-inf")
        self._lock = threading.Lock()
        self._drawn: tuple[int, bytes] | None = None
        self._figures: RunFigures | None = None  # of the newest drawing
        self._stamp: tuple[float, ...] = ()
        self._at = float("-inf")

    def _file_stamp(self) -> tuple[float, ...]:
        stamps: list[float] = []
        for suffix in ("", "-wal"):
            try:
                stat = os.stat(f"{self._path}{suffix}")
                stamps += [stat.st_mtime, stat.st_size]
            except OSError:
                stamps += [0.0, 0.0]
        return tuple(stamps)

    def urge(self) -> None:
        """Something the timeline shows happened (a phase finished): for the next two seconds,
        draw again as soon as the journal file changes (``soon`` seconds apart at least)."""
        with self._lock:
            self._urged_until = time.monotonic() + 2.0

    def __call__(self) -> tuple[int, bytes] | None:
        with self._lock:
            now = time.monotonic()
            if now - self._at < (self._soon if now < self._urged_until else self._every):
                return self._drawn
            stamp = self._file_stamp()
            if stamp == self._stamp:
                return self._drawn
            self._at = now
            try:
                figures = load_run(self._path)
                svg = timeline_svg(figures)
            except (JournalError, OSError, ValueError):  # not a journal yet, no run yet: try again later
                return self._drawn
            self._figures = figures
            self._stamp = stamp
            version = (self._drawn[0] if self._drawn else 0) + 1
            self._drawn = (version, svg)
            return self._drawn

    def window(self, window: str | None) -> bytes | None:
        """The newest drawing, or the same run drawn over ``window`` (see ``WINDOWS``)."""
        drawn = self()
        with self._lock:
            figures = self._figures
        since = window_start(figures, window, time.time()) if figures is not None else None
        if since is None or figures is None:
            return None if drawn is None else drawn[1]
        return timeline_svg(figures, since)
