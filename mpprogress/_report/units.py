"""How the report writes numbers, durations, rates and times (the same in text and HTML)."""

from __future__ import annotations

import math
import time
from typing import Final

from .._base.formats import format_counted, sub_second

__all__ = ["OUTCOME_COLOURS", "count", "counted", "duration", "items", "moment", "rate", "tick_step"]

OUTCOME_COLOURS: Final = {
    "succeeded": "#2f9e44",
    "incomplete": "#e8590c",
    "failed": "#e03131",
    "lost": "#9c36b5",
    "interrupted": "#f08c00",
    "cancelled": "#868e96",
    "unfinished": "#1c7ed6",
}
"""The colour of each outcome, in the HTML bars and the terminal's outcome column."""


def count(value: float | None) -> str:
    """``1,234`` (whole numbers) or ``12.5`` (fractions); ``-`` for none."""
    if value is None:
        return "-"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def counted(current: float, total: int | None) -> str:
    """A phase's items: ``12/40``, ``25/10 (+15 over)`` past its total, ``12`` without one."""
    return format_counted(current, total, count)


def items(done: float, per_second: float | None, earlier: float = 0) -> str:
    """A run's items: ``100 (86.0/s while phases ran)``, and what resumed phases had done before."""
    text = f"{count(done)} ({rate(per_second)} while phases ran)"
    return text + (f"; {count(earlier)} more done in earlier runs" if earlier else "")


def duration(seconds: float | None) -> str:
    """``0.4 s`` (``<0.1 s`` below 0.05 s: the one form of a time under a second,
    ``_base/formats.sub_second``), ``4.2 s``, ``3m 05s``, ``2h 03m``."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds < 1:
        return f"{sub_second(max(0.0, seconds))} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def rate(per_second: float | None) -> str:
    """``1,234/s``, ``12.3/s``, ``0.05/s``; ``-`` for none."""
    if per_second is None or not math.isfinite(per_second):
        return "-"
    if per_second >= 100:
        return f"{per_second:,.0f}/s"
    if per_second >= 1:
        return f"{per_second:.1f}/s"
    return f"{per_second:.2g}/s"


def moment(epoch: float) -> str:
    """A local date and time to the second: ``2024-05-01 12:00:03``."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def tick_step(span: float, ticks: int = 8) -> float:
    """A round step (1, 2, 5 x 10^k seconds, or minutes and hours) giving about ``ticks`` ticks."""
    raw = max(span, 1e-6) / ticks
    for nice in (60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 43200.0, 86400.0):
        if raw <= nice and raw > 30:
            return nice
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return float(factor * magnitude)
    return float(10 * magnitude)
