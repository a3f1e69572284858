"""Per-phase speed figures: a smoothed rate, the peak rate, and the time remaining.

The one place they are computed, for events and snapshots alike.  Only ``sample`` changes a
meter, and only a reported count (a ``progress_update``) is sampled; reading the figures
(``speed``, ``final``) never changes them, so a display that refreshes often sees the same
numbers as one that refreshes rarely.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["RateMeter", "Speed"]


class Speed(NamedTuple):
    """The speed figures of one count at one moment."""

    rate: float | None
    """Items per second (smoothed while running, the average once finished)."""
    peak: float | None
    """The highest smoothed rate sampled so far."""
    eta: float | None
    """Seconds until the total is reached at ``rate``, when that is knowable."""


class RateMeter:
    """Smoothed items-per-second of one count, sampled whenever the count is reported.

    The rate is an exponential moving average of the speed between samples at least
    ``min_interval`` apart (closer samples are too noisy to mean anything), as tqdm smooths.

    Args:
        start_time: the clock reading when counting started.
        smoothing: weight of the newest speed, 0 < smoothing <= 1.
        min_interval: shortest span, in seconds, that makes a new speed sample.
    """

    __slots__ = ("_last_count", "_last_time", "_min_interval", "_smoothing", "peak", "rate", "start_time")

    def __init__(self, start_time: float, smoothing: float = 0.3, min_interval: float = 0.1) -> None:
        self.start_time = start_time
        self.rate: float | None = None
        self.peak: float | None = None
        self._smoothing = smoothing
        self._min_interval = min_interval
        self._last_time = start_time
        self._last_count: float = 0

    def sample(self, now: float, count: float, total: int | None) -> Speed:
        """Take the count reported at clock reading ``now`` into the smoothed rate.

        Returns:
            The figures at ``now``, as ``speed(now, count, total)`` gives them from now on.
        """
        rate = self._smoothed(now, count)
        if rate is not None:
            self.rate = rate
            if self.peak is None or rate > self.peak:
                self.peak = rate
            self._last_time = now
            self._last_count = count
        return self.speed(now, count, total)

    def speed(self, now: float, count: float, total: int | None) -> Speed:
        """The figures of a running count at ``now``, as if sampled then; changes nothing.

        Args:
            now: the clock reading.
            count: the count at ``now``.
            total: the count's total, or ``None`` when unknown.
        """
        rate = self._smoothed(now, count)
        if rate is None:  # too close to the last sample to make a new one
            rate = self.rate if self.rate is not None else self.average(now, count)
        return Speed(rate, self.peak, _eta(count, total, rate))

    def final(self, end: float, count: float) -> Speed:
        """The figures of a finished count: its average rate, the peak, no time remaining."""
        return Speed(self.average(end, count), self.peak, None)

    def average(self, now: float, count: float) -> float | None:
        """Items per second since the start, or ``None`` before any time has passed."""
        elapsed = now - self.start_time
        return count / elapsed if elapsed > 0 else None

    def _smoothed(self, now: float, count: float) -> float | None:
        span = now - self._last_time
        if span < self._min_interval or span <= 0:
            return None
        speed = max(0.0, (count - self._last_count) / span)
        return speed if self.rate is None else self._smoothing * speed + (1 - self._smoothing) * self.rate


def _eta(count: float, total: int | None, rate: float | None) -> float | None:
    if total is None:
        return None
    remaining = total - count
    if remaining <= 0:
        return 0.0
    return remaining / rate if rate else None
