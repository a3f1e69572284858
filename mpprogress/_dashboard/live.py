"""The dashboard of a running tracker: its snapshots, and its events for who is working.

``TrackerSource`` is what the server asks for a fresh ``State`` (on its own thread, never the
tracker's): it drains the events an ``EventStream`` kept for it, and when something happened it
takes one ``tracker.snapshot()`` (a read that changes nothing) and turns it into rows.  The
workers come from the events (``worker`` on every start; a phase finished as ``lost`` marks its
worker lost; any event of a worker's phase says it was heard from), and from the snapshot: a
worker whose running phases are all stalled is ``stalled`` (its "last heard" stays the time of
its newest event here: the aggregator's own clock of it is not in the snapshot).  How a worker
left comes from the aggregator, on any host (the tracker's ``departures``): one that said
goodbye is ``exited``, one found gone (its process died, or silent past the lost timeout) is
``lost``; both are final, but an exited worker with phases running is shown ``alive`` (its last
phases' events can be delivered after its goodbye was seen, and a process may start a new
client after closing one).  A worker on this host
whose process is gone is ``exited`` as well when it left nothing running (its phases ended
before it did), else its open phases are about to end as ``lost`` and so will it.  Cancelling an
operation from the page is ``operation.cancel()``: the same cooperative cancellation the aggregator sends
on to the workers.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any

from .._base.events import OperationFinished, OperationStarted, PhaseFinished, PhaseStarted, ProgressEvent
from .._base.text import clean_line
from .._core.departures import Departure, departures
from .model import LogBook, Row, State, state_of

if TYPE_CHECKING:
    from .._core.tracker import BaseProgressTracker
    from ..adapters.web import EventStream
    from .timeline import JournalTimeline

__all__ = ["TrackerSource", "WorkerBook"]

_IDLE_REFRESH = 1.0  # seconds between snapshots when no event came (rates decay, ETAs move)
_EXIT_CHECK = 1.0  # seconds between two looks at whether this host's workers still run


def process_exists(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie, exited but not reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class WorkerBook:
    """The worker processes seen in a tracker's events.

    Args:
        keep: workers remembered at most; the ones not heard from for longest go first.
        get_time: the wall clock (``time.time``), for "last heard".
        exists: whether a pid of this host still runs (``process_exists``).
    """

    def __init__(self, keep: int = 1000, get_time: Callable[[], float] = time.time,
                 exists: Callable[[int], bool] = process_exists) -> None:
        self._keep = keep
        self._get_time = get_time
        self._exists = exists
        self._host = socket.gethostname()
        self._checked = 0.0
        self.phase_workers: dict[str, str] = {}
        self._workers: dict[str, Row] = {}
        self._running: dict[str, set[str]] = {}

    def apply(self, events: Iterable[ProgressEvent]) -> None:
        """Learn from ``events`` (in their order)."""
        now = round(self._get_time(), 1)
        for event in events:
            if isinstance(event, (PhaseStarted, OperationStarted)):
                if event.worker is None:
                    continue
                key = f"{event.worker.host}:{event.worker.pid}"
                row = self._workers.get(key)
                if row is None:
                    row = {"host": clean_line(event.worker.host, 100), "pid": event.worker.pid, "state": "alive",
                           "last": now, "phases": 0, "running": 0}
                    self._running[key] = set()
                self._workers[key] = row = {**row, "last": now}
                if isinstance(event, PhaseStarted):
                    self.phase_workers[event.phase_id] = key
                    self._running[key].add(event.phase_id)
                    self._workers[key] = {**row, "phases": row["phases"] + 1, "running": len(self._running[key])}
            elif isinstance(event, OperationFinished):
                continue
            else:
                owner = self.phase_workers.get(getattr(event, "phase_id", None) or "")
                if owner is None or owner not in self._workers:
                    continue
                row = {**self._workers[owner], "last": now}
                if isinstance(event, PhaseFinished):
                    self._running[owner].discard(event.phase_id)
                    row["running"] = len(self._running[owner])
                    if event.reason == "lost":
                        row["state"] = "lost"
                self._workers[owner] = row
        self._forget()

    def leave(self, gone: Iterable[Departure]) -> None:
        """Learn how workers left (in order): ``exited`` (said goodbye) or ``lost``."""
        now = round(self._get_time(), 1)
        for worker, left in gone:
            key = f"{worker.host}:{worker.pid}"
            row = self._workers.get(key)
            if row is not None and row["state"] != "lost":  # lost is for good
                self._workers[key] = {**row, "state": left, "last": now} if left == "exited" else {**row, "state": left}

    def check_exits(self) -> None:
        """Mark ``exited`` this host's workers whose process is gone and left nothing running
        (at most once every ``_EXIT_CHECK`` seconds)."""
        now = self._get_time()
        if now - self._checked < _EXIT_CHECK:
            return
        self._checked = now
        for key, row in self._workers.items():
            if row["state"] == "alive" and row["host"] == self._host and not self._running.get(key) \
                    and not self._exists(row["pid"]):
                self._workers[key] = {**row, "state": "exited"}

    def _forget(self) -> None:
        if len(self._workers) <= self._keep:
            return
        for key in sorted(self._workers, key=lambda k: self._workers[k]["last"])[: len(self._workers) - self._keep]:
            del self._workers[key]
            for phase_id in self._running.pop(key, ()):
                self.phase_workers.pop(phase_id, None)

    def retain(self, phase_ids: set[str]) -> None:
        """Forget the worker of phases the tracker no longer holds (the map stays bounded)."""
        for phase_id in [p for p in self.phase_workers if p not in phase_ids]:
            del self.phase_workers[phase_id]

    def rows(self, stalled: Collection[str] = ()) -> dict[str, Row]:
        """The workers, by ``host:pid``.

        Args:
            stalled: the ids of the phases shown as stalled now; a worker not lost whose running
                phases all are is ``stalled`` (the aggregator has not heard from it for a while).
        """
        return {key: self._shown(key, row, stalled) for key, row in self._workers.items()}

    def _shown(self, key: str, row: Row, stalled: Collection[str]) -> Row:
        running = self._running.get(key)
        if not running or row["state"] == "lost":
            return row
        if all(phase_id in stalled for phase_id in running):
            return {**row, "state": "stalled"}
        return {**row, "state": "alive"} if row["state"] == "exited" else row  # see the module's note


class TrackerSource:
    """A running tracker as dashboard states (see the module's note).

    Args:
        tracker: the tracker to show.
        stream: the ``EventStream`` subscribed to it (the source watches it).
        logs: the log records to show, if any.
        meta: facts the page shows in its header (``title``, ``source``).
        timeline: returns the timeline picture (SVG bytes) when a journal is attached.
    """

    def __init__(
        self,
        tracker: BaseProgressTracker,
        stream: EventStream,
        *,
        logs: LogBook | None = None,
        meta: Row | None = None,
        timeline: JournalTimeline | None = None,
    ) -> None:
        self._tracker = tracker
        self._buffer = stream.watch()
        self._departures = departures(tracker)
        self._departed = 0
        self._logs = logs
        self._meta = {"source": "session", "title": "mpprogress", "live": True, "can_cancel": True, **(meta or {})}
        self._timeline = timeline
        self.workers = WorkerBook()
        self._last_at = 0.0
        self._last_logs = -1
        self._last_timeline: int | None = None

    def collect(self, force: bool = False) -> State | None:
        """A fresh state, or ``None`` when nothing happened since the last one."""
        # departures first: the events before one (its worker's last phases) are buffered by then
        self._departed, gone = self._departures.since(self._departed)
        events, overflowed = self._buffer.drain()
        self.workers.apply(events)
        self.workers.leave(gone)
        self.workers.check_exits()
        if self._timeline is not None and any(isinstance(event, PhaseFinished) for event in events):
            self._timeline.urge()  # the cards show it at once: so must the timeline
        now = time.monotonic()
        logs_seq = self._logs.seq if self._logs is not None else 0
        timeline = self.timeline_version()
        if not (force or events or gone or overflowed or logs_seq != self._last_logs or timeline != self._last_timeline
                or now - self._last_at >= _IDLE_REFRESH):
            return None
        self._last_at, self._last_logs, self._last_timeline = now, logs_seq, timeline
        snapshot = self._tracker.snapshot()
        state = state_of(snapshot, self.workers.phase_workers, {**self._meta, "timeline": timeline})
        self.workers.retain(set(state.phases))
        state.workers = self.workers.rows({phase_id for phase_id, row in state.phases.items() if row["stalled"]})
        state.logs = self._logs.entries() if self._logs is not None else []
        return state

    def timeline_version(self) -> int | None:
        """The version of the timeline picture (``None`` without a journal)."""
        if self._timeline is None:
            return None
        found = self._timeline()
        return None if found is None else found[0]

    def timeline_svg(self, window: str | None = None) -> bytes | None:
        """The timeline picture, when a journal is attached (``window``: see ``hub.WINDOWS``)."""
        return self._timeline.window(window) if self._timeline is not None else None

    def cancel(self, operation_id: str) -> bool:
        """Cancel a running operation as ``operation.cancel()`` does; ``False`` if there is none."""
        operation: Any = self._tracker.get_operation(operation_id)
        if operation is None or operation.finished:
            return False
        operation.cancel()
        return True

    def close(self) -> None:
        """Stop watching the tracker's events. Idempotent."""
        self._buffer.close()
