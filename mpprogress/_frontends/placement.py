"""Where the phases of the front ends go: nested, in a named operation, or in one of their own.

A bar (a ``tqdm``, a ``Progress`` task, a ``process_map`` row) is a phase.  Where it opens:

1. **Inside another bar.**  A bar created while another bar is open in the same thread or
   asyncio task (``contextvars``) becomes a sub-phase of that bar, so tqdm's nested loops
   (``position=``, ``leave=False``) become nested rows.  A worker row of ``process_map`` counts
   as an open bar for what its function opens.
2. **In a named operation**, when no bar is open: the ``operation=`` argument (an operation or
   its id), else the ``MPPROGRESS_OPERATION`` setting, which ``shared_operation()`` exports to
   the processes started inside it.  This is how bars of different worker processes become
   phases of one operation.
3. **Otherwise in an operation of its own**, titled with the bar's description (the script's
   name when it has none), like ``mpprogress.track``; it finishes with the bar.

The tracker is the one ``get_tracker()`` returns: the session's in its parent, a client in a
worker.  Where that tracker would show nothing (no session, no tracker set, not a worker),
bars share a display of their own on stderr while any of them is open, as ``track()`` does.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from .._base.forksafe import PerProcess, ProcessLock
from .._base.port import ProgressOperation, ProgressPhase, ProgressTracker
from .._remote.settings import export_settings, inherited_setting
from .._wiring import display_if_silent, get_tracker

_log = logging.getLogger(__name__)

__all__ = [
    "OPERATION_ENV",
    "WRITE_LOGGER",
    "OpenBar",
    "Placement",
    "active_display",
    "nested_under",
    "phase_total",
    "script_title",
    "shared_operation",
    "show_worker_writes",
]

OPERATION_ENV = "MPPROGRESS_OPERATION"
"""The id of the operation that bars with no bar above them join (``shared_operation`` sets it)."""

WRITE_LOGGER = "mpprogress.write"
"""The logger a worker's ``tqdm.write`` lines travel under to the session's parent."""

Container = ProgressOperation | ProgressPhase


def script_title() -> str:
    """The running script's file name (``python`` for ``-c`` and the interactive prompt)."""
    name = os.path.basename(sys.argv[0]) if sys.argv else ""
    return name if name and name not in ("-c", "-m") else "python"


def phase_total(total: object) -> int | None:
    """A front end's total (tqdm's and Rich's may be floats) as a phase total: whole, finite and
    non-negative (rounded up), else unknown."""
    if isinstance(total, bool) or not isinstance(total, (int, float)):
        return None
    if not (0 <= total < math.inf):
        return None
    return math.ceil(total)


def show_worker_writes() -> None:
    """Let the lines workers write through the front ends show in this process's logging.

    Worker lines arrive as ``INFO`` records of ``mpprogress.write``; the root logger's default
    level (``WARNING``) would drop them.  A level set by the application is kept.
    """
    logger = logging.getLogger(WRITE_LOGGER)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


# --- the open bars of this thread or task --------------------------------------------------------


@dataclass(eq=False)
class OpenBar:
    """A bar (or an operation standing in for one) that bars created under it (same thread or
    task) open in."""

    container: Container
    tracker: ProgressTracker | None
    pid: int
    closed: bool = False
    children: int = 0  # bars opened under this one and not yet finished
    deferred: Callable[[], None] | None = None  # this bar's finish, waiting for its children


_open_bars: ContextVar[tuple[OpenBar, ...]] = ContextVar("mpprogress_open_bars", default=())
_tree_lock = ProcessLock()  # guards every OpenBar's children and deferred (a new one in a forked child)


def _parent() -> OpenBar | None:
    """The innermost bar still open in this thread or task, in this process."""
    pid = os.getpid()  # a forked child inherits its parent's context: not its bars
    for bar in reversed(_open_bars.get()):
        if not bar.closed and bar.pid == pid and bar.container.completed_at is None:
            return bar
    return None


def push(container: Container, tracker: ProgressTracker | None) -> OpenBar:
    """Make ``container`` where new bars of this thread or task open, until ``pop``."""
    bar = OpenBar(container, tracker, os.getpid())
    _open_bars.set((*(b for b in _open_bars.get() if not b.closed), bar))
    return bar


def pop(bar: OpenBar) -> None:
    """Stop nesting in ``bar`` (from any thread: elsewhere it is only marked closed)."""
    bar.closed = True
    stack = _open_bars.get()
    if bar in stack:
        _open_bars.set(tuple(b for b in stack if b is not bar))


@contextmanager
def nested_under(container: Container, tracker: ProgressTracker | None) -> Iterator[None]:
    """Bars opened inside the block (this thread or task) open in ``container``."""
    bar = push(container, tracker)
    try:
        yield
    finally:
        pop(bar)


# --- a display of our own where nothing else would show the bars --------------------------------


class _OwnDisplay:
    def __init__(self) -> None:
        self.lock = threading.RLock()  # re-entrant: a bar dropped meanwhile releases it from __del__
        self.tracker: ProgressTracker | None = None
        self.users = 0


_own: PerProcess[_OwnDisplay] = PerProcess(_OwnDisplay)


def _acquire_display() -> ProgressTracker | None:
    """The shared display of this process's bars, if nothing else would show them."""
    holder = _own.get()
    with holder.lock:
        if holder.tracker is None:
            holder.tracker = display_if_silent()
            if holder.tracker is None:
                return None
        holder.users += 1
        return holder.tracker


def _release_display(tracker: ProgressTracker) -> None:
    holder = _own.peek()
    if holder is None:
        return
    with holder.lock:
        if holder.tracker is not tracker:
            return
        holder.users -= 1
        if holder.users > 0:
            return
        holder.tracker = None
    tracker.close()


def active_display() -> ProgressTracker | None:
    """The display of our own this process's bars are on now, if any."""
    holder = _own.peek()
    return None if holder is None else holder.tracker


# --- placements ---------------------------------------------------------------------------------


class Placement:
    """Where a front end's phases go, and what it must finish when it is done.

    Made by ``resolve``; ``start`` opens a phase there, ``finish`` ends one, ``close`` ends the
    operation it started (if any) and lets go of the shared display.
    """

    def __init__(
        self,
        tracker: ProgressTracker | None,
        container: Container,
        *,
        own_operation: str | None = None,
        display: ProgressTracker | None = None,
    ) -> None:
        self.tracker = tracker
        self.container = container
        self.own_operation = own_operation
        self._display = display
        self.parent: OpenBar | None = None  # the open bar this placement nests in, if any

    @classmethod
    def resolve(
        cls,
        title: str,
        *,
        operation: ProgressOperation | str | None = None,
        tracker: ProgressTracker | None = None,
        nest: bool = True,
        named: bool = True,
    ) -> Placement:
        """Where a new bar goes: see the module's docstring for the order.

        Args:
            title: the title of the operation, if one of its own is started.
            operation: an operation, or the id of one, to join.
            tracker: the tracker to use instead of ``get_tracker()``.
            nest: whether an open bar of this thread or task is a candidate.
            named: whether ``MPPROGRESS_OPERATION`` is a candidate.

        Raises:
            Exception: whatever the tracker raises (callers that must not raise catch it).
        """
        if isinstance(operation, ProgressOperation):
            return cls(tracker, operation)
        if nest and operation is None and tracker is None:
            parent = _parent()
            if parent is not None:
                nested = cls(parent.tracker, parent.container)
                nested.parent = parent
                return nested
        display = _acquire_display() if tracker is None else None
        try:
            chosen = tracker or display or get_tracker()
            joined = _named_operation(chosen, operation, named)
            if joined is not None:
                return cls(chosen, joined, display=display)
            operation_id = uuid.uuid4().hex
            started = chosen.start_operation(operation_id, title)
            return cls(chosen, started, own_operation=operation_id, display=display)
        except BaseException:
            if display is not None:
                _release_display(display)
            raise

    def start(self, title: str, total: int | None) -> ProgressPhase:
        """Open a phase here."""
        return self.container.start_phase(uuid.uuid4().hex, title, total)

    def finish(self, phase: ProgressPhase, success: bool = True, reason: str | None = None) -> None:
        """End a phase opened by ``start``."""
        self.container.finish_phase(phase.phase_id, success, reason=reason)

    def hold(self) -> None:
        """Keep the bar this placement nests in from finishing until ``end`` (its phase would
        end the phases under it: a bar closed before a bar opened under it waits for it)."""
        if self.parent is not None:
            with _tree_lock.current():
                self.parent.children += 1

    def end(self, phase: ProgressPhase, success: bool, reason: str | None, own: OpenBar | None) -> None:
        """Finish ``phase`` (opened by ``start`` after ``hold``) and close this placement; while
        bars opened under it (``own``) are still open, only once the last of them has ended.

        The outcome and the count are the ones given now: finishing later changes neither.
        """

        def finish() -> None:
            try:
                self.finish(phase, success, reason)
            except Exception:
                _log.debug("mpprogress: phase %r did not finish", phase.phase_id, exc_info=True)
            finally:
                try:
                    self.close(success)
                finally:
                    if self.parent is not None:
                        _child_ended(self.parent)

        if own is not None:
            with _tree_lock.current():
                if own.children > 0:
                    own.deferred = finish
                    return
        finish()

    def close(self, success: bool = True) -> None:
        """End the operation this placement started, if any, and let go of the display."""
        try:
            if self.own_operation is not None and self.tracker is not None:
                self.tracker.finish_operation(self.own_operation, success)
        finally:
            display, self._display = self._display, None
            if display is not None:
                _release_display(display)


def _child_ended(bar: OpenBar) -> None:
    """A bar opened under ``bar`` has ended: run ``bar``'s deferred finish after the last one."""
    with _tree_lock.current():
        bar.children -= 1
        run, bar.deferred = (bar.deferred, None) if bar.children <= 0 else (None, bar.deferred)
    if run is not None:
        run()


def _named_operation(tracker: ProgressTracker, operation: str | None, named: bool) -> ProgressOperation | None:
    """The operation named by the argument or ``MPPROGRESS_OPERATION``, if it is open here."""
    operation_id = operation or (inherited_setting(OPERATION_ENV) if named else None)
    if not operation_id:
        return None
    found = tracker.get_operation(operation_id)  # a worker's client: a view of the parent's
    return found if found is not None and found.completed_at is None else None


@contextmanager
def shared_operation(
    title: str, description: str | None = None, *, tracker: ProgressTracker | None = None
) -> Iterator[ProgressOperation]:
    """One operation for the bars of this process and of the processes started inside the block.

    Bars opened with no bar above them, here and in every process started inside the block
    (``fork``, ``spawn``, ``forkserver`` or ``subprocess``: ``MPPROGRESS_OPERATION`` is exported
    to them), become phases of this operation instead of operations of their own.  Start pools
    inside the block, as for ``session()``.  Use it inside ``mpprogress.session()`` when the
    bars are in worker processes.

    Args:
        title: the operation's title.
        description: longer text, optional.
        tracker: where to start it; ``get_tracker()`` (or the bars' own display) by default.

    Yields:
        The operation; it fails if the block raises.
    """
    display = _acquire_display() if tracker is None else None
    show_worker_writes()
    try:
        with (tracker or display or get_tracker()).operation(title, description) as op:
            restore = export_settings({OPERATION_ENV: op.operation_id})
            try:
                yield op
            finally:
                restore()
    finally:
        if display is not None:
            _release_display(display)
