"""Speed figures: a phase's recent rate, peak and time remaining, and an operation's outlook.

The one place they are computed, for events and snapshots alike.  Only ``RateMeter.sample``
changes a meter, and only a reported count (a ``progress_update``) is sampled; reading the
figures (``speed``, ``final``, ``Outlook``) never changes anything, so a display that refreshes
often sees the same numbers as one that refreshes rarely.

How the rate is estimated, and why:

- **Recent, not since the start.**  The rate is an average of the speeds between samples,
  weighted in *time*: a speed measured over ``span`` seconds weighs ``1 - exp(-span / window)``
  against the older average, so how often a phase reports does not change how far back the
  rate looks.
- **A window that adapts.**  ``window`` is ``WINDOW_GAPS`` times the usual time between samples
  (itself smoothed; a single long gap counts at most ``GAP_OUTLIER`` times the usual one),
  between ``MIN_WINDOW`` and ``MAX_WINDOW`` seconds.  A count reported 20 times a second is
  averaged over about 5 s; one that moves in chunks every 10 s over about 40 s, so its rate does
  not swing with every chunk; none looks back more than a minute.  There is always a rate once
  the count has moved, however long the phase runs (a fixed look-back window empties on long
  steps and the ETA vanishes).
- **A stall decays the rate at read time.**  A count that has not moved for longer than
  ``GRACE_GAPS`` usual gaps is stalling: its rate is read as
  ``rate * exp(-(silence - grace) / window)``, so it falls the longer nothing happens and the
  ETA grows; once the silence passes ``grace + STALL_WINDOWS * window`` (the rate is down to
  13%; 10 s for a phase that moves 10 times a second) the phase is *stalled* and its ETA is
  ``None`` (unknown) rather than a guess.  The next
  sample then measures the speed over the whole silence, so the rate recovers within a window
  or two of steady work.

The outlook of work running in parallel (``Outlook``): the items left over the running phases
that have totals, the sum of their recent rates, and the longest single-phase ETA among them.
Its ETA is ``max(items left / summed rate, longest phase ETA)``: the summed rate is right when
workers can take over each other's work, and no operation ends before its slowest phase at that
phase's own rate, which is what a worker 5x slower than the others decides.  It is ``None``
while any running phase has no total or has stalled, or while nothing is moving yet.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

__all__ = [
    "GAP_OUTLIER",
    "GRACE_GAPS",
    "MAX_WINDOW",
    "MIN_WINDOW",
    "STALL_WINDOWS",
    "WINDOW_GAPS",
    "Outlook",
    "RateMeter",
    "Speed",
    "per_second",
]

WINDOW_GAPS = 4.0
"""The averaging window, in usual gaps between samples."""
MIN_WINDOW = 5.0
"""Shortest averaging window, in seconds."""
MAX_WINDOW = 60.0
"""Longest averaging window, in seconds."""
GAP_OUTLIER = 4.0
"""A gap between samples counts towards the usual gap as at most this many usual gaps."""
GRACE_GAPS = 2.0
"""Silence up to this many usual gaps is normal; beyond it the rate decays."""
STALL_WINDOWS = 2.0
"""Windows of decay after which a silent phase is stalled (its ETA unknown)."""
_GAP_SMOOTHING = 0.3


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
        min_interval: shortest span, in seconds, that makes a new sample (closer samples are
            too noisy to mean anything).
        baseline: the count when counting started: a phase resumed at 400 items measures its
            rate and ETA from the items done since (``average`` too), never from the 400.
    """

    __slots__ = (
        "_gap",
        "_last_count",
        "_last_time",
        "_min_interval",
        "_seen_count",
        "_seen_time",
        "baseline",
        "peak",
        "rate",
        "start_time",
    )

    def __init__(self, start_time: float, min_interval: float = 0.1, baseline: float = 0) -> None:
        self.start_time = start_time
        self.baseline = baseline
        self.rate: float | None = None
        self.peak: float | None = None
        self._min_interval = min_interval
        self._last_time = start_time  # of the last sample: the count was _last_count then
        self._last_count: float = baseline
        self._seen_time = start_time  # when the count last moved, sampled or not
        self._seen_count: float = baseline
        self._gap: float | None = None  # the usual time between samples

    @property
    def window(self) -> float:
        """The averaging window now, in seconds."""
        gap = self._gap if self._gap is not None else 0.0
        return min(MAX_WINDOW, max(MIN_WINDOW, WINDOW_GAPS * gap))

    def sample(self, now: float, count: float, total: int | None) -> Speed:
        """Take the count reported at clock reading ``now`` into the rate.

        A count that moved less than ``min_interval`` after the last sample is noted (it ends a
        silence) but waits for a later sample; a count that did not move is no sample (the
        silence is read as such by ``speed``); a count that went back restarts the measurement.

        Returns:
            The figures at ``now``, as ``speed(now, count, total)`` gives them from now on.
        """
        if count < self._seen_count:
            self._last_time = self._seen_time = now
            self._last_count = self._seen_count = count
        elif count > self._seen_count:
            self._seen_time, self._seen_count = now, count
            span = now - self._last_time
            if span >= self._min_interval and span > 0:
                self.rate = self._blend(span, count)
                if self.peak is None or self.rate > self.peak:
                    self.peak = self.rate
                gap = self._gap
                self._gap = span if gap is None else gap + _GAP_SMOOTHING * (min(span, GAP_OUTLIER * gap) - gap)
                self._last_time, self._last_count = now, count
        return self.speed(now, count, total)

    def speed(self, now: float, count: float, total: int | None) -> Speed:
        """The figures of a running count at ``now``; changes nothing.

        Args:
            now: the clock reading.
            count: the count at ``now``.
            total: the count's total, or ``None`` when unknown.
        """
        moved_at = now if count > self._seen_count else self._seen_time  # a count not yet reported moved now
        span = moved_at - self._last_time
        rate = self.rate
        if count > self._last_count and span >= self._min_interval:
            rate = self._blend(span, count)  # what a sample then would make of it
        elif rate is None:
            return Speed(self.average(now, count), None, _eta(count, total, self.average(now, count)))
        silence = now - moved_at - GRACE_GAPS * (self._gap or 0.0)
        stalled = False
        if silence > 0:
            window = self.window
            rate *= math.exp(-silence / window)
            stalled = silence > STALL_WINDOWS * window
        return Speed(rate, self.peak, None if stalled else _eta(count, total, rate))

    def final(self, end: float, count: float) -> Speed:
        """The figures of a finished count: its average rate, the peak, no time remaining."""
        return Speed(self.average(end, count), self.peak, None)

    def average(self, now: float, count: float) -> float | None:
        """Items per second since the start (beyond ``baseline``), or ``None`` before any time has passed."""
        return per_second(count - self.baseline, now - self.start_time)

    def _blend(self, span: float, count: float) -> float:
        speed = (count - self._last_count) / span
        if self.rate is None:
            return speed
        weight = 1.0 - math.exp(-span / self.window)
        return self.rate + weight * (speed - self.rate)


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


def _eta(count: float, total: int | None, rate: float | None) -> float | None:
    if total is None:
        return None
    remaining = total - count
    if remaining <= 0:
        return 0.0
    return remaining / rate if rate else None
