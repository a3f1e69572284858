"""Speed figures: a phase's recent rate, peak and time remaining, and an operation's outlook.

The one place they are computed, for events and snapshots alike.  Only ``RateMeter.sample``
changes a meter, and only a reported count (a ``progress_update``) is sampled; reading the
figures (``speed``, ``final``, ``Outlook``) never changes anything, so a display that refreshes
often sees the same numbers as one that refreshes rarely.

How the rate is estimated, and why:

- **Recent, not since the start, and settled within two seconds.**  The rate is the items
  counted over a short window before the last sample over the window's length.  Between two
  samples the count is read on the straight line joining them, so a count reported in bursts
  (a chunk of results every half second, a worker's state every 50 ms) reads as the steady
  pace it is, and how often a phase reports does not change the rate.  Samples less than
  ``min_interval`` apart make one point, the later moving the earlier: a burst whose first
  update is reported at once and the rest by the throttle 50 ms later lands whole.  A window
  of a fixed length forgets an old pace entirely once it has passed: after a change of pace
  the rate is right once the window has filled with the new one, however different the old
  one was (an average that only decays, exponentially, needs a short time constant to forget
  a fast pace and then swings with every sample).
- **A window that adapts.**  It spans ``MIN_WINDOW`` seconds, or the last ``WINDOW_ITEMS``
  items, or ``WINDOW_GAPS`` usual gaps between samples (itself smoothed; a single long gap
  counts at most ``GAP_OUTLIER`` times the usual one), whichever is longest, and at most
  ``MAX_WINDOW``: a fast count is measured over 1.5 s, one item every 2 s over its last 16
  items, a count that moves in chunks every 10 s over three chunks, so the rate does not swing
  with every item or chunk.  There is always a rate once the count has moved, however long the
  phase runs.
- **The time before the first report is setup.**  Until a second sample arrives, the only rate
  is the first count over the time since the start; from then on the span before the first
  sample (a loop's first slow item, a pool starting) is left out, so a slow start does not hold
  the rate down afterwards.
- **A stall decays the rate at read time.**  A count that has not moved for longer than
  ``GRACE_GAPS`` usual gaps is stalling: its rate is read as ``rate * exp(-(silence - grace) /
  scale)`` (``scale``: the window, at least ``SILENCE_SCALE``), so it falls the longer nothing
  happens and the ETA grows; once the silence passes ``grace + STALL_WINDOWS * scale`` (the
  rate is down to 13%; 10 s for a phase that moves 10 times a second) the phase is *stalled*
  and its ETA is ``None`` (unknown) rather than a guess.  When the work resumes the window
  fills with the new pace and the rate is right again within a window.

The outlook of work running in parallel (``Outlook``): the items left over the running phases
that have totals, the sum of their recent rates, and the longest single-phase ETA among them.
Its ETA is ``max(items left / summed rate, longest phase ETA)``: the summed rate is right when
workers can take over each other's work, and no operation ends before its slowest phase at that
phase's own rate, which is what a worker 5x slower than the others decides.  It is ``None``
while any running phase has no total or has stalled, or while nothing is moving yet.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

__all__ = [
    "GAP_OUTLIER",
    "GRACE_GAPS",
    "MAX_WINDOW",
    "MIN_MEASURED",
    "MIN_WINDOW",
    "SILENCE_SCALE",
    "STALL_WINDOWS",
    "WINDOW_GAPS",
    "WINDOW_ITEMS",
    "Outlook",
    "RateMeter",
    "Speed",
    "finished_rate",
    "per_second",
]

MIN_WINDOW = 1.5
"""Shortest window the rate is measured over, in seconds."""
WINDOW_ITEMS = 16
"""The window spans at least the time of this many items."""
WINDOW_GAPS = 3.0
"""The window spans at least this many usual gaps between samples."""
MAX_WINDOW = 60.0
"""Longest window, in seconds."""
GAP_OUTLIER = 4.0
"""A gap between samples counts towards the usual gap as at most this many usual gaps."""
GRACE_GAPS = 2.0
"""Silence up to this many usual gaps is normal; beyond it the rate decays."""
SILENCE_SCALE = 5.0
"""A silent count's rate decays over the window, but never over less than this many seconds."""
STALL_WINDOWS = 2.0
"""Decay scales after which a silent phase is stalled (its ETA unknown)."""
MIN_MEASURED = 0.1
"""Finished work that lasted less than this many seconds has no rate (``finished_rate``): the
shortest span a meter samples over (``RateMeter``'s ``min_interval``)."""
_GAP_SMOOTHING = 0.3
_MAX_POINTS = 64  # samples kept at most, whatever the window

Point = tuple[float, float]
"""(clock reading, count) of one sample."""


class Speed(NamedTuple):
    """The speed figures of one count at one moment."""

    rate: float | None
    """Items per second (recent while running, the average once finished)."""
    peak: float | None
    """The highest rate sampled so far."""
    eta: float | None
    """Seconds until the total is reached at ``rate``, when that is knowable."""


class RateMeter:
    """The recent items-per-second of one count, sampled whenever the count is reported.

    See the module's docstring for the estimate.

    Args:
        start_time: the clock reading when counting started.
        min_interval: samples closer than this, in seconds, make one point: the later moves
            the earlier (a burst of updates, the throttle's next report, lands whole).
        baseline: the count when counting started: a phase resumed at 400 items measures its
            rate and ETA from the items done since (``average`` too), never from the 400.
    """

    __slots__ = (
        "_anchor",
        "_gap",
        "_min_interval",
        "_points",
        "_seen_count",
        "_seen_time",
        "_setup",
        "_window",
        "baseline",
        "peak",
        "rate",
        "start_time",
    )

    def __init__(self, start_time: float, min_interval: float = MIN_MEASURED, baseline: float = 0) -> None:
        self.start_time = start_time
        self.baseline = baseline
        self.rate: float | None = None
        self.peak: float | None = None
        self._min_interval = min_interval
        # (clock reading, count) of the samples the window may still need, oldest first; the
        # first is the start until a second sample lets it go (``_setup``).
        self._points: list[Point] = [(start_time, baseline)]
        self._setup = True
        self._anchor = start_time  # when the last point was added (a later sample may move it)
        self._gap: float | None = None  # the usual time between points
        self._window = MIN_WINDOW  # the window of the last sample
        self._seen_time = start_time  # when the count last moved
        self._seen_count: float = baseline

    @property
    def window(self) -> float:
        """The window, in seconds, the rate of the last sample was measured over."""
        return self._window

    def sample(self, now: float, count: float, total: int | None) -> Speed:
        """Take the count reported at clock reading ``now`` into the rate.

        A count that did not move is no sample (the silence is read as such by ``speed``); a
        count that went back restarts the measurement.

        Returns:
            The figures at ``now``, as ``speed(now, count, total)`` gives them from now on.
        """
        if count < self._seen_count:
            self._points, self._setup, self._anchor = [(now, count)], True, now
            self._seen_time, self._seen_count = now, count
        elif count > self._seen_count:
            self._seen_time, self._seen_count = now, count
            after = self._after(now, count)
            if after is not None:
                points, self._gap, self._anchor, self._setup = after
                self.rate, self._window = _measure(points, self._gap)
                if self.peak is None or self.rate > self.peak:
                    self.peak = self.rate
                begin = now - self._window
                drop = 0
                while len(points) - drop > _MAX_POINTS or (len(points) - drop > 2 and points[drop + 1][0] <= begin):
                    drop += 1
                self._points = points[drop:] if drop else points
        return self.speed(now, count, total)

    def speed(self, now: float, count: float, total: int | None) -> Speed:
        """The figures of a running count at ``now``; changes nothing.

        Args:
            now: the clock reading.
            count: the count at ``now``.
            total: the count's total, or ``None`` when unknown.
        """
        moved_at, rate, window, gap = self._seen_time, self.rate, self._window, self._gap
        if count > self._seen_count:  # moved since it was last reported: what a sample now would say
            moved_at = now
            after = self._after(now, count)
            if after is not None:
                gap = after[1]
                rate, window = _measure(after[0], gap)
        if rate is None:
            average = self.average(now, count)
            return Speed(average, None, _eta(count, total, average))
        silence = now - moved_at - GRACE_GAPS * (gap or 0.0)
        stalled = False
        if silence > 0:
            scale = max(window, SILENCE_SCALE)
            rate *= math.exp(-silence / scale)
            stalled = silence > STALL_WINDOWS * scale
        return Speed(rate, self.peak, None if stalled else _eta(count, total, rate))

    def _after(self, now: float, count: float) -> tuple[list[Point], float | None, float, bool] | None:
        """(points, usual gap, anchor, setup) once ``count`` (above the last point's) is taken
        in at ``now``; ``None`` when no time has passed since the start."""
        points, gap, anchor, setup = self._points, self._gap, self._anchor, self._setup
        if len(points) > 1 and now - anchor < self._min_interval:
            return [*points[:-1], (now, count)], gap, anchor, setup
        if now <= points[-1][0]:
            return None
        span = now - anchor
        if setup and len(points) > 1:  # a second point: the span before the first held the setup
            points, gap, setup = points[1:], None, False
        gap = span if gap is None else gap + _GAP_SMOOTHING * (min(span, GAP_OUTLIER * gap) - gap)
        return [*points, (now, count)], gap, now, setup

    def final(self, end: float, count: float) -> Speed:
        """The figures of a finished count: its average rate and the peak, no time remaining;
        no rate and no peak where none was measured (``finished_rate``)."""
        rate = finished_rate(count - self.baseline, end - self.start_time)
        return Speed(rate, None if rate is None else self.peak, None)

    def average(self, now: float, count: float) -> float | None:
        """Items per second since the start (beyond ``baseline``), or ``None`` before any time has passed."""
        return per_second(count - self.baseline, now - self.start_time)


class Outlook(NamedTuple):
    """The work left under an operation (or a rolled-up phase), from its running phases.

    Build one per running phase with ``of_phase`` and add them up with ``combine``.
    """

    remaining: float = 0.0
    """Items left, over the running phases that have totals."""
    rate: float = 0.0
    """The sum of their recent rates, items per second."""
    slowest: float = 0.0
    """The longest ETA of a single one of them, in seconds."""
    known: bool = True
    """False when some running phase has no total or has stalled."""
    phases: int = 0
    """How many running phases this counts."""

    @classmethod
    def of_phase(cls, current: float, total: int | None, speed: Speed) -> Outlook:
        """The outlook of one running phase with its own count, from its speed figures."""
        if total is None:
            return cls(known=False, phases=1)
        remaining = max(0.0, total - current)
        rate = speed.rate or 0.0
        if rate > 0 and remaining > 0 and speed.eta is None:
            return cls(remaining, rate, known=False, phases=1)  # stalled
        return cls(remaining, rate, speed.eta or 0.0, phases=1)

    @classmethod
    def combine(cls, outlooks: Iterable[Outlook]) -> Outlook:
        """The outlook of phases running side by side."""
        remaining = rate = slowest = 0.0
        known, phases = True, 0
        for each in outlooks:
            remaining += each.remaining
            rate += each.rate
            slowest = max(slowest, each.slowest)
            known = known and each.known
            phases += each.phases
        return cls(remaining, rate, slowest, known, phases)

    @property
    def eta(self) -> float | None:
        """Seconds until all of it is done, or ``None`` when that is not knowable."""
        if not self.known or not self.phases:
            return None
        if self.remaining <= 0:
            return 0.0
        if self.rate <= 0:
            return None
        return max(self.remaining / self.rate, self.slowest)

    @property
    def total_rate(self) -> float | None:
        """The summed recent rate of the running phases, or ``None`` when none runs."""
        return self.rate if self.phases else None


def per_second(count: float, seconds: float) -> float | None:
    """``count`` over ``seconds``, or ``None`` when no time has passed."""
    return count / seconds if seconds > 0 else None


def finished_rate(count: float, seconds: float) -> float | None:
    """The rate of finished work: ``count`` over ``seconds``, or ``None`` when none was measured:
    nothing counted (a phase an earlier run finished, resumed here done: not ``0.0/s``), or work
    that ended within ``MIN_MEASURED`` seconds (before any sample: a rate from a few items
    over a few milliseconds is noise)."""
    return count / seconds if count > 0 and seconds >= MIN_MEASURED else None


def _eta(count: float, total: int | None, rate: float | None) -> float | None:
    if total is None:
        return None
    remaining = total - count
    if remaining <= 0:
        return 0.0
    return remaining / rate if rate else None


def _measure(points: Sequence[Point], gap: float | None) -> tuple[float, float]:
    """(rate, window) at the last of ``points`` (two at least): the items over the window
    before it, the count between samples read on the straight line joining them."""
    end_time, end_count = points[-1]
    items_span = end_time - _along(points, 1, end_count - WINDOW_ITEMS)  # when the count passed it
    window = min(MAX_WINDOW, max(MIN_WINDOW, WINDOW_GAPS * (gap or 0.0), items_span))
    begin = max(end_time - window, points[0][0])  # no further back than the oldest point kept
    return (end_count - _along(points, 0, begin)) / (end_time - begin), window  # the count at ``begin``


def _along(points: Sequence[Point], known: int, value: float) -> float:
    """On the line through ``points``, the other coordinate where coordinate ``known`` (0: the
    time, 1: the count) reached ``value``, looking back from the newest point (the oldest
    point's if ``value`` is before it)."""
    other = 1 - known
    later = points[-1]
    for index in range(len(points) - 2, -1, -1):
        point = points[index]
        if point[known] <= value:
            return point[other] + (later[other] - point[other]) * (value - point[known]) / (later[known] - point[known])
        later = point
    return later[other]
