"""tqdm's small text helpers, for code that calls them on the class (``tqdm.format_sizeof``...),
and the postfix text ``set_postfix`` builds.  The same results as tqdm's."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Number
from typing import Any

__all__ = ["format_interval", "format_num", "format_sizeof", "postfix_text"]

_PREFIXES = ("", "k", "M", "G", "T", "P", "E", "Z")


def format_sizeof(num: float, suffix: str = "", divisor: float = 1000) -> str:
    """``num`` with an SI prefix and three significant digits (``1.23k``)."""
    for prefix in _PREFIXES:
        if abs(num) < 999.5:
            if abs(num) < 99.95:
                if abs(num) < 9.995:
                    return f"{num:1.2f}{prefix}{suffix}"
                return f"{num:2.1f}{prefix}{suffix}"
            return f"{num:3.0f}{prefix}{suffix}"
        num /= divisor
    return f"{num:3.1f}Y{suffix}"


def format_interval(seconds: float) -> str:
    """Seconds as a clock time, ``[H:]MM:SS``."""
    sign = "-" if seconds < 0 else ""
    minutes, secs = divmod(abs(int(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours:d}:{minutes:02d}:{secs:02d}" if hours else f"{sign}{minutes:02d}:{secs:02d}"


def format_num(n: Any) -> str:
    """``n`` in ``.3g`` notation when that is shorter than ``str(n)``."""
    short = f"{n:.3g}".replace("e+0", "e+").replace("e-0", "e-")
    text = str(n)
    return short if len(short) < len(text) else text


def postfix_text(ordered: Mapping[str, Any] | None, fields: Mapping[str, Any]) -> str:
    """``key=value, ...`` as ``tqdm.set_postfix`` shows it: keyword fields sorted after the
    mapping's, numbers in ``format_num``'s notation."""
    items = dict(ordered or {})
    for key in sorted(fields):
        items[key] = fields[key]
    parts = []
    for key, value in items.items():
        if isinstance(value, Number):
            value = format_num(value)
        parts.append(f"{key}={str(value).strip()}")
    return ", ".join(parts)
