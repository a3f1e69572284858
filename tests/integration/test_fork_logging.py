"""A worker and its session parent's logging: a forked child, like a spawned one, starts with none
of the handlers the session put on the root logger (the console's, the journal's, the
dashboard's), so no lock a parent thread held at the fork can stop it, and its records reach the
parent once, forwarded."""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path

import pytest
from rich.console import Console

import mpprogress
from tests.integration.conftest import START_METHODS, end_processes, finished_phases, wait_for

pytestmark = pytest.mark.processes


def handlers_then_log(conn: Connection) -> None:
    """Report the root logger's handlers as the child starts, then log and count one phase."""
    conn.send([type(handler).__name__ for handler in logging.getLogger().handlers])
    tracker = mpprogress.get_tracker()
    logging.getLogger("child").warning("forked child %d says hello", os.getpid())
    with tracker.get_operation("op").phase(f"child {os.getpid()}", total=3) as phase:
        phase.update(3)


def forks_a_grandchild(conn: Connection) -> None:
    """A worker that forks a child of its own, which reports and logs as ``handlers_then_log``."""
    mpprogress.get_tracker()
    logging.getLogger("worker").warning("worker %d forks", os.getpid())
    grandchild = multiprocessing.get_context("fork").Process(target=handlers_then_log, args=(conn,))
    grandchild.start()
    grandchild.join(60)
    raise SystemExit(grandchild.exitcode)


@contextmanager
def bare_root_logger() -> Iterator[logging.Logger]:
    """The root logger without pytest's capture handlers, as in a user's script (restored after)."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers.clear()
    try:
        yield root
    finally:
        root.handlers[:] = saved


@pytest.mark.parametrize("start_method", START_METHODS)
def test_a_worker_starts_without_the_sessions_log_handlers(tmp_path: Path, start_method: str) -> None:
    pytest.importorskip("aiohttp")
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=False)
    ctx = multiprocessing.get_context(start_method)
    with bare_root_logger() as bare_root, mpprogress.session(
        console=console, journal=tmp_path / "run.db", dashboard="127.0.0.1:0", forward_logs=True
    ) as tracker:
        added = sorted(type(handler).__name__ for handler in bare_root.handlers)
        assert added == ["ConsoleLogHandler", "JournalLogHandler", "LogBook"]
        tracker.start_operation("op", "Op")
        # A parent thread sits inside every one of those handlers while the workers are forked.
        inside, leave = threading.Event(), threading.Event()

        def hold_every_handler() -> None:
            for handler in bare_root.handlers:
                handler.acquire()
            inside.set()
            leave.wait(60)
            for handler in bare_root.handlers:
                handler.release()

        holder = threading.Thread(target=hold_every_handler)
        holder.start()
        assert inside.wait(10)
        pipes = [ctx.Pipe(duplex=False) for _ in range(3)]
        workers = [ctx.Process(target=handlers_then_log, args=(send,)) for _, send in pipes]
        try:
            for worker in workers:
                worker.start()
            leave.set()  # the parent's own records (the aggregator re-emits the workers') go on
            holder.join()
            seen = [receive.recv() if receive.poll(30) else None for receive, _ in pipes]
        finally:
            leave.set()
            end_processes(workers, 60)
        assert [worker.exitcode for worker in workers] == [0, 0, 0]
        assert seen == [[], [], []]  # none of the parent's handlers came along
        assert wait_for(lambda: finished_phases(tracker) == 3, timeout=30)
        tracker.finish_operation("op")
    shown = out.getvalue()
    for worker in workers:  # forwarded and shown once, by the parent
        assert shown.count(f"forked child {worker.pid} says hello") == 1, shown


@pytest.mark.parametrize("start_method", START_METHODS)
def test_a_child_a_worker_forks_starts_without_the_workers_forwarding_handler(start_method: str) -> None:
    out = io.StringIO()
    ctx = multiprocessing.get_context(start_method)
    with bare_root_logger(), mpprogress.session(console=Console(file=out, width=120), forward_logs=True) as tracker:
        tracker.start_operation("op", "Op")
        receive, send = ctx.Pipe(duplex=False)
        worker = ctx.Process(target=forks_a_grandchild, args=(send,))
        worker.start()
        try:
            seen = receive.recv() if receive.poll(60) else None
        finally:
            end_processes([worker], 60)
        assert worker.exitcode == 0 and seen == []  # the worker's handler (its link) stayed with it
        assert wait_for(lambda: finished_phases(tracker) == 1)
        assert len(tracker.snapshot().operations[0].all_phases()) == 1
        tracker.finish_operation("op")
    shown = out.getvalue()
    assert shown.count(f"worker {worker.pid} forks") == 1, shown
    assert len(re.findall(r"forked child \d+ says hello", shown)) == 1, shown  # once, through its own client
