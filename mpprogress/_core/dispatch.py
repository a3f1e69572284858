"""Ordered, isolated delivery of tracker events to callbacks, outside the tracker's lock.

Events are queued while the tracker's lock is held, so the queue order is the order in which
state changed.  After releasing the lock, the mutating thread tries to become the one thread
that drains the queue; if another thread is draining, it leaves its events to that thread and
returns at once.  So callbacks see events in order, never run under the tracker's lock, may
call back into the tracker, and an update never waits for another thread's callbacks.

Events are typed (``events.py``).  A subscriber that is an ``EventSink`` gets each one as it is,
through its ``handle``; any other callback gets the callback form
``callback(event_type=event.type, **event.to_data())``, built once per event.

Finishing is the exception (``drain(settle=...)``): a thread that finishes a phase or an
operation while another thread (the flusher, say) is delivering waits, boundedly, until its
events were delivered, so that code after ``with op.phase(...)`` sees the callbacks' effects.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from .._base.events import EventSink, ProgressCallback, ProgressEvent

__all__ = ["SETTLE_TIMEOUT", "EventDispatcher"]

SETTLE_TIMEOUT = 1.0  # longest a finishing thread waits for another thread's delivery

_log = logging.getLogger("mpprogress")

_Handle = Callable[[ProgressEvent], None]


class EventDispatcher:
    """Holds the callbacks of one tracker and delivers its queued events.

    Args:
        max_failures: a callback that raises this many times in a row is removed.
    """

    def __init__(self, max_failures: int = 3) -> None:
        # (callback, its bound ``handle`` if it is an ``EventSink``), in subscription order
        self._subscribers: tuple[tuple[ProgressCallback, _Handle | None], ...] = ()
        self._failures: dict[int, int] = {}
        self._queue: deque[ProgressEvent] = deque()
        self._draining = threading.Lock()
        self._drainer: int | None = None  # the thread delivering now
        self._registry_lock = threading.Lock()
        self._max_failures = max_failures

    @property
    def callbacks(self) -> tuple[ProgressCallback, ...]:
        """The subscribed callbacks, in subscription order."""
        return tuple(callback for callback, _ in self._subscribers)

    def add(self, callback: ProgressCallback) -> None:
        """Subscribe ``callback``; adding the same callback twice does nothing.

        An ``EventSink`` receives the typed events through its ``handle``; any other callable
        receives ``callback(event_type=..., **data)``.
        """
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        handle = callback.handle if isinstance(callback, EventSink) else None
        with self._registry_lock:
            if callback not in self.callbacks:
                self._subscribers = (*self._subscribers, (callback, handle))

    def remove(self, callback: ProgressCallback) -> None:
        """Unsubscribe ``callback``; removing an unknown callback does nothing."""
        with self._registry_lock:
            self._subscribers = tuple(sub for sub in self._subscribers if sub[0] != callback)
            self._failures.pop(id(callback), None)

    def queue(self, event: ProgressEvent) -> None:
        """Queue one event; call with the tracker's lock held, then call ``drain()``."""
        self._queue.append(event)

    def drain(self, settle: float = 0.0) -> None:
        """Deliver queued events unless another thread is already delivering them.

        Args:
            settle: if another thread is delivering, wait up to this many seconds for it to
                finish and deliver what is left (never when called from a callback).
        """
        queue = self._queue
        while queue:
            if not self._draining.acquire(blocking=False):
                if settle <= 0 or self._drainer == threading.get_ident():
                    return  # the draining thread re-checks the queue after it lets go
                if not self._draining.acquire(timeout=settle):
                    return
            self._drainer = threading.get_ident()
            try:
                while queue:
                    event = queue.popleft()
                    try:
                        self._deliver(event)
                    except BaseException:  # Ctrl-C mid-delivery: keep the event for the next drain
                        queue.appendleft(event)
                        raise
            finally:
                self._drainer = None
                self._draining.release()

    def reinit_after_fork(self) -> None:
        """Give a forked child fresh locks (a parent thread may have held them at fork)."""
        self._draining = threading.Lock()
        self._drainer = None
        self._registry_lock = threading.Lock()

    def _deliver(self, event: ProgressEvent) -> None:
        data = None
        for callback, handle in self._subscribers:
            try:
                if handle is not None:
                    handle(event)
                else:
                    if data is None:
                        data = event.to_data()
                    callback(event_type=event.type, **data)
            except Exception:
                self._record_failure(callback, event.type)
            else:
                if self._failures:
                    self._failures.pop(id(callback), None)

    def _record_failure(self, callback: ProgressCallback, event_type: str) -> None:
        count = self._failures.get(id(callback), 0) + 1
        self._failures[id(callback)] = count
        _log.exception(
            "progress callback %r failed on %s (%d in a row)", callback, event_type, count
        )
        if count >= self._max_failures:
            _log.error("removing progress callback %r after %d failures in a row", callback, count)
            self.remove(callback)
