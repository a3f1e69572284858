"""Worker functions for the multiprocess tests (importable, so they work under spawn/forkserver).

Also runnable as ``python -m tests.integration.workers COMMAND ...`` for the tests that need a
parent or a worker as a separate script.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

import mpprogress

__all__ = [
    "count_phases",
    "exit_abruptly",
    "exit_without_closing",
    "fork_grandchild",
    "hang_in_phase",
    "log_warning",
    "nested_phases",
    "own_operation",
    "report_phases",
    "thread_stress",
    "wait_for_cancel",
]


def report_phases(operation_id: str, phases: int = 3, items: int = 50) -> int:
    """Report ``phases`` phases of ``items`` updates each under the parent's operation."""
    op = mpprogress.get_tracker().get_operation(operation_id)
    for k in range(phases):
        with op.phase(f"{os.getpid()}-{k}", total=items) as phase:
            for i in range(items):
                phase.update(1, message=f"item {i}")
    return os.getpid()


def count_phases(operation_id: str, phases: int = 5, items: int = 2000) -> None:
    """Issue 11's worker: ``phases`` phases of ``items`` plain ``update(1)`` each."""
    op = mpprogress.get_tracker().get_operation(operation_id)
    for k in range(phases):
        with op.phase(f"{os.getpid()}-{k}", total=items) as phase:
            for _ in range(items):
                phase.update(1)


def nested_phases(operation_id: str, items: int = 20) -> int:
    """One outer phase with two sub-phases; the outer has no total (it rolls up)."""
    op = mpprogress.get_tracker().get_operation(operation_id)
    with op.phase(f"outer {os.getpid()}") as outer:
        for name in ("a", "b"):
            with outer.phase(f"inner {name}", total=items) as inner:
                for _ in inner.track(range(items)):
                    pass
    return os.getpid()


def own_operation(title: str, items: int = 10) -> str:
    """Open an operation of the worker's own, with one phase."""
    tracker = mpprogress.get_tracker()
    with tracker.operation(title) as op, op.phase("own phase", total=items) as phase:
        phase.set_progress(items, message="all at once", source="worker")
    return op.operation_id


def hang_in_phase(operation_id: str, items: int = 5) -> None:
    """Start a phase, count a few items, then hang (to be killed)."""
    phase = mpprogress.get_tracker().get_operation(operation_id).start_phase("hang-id", "hang", total=100)
    phase.update(items)
    time.sleep(120)


def exit_without_closing(operation_id: str, items: int = 7, total: int = 7) -> None:
    """Start a phase and return without finishing it or closing anything."""
    op = mpprogress.get_tracker().get_operation(operation_id)
    phase = op.start_phase(f"unclosed-{os.getpid()}", "unclosed", total=total)
    for _ in range(items):
        phase.update(1, message="counting")


def exit_abruptly(operation_id: str, items: int = 100) -> None:
    """Connect, start a phase, count, and ``os._exit(0)`` at once: no exit hook ever runs."""
    op = mpprogress.get_tracker().get_operation(operation_id)
    phase = op.start_phase(f"abrupt-{os.getpid()}", "abrupt", total=items)
    for _ in range(items):
        phase.update(1)
    os._exit(0)


def wait_for_cancel(operation_id: str, timeout: float = 20.0) -> bool:
    """Work in a phase until the parent cancels it; return whether the cancellation arrived."""
    op = mpprogress.get_tracker().get_operation(operation_id)
    deadline = time.monotonic() + timeout
    try:
        with op.phase("cancellable", total=None) as phase:
            while time.monotonic() < deadline:
                phase.raise_if_cancelled()
                phase.update(1)
                time.sleep(0.01)
    except mpprogress.ProgressCancelled:
        return True
    return False


def log_warning(logger_name: str, text: str) -> int:
    """Log a warning after connecting (so the forwarding handler is installed)."""
    mpprogress.get_tracker()
    logging.getLogger(logger_name).warning("%s from %d", text, os.getpid())
    return os.getpid()


def thread_stress(operation_id: str, threads: int = 8, items: int = 100_000) -> int | float:
    """``threads`` threads update one client phase ``items`` times each; return the count."""
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    op = mpprogress.get_tracker().get_operation(operation_id)
    with op.phase("stress", total=threads * items) as phase:
        barrier = threading.Barrier(threads)

        def hammer() -> None:
            barrier.wait()
            update = phase.update
            for _ in range(items):
                update(1)

        workers = [threading.Thread(target=hammer) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    return phase.current


def fork_grandchild(operation_id: str) -> int:
    """Report a phase, then fork: the grandchild reports one too, with its own context."""
    report_phases(operation_id, phases=1, items=5)
    pid = os.fork()
    if pid == 0:
        try:
            op = mpprogress.get_tracker().get_operation(operation_id)
            with op.phase("grandchild", total=3) as phase:
                phase.update(3)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


# --- scripts ----------------------------------------------------------------------------------


def _script_worker(operation_id: str, phases: str, items: str) -> None:
    """A plain subprocess worker: report phases, print done."""
    report_phases(operation_id, int(phases), int(items))
    print("done", flush=True)


def _script_slow_worker(phases: str) -> None:
    """A worker that keeps working after its parent is gone: short phases, then exit."""
    with mpprogress.get_tracker().operation("slow worker") as operation:
        for k in range(int(phases)):
            with operation.phase(f"slow {k}", total=10) as phase:
                if k == 0:
                    print("working", flush=True)
                for _ in range(10):
                    phase.update(1)
                    time.sleep(0.01)


def _script_parent_of_slow_worker(phases: str) -> None:
    """A session parent that starts a slow subprocess worker, prints its pid, and waits."""
    import subprocess

    with mpprogress.session(console=False):
        command = [sys.executable, "-m", "tests.integration.workers", "slow-worker", phases]
        child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        child.stdout.readline()  # "working": the child is connected and reporting
        print(child.pid, flush=True)
        child.wait()


def _script_interrupted_parent(method: str) -> None:
    """A session parent whose pool workers run until cancelled; Ctrl-C is expected.

    A ``ProcessPoolExecutor``, not a ``multiprocessing.Pool``: ``Pool.terminate()`` can hang
    on Ctrl-C under any progress library (a replacement worker holds the task queue's lock).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from rich.console import Console

    console = Console(file=sys.stdout, force_terminal=True, width=80)
    with mpprogress.session(console=console) as tracker, tracker.operation("interrupted") as op:
        context = multiprocessing.get_context(method)
        with ProcessPoolExecutor(2, mp_context=context) as pool:
            futures = [pool.submit(wait_for_cancel, op.operation_id, 60.0) for _ in range(2)]
            while len(op.phases) < 2:  # both workers are inside their phases
                time.sleep(0.05)
            pids = [p.pid for p in pool._processes.values()]  # type: ignore[union-attr]
            print("pids", *pids, flush=True)
            for future in futures:
                future.result(60)


_SCRIPTS = {
    "worker": _script_worker,
    "slow-worker": _script_slow_worker,
    "parent-of-slow-worker": _script_parent_of_slow_worker,
    "interrupted-parent": _script_interrupted_parent,
}


if __name__ == "__main__":
    _SCRIPTS[sys.argv[1]](*sys.argv[2:])
