"""How numbers, times and titles are written, in one place for every output (standard library only).

Counts carry thousands separators (``2,066/2,066``) wherever they are written whole; durations
and ETAs are ``H:MM:SS`` everywhere (``0:00:08``); a percentage is a whole number (``74%``); a
log line's time is ISO 8601 (``2026-12-07T13:21:25``); a JSON timestamp carries its UTC offset.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

__all__ = ["ISO_LOG_TIME", "format_eta", "format_percentage", "format_title", "grouped", "timestamp"]

ISO_LOG_TIME: Final = "%Y-%m-%dT%H:%M:%S"
"""The ``strftime`` format of the time in front of a log line (ISO 8601, local time)."""


def grouped(value: float) -> str:
    """A count with thousands separators: ``2,066``; a fraction keeps one decimal (``2.5``)."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def format_eta(seconds: float | None) -> str:
    """``H:MM:SS`` (``0:00:08``), ``4d 04h`` from 100 hours, ``-:--:--`` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "-:--:--"
    if seconds >= 100 * 3600:
        days = seconds / 86400
        return f"{int(days)}d {int(seconds // 3600 % 24):02d}h" if days < 10_000 else ">9999d"
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def format_percentage(value: float | None) -> str:
    """``74%``: a whole number; empty when unknown."""
    if value is None or value != value:
        return ""
    return f"{value:.0f}%"


def format_title(title: object) -> str:
    """A title as text: ``None`` (no title given) is empty, never the word ``None``."""
    return "" if title is None else str(title)


def timestamp(moment: datetime | None = None) -> str:
    """ISO 8601 with the UTC offset (``2026-12-07T13:21:25.538000+00:00``); now by default."""
    return (moment or datetime.now()).astimezone().isoformat()
