"""The count of a local phase: the hot path, the absolute setters, and reporting.

``LocalCount`` is the part of ``phases.BaseProgressPhase`` that counts: ``update`` (the hot
path), ``set_progress``, ``set_total``, ``apply_state``, and queuing ``progress_update`` events
as the phase's token bucket allows.  ``tracker.py`` explains the locking, throttling and
lock-free counting rules it follows.  It knows nothing of sub-phases or finishing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._base.errors import checked_count, ensure_open, validate_total
from .._base.events import ProgressUpdate
from .._base.metrics import RateMeter, Speed
from .._base.port import ProgressPhase
from .._base.resume import ResumePoint
from .shared import GIL_ENABLED, TrackerCore

__all__ = ["LocalCount"]


class LocalCount(ProgressPhase):
    """The counting half of a local phase; every method is safe from any thread."""

    _core: TrackerCore[Any]
    _finished: bool
    operation_id: str
    parent_phase_id: str | None

    def _start_counting(self, core: TrackerCore[Any]) -> None:
        """Set up the count's reporting: called once, by the phase's ``__init__``."""
        self._drain = core.dispatcher.drain
        self._dirty = False  # changed since the last progress_update (set without the lock)
        self._emitted: tuple[int | float, int | None] = (0, self.total)
        self._metadata: dict[str, Any] = {}
        self.failed_items = 0  # the latest ``failed=`` count its updates carried (outcomes.py)
        self._bucket = core.throttle.bucket(self._pending_locked, self._emit_locked)
        now = core.get_time()
        self._started_time = now
        self._finished_time: float | None = None
        self._meter = RateMeter(now)
        self._keys: tuple[str, str] | None = None  # (operation key, phase key) when the tracker resumes

    # --- resuming (``resume.py``) -----------------------------------------------------------

    def _resume_at_locked(self, point: ResumePoint) -> None:
        """Start from where an earlier run left this phase: its count, and rate and ETA measured
        from there (lock held, before the phase's first event)."""
        self.resumed, self.resumed_from = point, point.current
        self.current = point.current
        if self.total is None:
            self.total = point.total
        self._meter = RateMeter(self._started_time, baseline=point.current)

    def _done_keys(self) -> frozenset[str]:
        source, keys = self._core.resume, self._keys
        if source is None or keys is None or self.resumed is None:
            return frozenset()
        return source.done_keys(*keys)

    def _item_done(self, key: str) -> None:
        self.update()
        self.record_done((key,))

    def record_done(self, keys: Sequence[str]) -> None:
        """Record item keys of this phase as done (``track(key=...)``; the aggregator for workers).

        Goes to the tracker's resume source (the journal) when it has one; else nowhere.
        """
        source = self._core.resume
        if source is not None and keys:
            source.record_done(self.phase_id, keys)

    # --- the hot path -----------------------------------------------------------------------

    def update(self, increment: int | float = 1, message: str | None = None, **metadata: Any) -> None:
        if increment.__class__ is not int or increment < 0:
            increment = checked_count(increment, "increment")
        if self._bucket.tokens >= 1.0 or metadata:
            self._update_locked(increment, message, metadata)
            return
        # Throttled: only count.  See "Counting without the lock" in tracker.py.  A finished
        # phase's bucket never runs dry (``Throttle.release``), so a finished phase never gets
        # here: ``_update_locked`` refuses it.
        self.current += increment
        if message is not None:
            self.last_message = message
        self._dirty = True

    if not GIL_ENABLED:  # free-threaded CPython: ``+=`` on an attribute is not atomic there

        def update(self, increment: int | float = 1, message: str | None = None, **metadata: Any) -> None:
            if increment.__class__ is not int or increment < 0:
                increment = checked_count(increment, "increment")
            self._update_locked(increment, message, metadata)

    def _update_locked(self, increment: int | float, message: str | None, metadata: dict[str, Any]) -> None:
        with self._core.lock:
            ensure_open(self._finished, self.title)
            self.current += increment
            if message is not None or metadata:
                self._note(message, metadata)
            queued = self._report_locked()
        if queued:
            self._drain()

    def set_progress(self, current: int | float, message: str | None = None, **metadata: Any) -> None:
        current = checked_count(current, "current")
        with self._core.lock:
            ensure_open(self._finished, self.title)
            self.current = current
            if message is not None or metadata:
                self._note(message, metadata)
            queued = self._report_locked()
        if queued:
            self._drain()

    def set_total(self, total: int | None) -> None:
        total = validate_total(total)
        with self._core.lock:
            ensure_open(self._finished, self.title)
            self.total = total
            queued = self._report_locked()
        if queued:
            self._drain()

    def apply_state(
        self, current: int | float, total: int | None, message: str | None, metadata: dict[str, Any]
    ) -> None:
        """Take an absolute state that was validated elsewhere (a remote worker's), at once.

        One lock round trip and at most one ``progress_update`` (none when nothing changed):
        what the aggregator calls for each phase state a worker sends.  ``message`` ``None``
        keeps the last message.

        Raises:
            PhaseFinishedError: the phase has finished.
        """
        with self._core.lock:
            ensure_open(self._finished, self.title)
            if (
                current == self.current
                and total == self.total
                and (message is None or message == self.last_message)
                and not metadata
            ):
                return
            self.total = total
            self.current = current
            if message is not None or metadata:
                self._note(message, metadata)
            queued = self._report_locked()
        if queued:
            self._drain()

    def _note(self, message: str | None, metadata: dict[str, Any]) -> None:
        if message is not None:
            self.last_message = str(message)
        if metadata:
            self._metadata.update(metadata)
            failed = metadata.get("failed")
            if type(failed) is int and failed >= 0:  # items that failed: the phase ends incomplete
                self.failed_items = failed

    # --- reporting (the tracker's lock held) ------------------------------------------------

    def _report_locked(self) -> bool:
        """Queue a progress event if the phase's bucket allows; else leave it for the flusher."""
        if self._core.throttle.take(self._bucket):
            self._emit_locked()
            return True
        self._dirty = True
        return False

    def _pending_locked(self) -> bool:
        """Whether the state changed since the last progress event (the throttle asks)."""
        return self._dirty or self._emitted != (self.current, self.total)

    def _emit_locked(self) -> None:
        """Queue a progress event with the current state, whatever the bucket holds."""
        now = self._core.get_time()
        self._dirty = False  # before reading the count: a racing update sets it again
        current, total = self.current, self.total
        rate, peak, eta = self._meter.sample(now, current, total)
        metadata, self._metadata = self._metadata, {}
        message = self.last_message
        self._emitted = (current, total)
        self._core.dispatcher.queue(
            ProgressUpdate(  # positional, in the field order: the cheapest call
                *self._identity(),
                current,
                total,
                self.percentage,
                None if message is None else str(message),
                rate,
                peak,
                eta,
                now - self._started_time,
                metadata,
            )
        )

    def _identity(self) -> tuple[str, str, str | None, str, str | None]:
        """The first fields of every phase event: operation, phase, parent, title, description."""
        return self.operation_id, self.phase_id, self.parent_phase_id, self.title, self.description

    def _speed_locked(self, now: float) -> Speed:
        """The speed figures, for events and snapshots alike; changes nothing."""
        if self._finished_time is not None:
            return self._meter.final(self._finished_time, self.current)
        return self._meter.speed(now, self.current, self.total)
