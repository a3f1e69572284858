"""Per-phase speed figures: a smoothed rate, the peak rate, and the time remaining."""

from __future__ import annotations

__all__ = ["RateMeter"]


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

    def sample(self, now: float, count: float) -> None:
        """Take the count at clock reading ``now`` into the smoothed rate."""
        span = now - self._last_time
        if span < self._min_interval:
            return
        speed = max(0.0, (count - self._last_count) / span)
        rate = speed if self.rate is None else self._smoothing * speed + (1 - self._smoothing) * self.rate
        self.rate = rate
        if self.peak is None or rate > self.peak:
            self.peak = rate
        self._last_time = now
        self._last_count = count

    def current_rate(self, now: float, count: float) -> float | None:
        """The smoothed rate, or the average since start before the first full sample."""
        if self.rate is not None:
            return self.rate
        return self.average(now, count)

    def average(self, now: float, count: float) -> float | None:
        """Items per second since the start, or ``None`` before any time has passed."""
        elapsed = now - self.start_time
        return count / elapsed if elapsed > 0 else None

    def eta(self, now: float, count: float, total: int | None) -> float | None:
        """Seconds until ``count`` reaches ``total`` at the current rate, if that is knowable."""
        if total is None:
            return None
        remaining = total - count
        if remaining <= 0:
            return 0.0
        rate = self.current_rate(now, count)
        return remaining / rate if rate else None
