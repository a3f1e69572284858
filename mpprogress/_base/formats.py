"""How numbers, times and titles are written, in one place for every output (standard library only).

Counts carry thousands separators (``2,066/2,066``) wherever they are written whole; a count
past its total says so (``25/10 (+15 over)``, ``250%``: the tracker counts on, and the display
never clamps it to a clean ``100%``); durations and ETAs are ``H:MM:SS`` everywhere (``0:00:08``),
an elapsed time under a second is ``0.4s`` and a known ETA under a second ``<0:00:01`` (never
``0:00:00`` while work remains); a percentage is a whole number (``74%``; ``99%`` until the
total is reached); a log line's time is ISO 8601 (``2026-12-07T13:21:25``); a JSON
timestamp carries its UTC offset.  The dashboard's page (``_dashboard/static/dashboard.js``)
writes the same forms.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

__all__ = [
    "ISO_LOG_TIME",
    "format_counted",
    "format_elapsed",
    "format_eta",
    "format_percentage",
    "format_seconds",
    "format_title",
    "grouped",
    "over_total",
    "percent_of",
    "sub_second",
    "timestamp",
]

ISO_LOG_TIME: Final = "%Y-%m-%dT%H:%M:%S"
"""The ``strftime`` format of the time in front of a log line (ISO 8601, local time)."""


def grouped(value: float) -> str:
    """A count with thousands separators: ``2,066``; a fraction keeps one decimal (``2.5``)."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def over_total(current: float, total: int | None) -> float:
    """How far ``current`` is past ``total`` (``15`` for 25 of 10); ``0`` when not past it or unknown."""
    if total is None or current != current or current <= total:
        return 0
    return current - total


def format_counted(current: float, total: int | None, count: Callable[[float], str] = grouped) -> str:
    """``12/40``; ``25/10 (+15 over)`` past the total; just ``12`` when the total is unknown.

    Args:
        current: the count.
        total: the total, ``None`` when unknown.
        count: how one number is written (``grouped`` by default; the console's compacts huge ones).
    """
    if total is None:
        return count(current)
    over = over_total(current, total)
    return f"{count(current)}/{count(total)}" + (f" (+{count(over)} over)" if over else "")


def percent_of(current: float, total: int | None) -> float | None:
    """``current`` as a percentage of ``total``, not capped (``250.0`` for 25 of 10); ``None``
    without a total (unknown or 0).  ``PhaseSnapshot.percentage`` stays capped at 100."""
    if not total or current != current:
        return None
    return current / total * 100.0


def format_eta(seconds: float | None) -> str:
    """``H:MM:SS`` (``0:00:08``), ``<0:00:01`` under a second (``0:00:00`` only at exactly 0, no
    work left), ``4d 04h`` from 100 hours, ``-:--:--`` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "-:--:--"
    if 0 < seconds < 1:
        return "<0:00:01"
    if seconds >= 100 * 3600:
        days = seconds / 86400
        return f"{int(days)}d {int(seconds // 3600 % 24):02d}h" if days < 10_000 else ">9999d"
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def sub_second(seconds: float) -> str:
    """A time under a second as seconds with one decimal (``0.4``), ``<0.1`` below 0.05 s."""
    return "<0.1" if seconds < 0.05 else f"{seconds:.1f}"


def format_elapsed(seconds: float | None) -> str:
    """An elapsed time: ``0.4s`` under a second (never ``0:00:00``), else as ``format_eta``."""
    if seconds is not None and 0 <= seconds < 1:
        return f"{sub_second(seconds)}s"
    return format_eta(seconds)


def format_seconds(seconds: float) -> str:
    """A duration in seconds with one decimal: ``12.3s``, ``0.4s``, ``<0.1s`` below 0.05 s."""
    return f"{sub_second(seconds)}s" if 0 <= seconds < 1 else f"{seconds:.1f}s"


def format_percentage(value: float | None) -> str:
    """``74%``: a whole number, but ``99%`` for 99.6 (``100%`` only once the total is reached;
    ``250%`` past it); empty when unknown."""
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return ""
    return "99%" if 99 < value < 100 else f"{value:.0f}%"


def format_title(title: object) -> str:
    """A title as text: ``None`` (no title given) is empty, never the word ``None``."""
    return "" if title is None else str(title)


def timestamp(moment: datetime | None = None) -> str:
    """ISO 8601 with the UTC offset (``2026-12-07T13:21:25.538000+00:00``); now by default."""
    return (moment or datetime.now()).astimezone().isoformat()
