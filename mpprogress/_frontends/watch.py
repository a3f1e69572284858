"""The thread that hands the counts of open bars to their phases when their own loops do not.

A ``tqdm`` bar counts in a plain attribute (``bar.n += 1``: no lock, no clock) and hands its
count to its phase every few items, at a pace it adjusts to take a clock reading only about
every ``SYNC_PERIOD`` seconds (tqdm's dynamic ``miniters``).  When a loop slows down sharply
after a fast start, or a bar's count is set directly (``bar.n = 5``), that pace would leave the
display behind; this thread, one per process and only while bars are open, hands every open
bar's state over every ``WATCH_INTERVAL`` seconds (tqdm's own monitor thread does the same job
for its drawing).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from typing import Protocol

from .._base.forksafe import PerProcess

__all__ = ["SYNC_PERIOD", "WATCH_INTERVAL", "Watched", "unwatch", "watch"]

SYNC_PERIOD = 0.05
"""Seconds between a busy bar's hand-overs from its own loop."""

WATCH_INTERVAL = 0.1
"""Seconds between the watcher's rounds."""


class Watched(Protocol):
    """What the watcher asks of a bar."""

    def hand_over(self) -> None:
        """Hand the bar's current state to its phase (a no-op when nothing changed)."""
        ...


class _Watcher:
    def __init__(self) -> None:
        # Re-entrant: a bar dropped while this thread holds the lock closes itself (``__del__``)
        # and comes back here to be unwatched.
        self.lock = threading.RLock()
        self.bars: weakref.WeakSet[Watched] = weakref.WeakSet()  # a dropped bar closes itself
        self.stop = threading.Event()
        self.running = False


_watcher: PerProcess[_Watcher] = PerProcess(_Watcher)


def watch(bar: Watched) -> None:
    """Hand ``bar``'s state over regularly until ``unwatch`` (starts the thread if needed)."""
    watcher = _watcher.get()
    with watcher.lock:
        watcher.bars.add(bar)
        if watcher.running:
            return
        watcher.running = True
    threading.Thread(target=_run, args=(watcher,), name="mpprogress-bars", daemon=True).start()


def unwatch(bar: Watched) -> None:
    """Stop watching ``bar``; the thread ends once no bar is left."""
    watcher = _watcher.peek()
    if watcher is not None:
        with watcher.lock:
            watcher.bars.discard(bar)


def _run(watcher: _Watcher) -> None:
    while not watcher.stop.wait(WATCH_INTERVAL):
        with watcher.lock:
            bars = list(watcher.bars)
            if not bars:
                watcher.running = False
                return
        for bar in bars:
            with contextlib.suppress(Exception):  # one bar's trouble must not stop the others'
                bar.hand_over()
        del bars
