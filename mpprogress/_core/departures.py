"""The worker processes that left a tracker: said goodbye (``exited``) or were found gone (``lost``).

Only the receiving side knows it (the aggregator that holds the tracker: a worker's ``BYE``,
or its verdict that a worker is lost), and only the dashboard's Workers table shows it, on
another thread.  Not an event: the dispatcher hands typed events to every sink's ``handle``,
and a new type would reach sinks that expect only the six of ``events.py``.  So each tracker
has this small log beside it (``departures(tracker)``, made on first use, gone with the
tracker): the aggregator's thread adds to it, a reader takes what it has not seen yet
(``since``).  The newest ``keep`` are kept; a reader that fell further behind misses the
oldest, as its own table is bounded too.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from typing import Literal, NamedTuple

from .._base.events import Worker

__all__ = ["Departure", "Departures", "Left", "departures"]

Left = Literal["exited", "lost"]
"""How a worker left: it said goodbye, or it was found gone (its process died, it went silent)."""


class Departure(NamedTuple):
    """One worker that left, and how."""

    worker: Worker
    left: Left


class Departures:
    """The workers that left one tracker, newest last (thread-safe).

    Args:
        keep: departures remembered at most.
    """

    def __init__(self, keep: int = 4096) -> None:
        self._lock = threading.Lock()
        self._log: deque[Departure] = deque(maxlen=keep)
        self._count = 0

    def add(self, worker: Worker, left: Left) -> None:
        """Record that ``worker`` left, and how."""
        with self._lock:
            self._log.append(Departure(worker, left))
            self._count += 1

    def since(self, seen: int) -> tuple[int, list[Departure]]:
        """The departures after the first ``seen`` ever recorded, and the count to pass next time."""
        with self._lock:
            new = min(self._count - seen, len(self._log))
            return self._count, list(self._log)[len(self._log) - new:] if new > 0 else []


_BESIDE: weakref.WeakKeyDictionary[object, Departures] = weakref.WeakKeyDictionary()
_MAKING = threading.Lock()


def departures(tracker: object) -> Departures:
    """The departures of ``tracker``'s workers (one log per tracker, made on first use)."""
    with _MAKING:
        log = _BESIDE.get(tracker)
        if log is None:
            log = _BESIDE[tracker] = Departures()
        return log
