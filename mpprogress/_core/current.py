"""The holder of this process's current tracker: what ``get_tracker()`` returns once it is set.

Nothing but the holding lives here (which tracker a process gets when none is set is decided by
``wiring.get_tracker``).  A tracker set or made in a parent is never seen by a forked child: the
holder is a ``forksafe.PerProcess``.
"""

from __future__ import annotations

from collections.abc import Callable

from .._base.forksafe import PerProcess
from .._base.port import ProgressTracker

__all__ = ["current_tracker", "get_or_make", "replace_tracker", "set_tracker"]

_holder: PerProcess[ProgressTracker] = PerProcess()


def set_tracker(tracker: ProgressTracker | None) -> None:
    """Make ``tracker`` the one ``get_tracker()`` returns in this process (``None`` resets)."""
    _holder.set(tracker)


def replace_tracker(tracker: ProgressTracker | None) -> ProgressTracker | None:
    """Set the process's tracker; return the one it replaces (``None`` if none was set here)."""
    return _holder.set(tracker)


def current_tracker() -> ProgressTracker | None:
    """The tracker set or made in this process, or ``None``."""
    return _holder.peek()


def get_or_make(make: Callable[[], ProgressTracker]) -> ProgressTracker:
    """This process's tracker; ``make()`` one now (once, under a lock) if there is none."""
    return _holder.get(make)
