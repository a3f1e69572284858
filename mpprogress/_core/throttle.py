"""Per-phase throttling of ``progress_update`` events: token buckets and the flusher thread.

Each phase has a ``TokenBucket``.  A phase may report its state while its bucket holds a token
(``Throttle.take``); a burst of ``update_burst`` reports goes out at once, then the bucket
refills at ``max_update_rate`` tokens per second.  Refilling happens only on the flusher thread
(or in ``flush()``), so a phase's hot path reads no clock: it only compares
``bucket.tokens >= 1.0``.  While a bucket is below full, the flusher visits it every
``1 / max_update_rate`` seconds: it refills the bucket and, when the phase has state not yet
reported and a token is there, asks the phase to report it.  A full bucket whose phase has
nothing pending leaves the flusher's list, and the flusher thread ends when the list is empty.

The throttle knows nothing of phases: a bucket carries two callables its phase gives it,
``pending()`` (has the state changed since it was last reported?) and ``emit()`` (report it
now).  Both are called with the tracker's lock held.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["Throttle", "TokenBucket"]

_INFINITE = float("inf")


class TokenBucket:
    """One phase's allowance of ``progress_update`` events (made by ``Throttle.bucket``).

    ``tokens`` is read without the lock on the phase's hot path; everything else about the
    bucket is changed by its ``Throttle`` under the tracker's lock.
    """

    __slots__ = ("emit", "pending", "refilled_at", "tokens")

    def __init__(self, tokens: float, pending: Callable[[], bool], emit: Callable[[], None]) -> None:
        self.tokens = tokens
        self.refilled_at = 0.0
        self.pending = pending
        self.emit = emit


class Throttle:
    """The token buckets of one tracker's phases and the flusher thread that refills them.

    Args:
        max_update_rate: most events per second per phase after the burst; ``None`` or 0
            turns throttling off (every report goes out).
        update_burst: events a phase may send back to back before throttling starts.
        lock: the tracker's lock; every method but ``flush`` expects it held.
        get_time: monotonic clock in seconds.
        deliver: delivers the events queued under the lock (called after releasing it).
        auto_flush: run the flusher thread; off in tests that call ``flush()`` with a fake clock.
    """

    def __init__(
        self,
        max_update_rate: float | None,
        update_burst: int,
        *,
        lock: AbstractContextManager[Any],
        get_time: Callable[[], float],
        deliver: Callable[[], None],
        auto_flush: bool = True,
    ) -> None:
        self.rate = float(max_update_rate or 0.0)
        self.burst = float(update_burst) if self.rate else _INFINITE
        self._lock = lock
        self._get_time = get_time
        self._deliver = deliver
        self._auto_flush = auto_flush
        self._waiting: dict[TokenBucket, None] = {}  # buckets below full, in the order they ran low
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()
        self._closed = False

    @property
    def running(self) -> bool:
        """Whether the flusher thread is running (it runs only while some bucket is below full)."""
        return self._flusher is not None

    def bucket(self, pending: Callable[[], bool], emit: Callable[[], None]) -> TokenBucket:
        """A full bucket for a new phase, with the phase's ``pending`` and ``emit``."""
        return TokenBucket(self.burst, pending, emit)

    def take(self, bucket: TokenBucket) -> bool:
        """Spend one of ``bucket``'s tokens if it has one; return whether it had."""
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        if bucket.tokens < self.burst and bucket not in self._waiting:
            bucket.refilled_at = self._get_time()
            self._waiting[bucket] = None
            if self._auto_flush and self._flusher is None and not self._closed:
                self._stop.clear()
                self._flusher = threading.Thread(target=self._run_flusher, name="mpprogress-flusher", daemon=True)
                self._flusher.start()
        return True

    def release(self, bucket: TokenBucket) -> None:
        """Forget the bucket of a finished phase; it never runs dry again.

        An infinite bucket sends every later update of the phase through the locked path,
        which refuses it: the hot path needs no finished check of its own.
        """
        self._waiting.pop(bucket, None)
        bucket.tokens = _INFINITE

    def flush(self) -> None:
        """Refill the waiting buckets and let their phases report pending state if allowed."""
        with self._lock:
            self._tick_locked()
        self._deliver()

    def _tick_locked(self) -> None:
        now = self._get_time()
        rate, burst = self.rate, self.burst
        for bucket in list(self._waiting):
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.refilled_at) * rate)
            bucket.refilled_at = now
            if bucket.pending():
                if bucket.tokens >= 1.0:
                    bucket.tokens -= 1.0
                    bucket.emit()
            elif bucket.tokens >= burst:
                del self._waiting[bucket]

    def _run_flusher(self) -> None:
        interval = 1.0 / self.rate
        me = threading.current_thread()
        while not self._stop.wait(interval):
            with self._lock:
                if not self._waiting or self._flusher is not me:
                    if self._flusher is me:
                        self._flusher = None
                    return
                self._tick_locked()
            self._deliver()

    def close_locked(self) -> None:
        """Stop the flusher and let every waiting phase report its pending state now."""
        self._closed = True
        self._flusher = None
        self._stop.set()
        for bucket in list(self._waiting):
            if bucket.pending():
                bucket.emit()
        self._waiting.clear()

    def reinit_after_fork(self, lock: AbstractContextManager[Any]) -> None:
        """In a forked child: the new lock, no flusher (its thread is not here), full buckets."""
        self._lock = lock
        self._flusher = None
        self._stop = threading.Event()
        for bucket in self._waiting:
            bucket.tokens = self.burst
        self._waiting.clear()
