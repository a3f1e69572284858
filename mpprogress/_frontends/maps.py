"""``process_map`` and ``thread_map``: ``list(map(fn, *iterables))`` on a pool, shown as one
operation with an overall phase and a row per worker.

Like ``tqdm.contrib.concurrent``'s, with what one display adds: each worker process (or thread)
has its own row, counting the items it did, its rate and the item it is on (as its message); a
worker that dies is marked lost while the others go on (the session notices, as for any worker);
Ctrl-C or an error cancels the operation, so workers stop at their next item (``cancelled``)
instead of the pool waiting for every queued item; results come back in order.

``process_map`` needs a session for its workers to report to: it uses the one this process is in
(its parent's or its own), else opens one for the call: on this process's tracker when one is
set, else with a display on stderr.  ``thread_map`` needs none.  Bars that ``fn`` opens (tqdm
bars, ``Progress`` tasks) are nested under the row of the worker that runs it.
"""

from __future__ import annotations

import functools
import multiprocessing.util
import os
import reprlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from .._base.forksafe import PerProcess
from .._base.port import ProgressError, ProgressOperation, ProgressPhase, ProgressTracker, failure_reason
from .._core.tracker import BaseProgressTracker
from .._remote.settings import ADDRESS_ENV, inherited_setting
from .._wiring import display_if_silent, get_tracker, session
from .placement import Placement, active_display, nested_under, show_worker_writes

__all__ = ["process_map", "thread_map"]

R = TypeVar("R")
Chunk = Sequence[tuple[Any, ...]]

LOST_GRACE = 10.0
"""Longest a failed ``process_map`` waits for the session to notice workers that died (it is
usually a fraction of a second; a loaded machine can take longer, and a row finished before
then could no longer show "lost")."""

_describe = reprlib.Repr()
_describe.maxstring = _describe.maxother = 60


def process_map(
    fn: Callable[..., R],
    *iterables: Iterable[Any],
    max_workers: int | None = None,
    chunksize: int = 1,
    desc: str | None = None,
    mp_context: Any = None,
    initializer: Callable[..., object] | None = None,
    initargs: tuple[Any, ...] = (),
    max_tasks_per_child: int | None = None,
    timeout: float | None = None,
    disable: bool = False,
    **options: Any,
) -> list[R]:
    """``list(map(fn, *iterables))`` on a ``ProcessPoolExecutor``, one row per worker process.

    Args:
        fn: a picklable function (top-level, for ``spawn`` and ``forkserver``).
        *iterables: its arguments, zipped; the shortest ends the map.
        max_workers: processes; the executor's default (the CPU count) by default.
        chunksize: items sent to a worker at a time.
        desc: the operation's title (``fn``'s name by default).
        mp_context: the ``multiprocessing`` context the pool starts workers with.
        initializer: called in each worker before its first item, with ``initargs``.
        initargs: the initializer's arguments.
        max_tasks_per_child: replace a worker after this many chunks (Python 3.11+).
        timeout: seconds, overall, before ``concurrent.futures.TimeoutError``.
        disable: run without any progress.
        **options: tqdm's other arguments (``tqdm_class``, ``unit``, ``leave``...): accepted and
            ignored.

    Returns:
        ``fn``'s results, in the order of the items.
    """
    pool_options: dict[str, Any] = {
        "max_workers": max_workers, "mp_context": mp_context, "initializer": initializer, "initargs": initargs
    }
    if max_tasks_per_child is not None:
        pool_options["max_tasks_per_child"] = max_tasks_per_child
    items = list(zip(*iterables, strict=False))
    if disable:
        return _plain(ProcessPoolExecutor(**pool_options), fn, items, chunksize, timeout)
    with _reporting() as tracker:
        show_worker_writes()
        return _mapped(ProcessPoolExecutor(**pool_options), fn, items, chunksize, timeout, desc, tracker, None)


def thread_map(
    fn: Callable[..., R],
    *iterables: Iterable[Any],
    max_workers: int | None = None,
    chunksize: int = 1,
    desc: str | None = None,
    thread_name_prefix: str = "",
    initializer: Callable[..., object] | None = None,
    initargs: tuple[Any, ...] = (),
    timeout: float | None = None,
    disable: bool = False,
    tracker: ProgressTracker | None = None,
    **options: Any,
) -> list[R]:
    """``list(map(fn, *iterables))`` on a ``ThreadPoolExecutor``, one row per thread.

    Args:
        fn: the function.
        *iterables: its arguments, zipped; the shortest ends the map.
        max_workers: threads; the executor's default by default.
        chunksize: items a thread takes at a time.
        desc: the operation's title (``fn``'s name by default).
        thread_name_prefix: the threads' name prefix.
        initializer: called in each thread before its first item, with ``initargs``.
        initargs: the initializer's arguments.
        timeout: seconds, overall, before ``concurrent.futures.TimeoutError``.
        disable: run without any progress.
        tracker: extension: the tracker to report to instead of ``get_tracker()``.
        **options: tqdm's other arguments: accepted and ignored.

    Returns:
        ``fn``'s results, in the order of the items.
    """
    pool = ThreadPoolExecutor(max_workers, thread_name_prefix, initializer, initargs)
    items = list(zip(*iterables, strict=False))
    if disable:
        return _plain(pool, fn, items, chunksize, timeout)
    return _mapped(pool, fn, items, chunksize, timeout, desc, tracker, _ThreadRows())


# --- the parent's side ----------------------------------------------------------------------------


@contextmanager
def _reporting() -> Iterator[ProgressTracker]:
    """The tracker the workers' rows reach: this process's session, or one opened for the call."""
    if inherited_setting(ADDRESS_ENV):  # in a session (its parent, or one of its workers)
        yield get_tracker()
        return
    shown = active_display() or get_tracker()
    own = display_if_silent()  # made only where nothing shows this process's progress
    if own is not None:
        own.close()
        from ..adapters.console import terminal_console  # the console family imports rich

        with session(console=terminal_console(stderr=True)) as tracker:
            yield tracker
    elif isinstance(shown, BaseProgressTracker):
        with session(console=False, tracker=shown) as tracker:
            yield tracker
    else:
        yield shown  # e.g. a silent tracker set on purpose: the workers stay silent too


def _chunks(items: Sequence[tuple[Any, ...]], size: int) -> list[Chunk]:
    size = max(1, int(size))
    return [items[start : start + size] for start in range(0, len(items), size)]


def _collect(futures: list[Future[list[R]]], timeout: float | None) -> list[R]:
    deadline = None if timeout is None else time.monotonic() + timeout
    results: list[R] = []
    for future in futures:
        results.extend(future.result(None if deadline is None else max(0.0, deadline - time.monotonic())))
    return results


def _plain(pool: Executor, fn: Callable[..., R], items: Sequence[tuple[Any, ...]], chunksize: int,
           timeout: float | None) -> list[R]:
    with pool:
        return _collect([pool.submit(_run_chunk, fn, None, chunk) for chunk in _chunks(items, chunksize)], timeout)


def _count(overall: ProgressPhase, items: int, future: Future[Any]) -> None:
    if not future.cancelled() and future.exception() is None:
        with suppress(ProgressError):
            overall.update(items)


def _mapped(
    pool: Executor, fn: Callable[..., R], items: Sequence[tuple[Any, ...]], chunksize: int, timeout: float | None,
    desc: str | None, tracker: ProgressTracker | None, threads: _ThreadRows | None,
) -> list[R]:
    title = desc or str(getattr(fn, "__name__", "map"))
    placement = Placement.resolve(title, tracker=tracker, nest=False, named=False)
    op = placement.container
    assert isinstance(op, ProgressOperation)
    overall = placement.start(title, len(items))
    success, reason = True, None
    try:
        with pool:
            try:
                futures = []
                for chunk in _chunks(items, chunksize):
                    if threads is None:
                        future = pool.submit(_run_chunk, fn, op.operation_id, chunk)
                    else:
                        future = pool.submit(threads.run, op, fn, chunk)
                    future.add_done_callback(functools.partial(_count, overall, len(chunk)))
                    futures.append(future)
                results = _collect(futures, timeout)
            except BaseException as exc:
                success, reason = False, failure_reason(exc)
                op.cancel()  # workers stop at their next item
                pool.shutdown(wait=True, cancel_futures=True)
                if threads is None:
                    _await_rows(op, overall)
                raise
        with suppress(ProgressError):
            overall.set_progress(len(items))  # every item is done: exact even if a count is late
        return results
    finally:
        try:
            if threads is not None:
                threads.finish(op)
            placement.finish(overall, success, reason)
        finally:
            placement.close(success)


def _await_rows(op: ProgressOperation, overall: ProgressPhase, timeout: float = LOST_GRACE) -> None:
    """Give the session time to finish the rows of workers that died (as lost, not cancelled)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(row.completed_at is not None for row in list(op.phases.values()) if row is not overall):
            return
        time.sleep(0.05)


# --- the workers' side ----------------------------------------------------------------------------


def _run(fn: Callable[..., R], chunk: Chunk, row: ProgressPhase | None, op: ProgressOperation | None) -> list[R]:
    """Run ``fn`` over a chunk, counting on the worker's row (nothing stops for the row's sake).

    Bars ``fn`` opens go into the operation, next to the rows: under a row, its count (items)
    and theirs would be summed into one figure.
    """
    if row is None or op is None:
        return [fn(*args) for args in chunk]
    results = []
    with nested_under(op, None):
        for args in chunk:
            row.raise_if_cancelled()
            with suppress(ProgressError):
                row.update(0, _describe.repr(args[0] if len(args) == 1 else args))
            results.append(fn(*args))
            with suppress(ProgressError):
                row.update(1)
    return results


def _run_chunk(fn: Callable[..., R], operation_id: str | None, chunk: Chunk) -> list[R]:
    """A worker process's task: a chunk, counted on this process's row of the operation."""
    row, op = _process_row(operation_id) if operation_id else (None, None)
    return _run(fn, chunk, row, op)


_rows: PerProcess[dict[str, tuple[ProgressPhase, ProgressOperation]]] = PerProcess(dict)


def _process_row(operation_id: str) -> tuple[ProgressPhase | None, ProgressOperation | None]:
    """This worker process's row in the operation (started on its first item), and the operation."""
    rows = _rows.get()
    known = rows.get(operation_id)
    if known is not None:
        return known
    op = get_tracker().get_operation(operation_id)  # a worker's client: a view of the parent's
    if op is None:
        return None, None
    if not rows:  # before the client's own exit hook (priority 100): the row ends as done
        multiprocessing.util.Finalize(None, _finish_rows, exitpriority=101)
    row = op.start_phase(uuid.uuid4().hex, f"worker {os.getpid()}")
    rows[operation_id] = (row, op)
    return row, op


def _finish_rows() -> None:
    for row, op in (_rows.peek() or {}).values():
        with suppress(ProgressError):
            op.finish_phase(row.phase_id, True)


class _ThreadRows:
    """The rows of a ``thread_map``'s threads, started on each thread's first item."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[int, ProgressPhase] = {}

    def run(self, op: ProgressOperation, fn: Callable[..., R], chunk: Chunk) -> list[R]:
        ident = threading.get_ident()
        row = self._rows.get(ident)
        if row is None:
            with self._lock:
                row = op.start_phase(uuid.uuid4().hex, f"thread {len(self._rows) + 1}")
                self._rows[ident] = row
        return _run(fn, chunk, row, op)

    def finish(self, op: ProgressOperation) -> None:
        with self._lock:
            rows, self._rows = list(self._rows.values()), {}
        for row in rows:
            with suppress(ProgressError):
                op.finish_phase(row.phase_id, True)
