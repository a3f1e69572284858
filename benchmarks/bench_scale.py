"""Hundreds of worker processes, and thousands of short-lived ones: mpprogress, tqdm+lock, atpbar.

Run: ``python benchmarks/bench_scale.py`` (defaults: 16, 64 and 256 workers at once, a
``Pool(maxtasksperchild=1)`` of 2,000 tasks and a ``ProcessPoolExecutor`` of 10,000 tasks, one
round, ``fork``; about ten minutes a round, most of it waiting out atpbar's executor run, which
does not end here and is given up after ``--timeout``).  ``--method spawn|forkserver``, ``--rounds``,
``--workers``, ``--pool-tasks``/``--executor-tasks`` (0 skips), ``--tools``.  For exactness
alone, many times over: ``--tools mpprogress --rounds 5`` (one line per run is printed as it
ends; this replaces ``scale_workers.py``).

The cases (issue 11):

- ``N workers``: a parent under ``mpprogress.session(console=<Rich on a forced terminal on
  /dev/null>)`` opens one operation and starts N ``multiprocessing.Process`` at once; each does
  ``get_tracker().get_operation(op_id)``, then ``--phases`` phases of ``--updates``
  ``update(1)`` (every 100th carries a timestamp message) and exits normally.  tqdm: the same
  work as one bar per phase sharing a multiprocessing lock; atpbar: one ``atpbar`` per phase.
- ``pool``: ``Pool(cpu_count, maxtasksperchild=1)``, one process per task, each task one phase
  of 100 updates.
- ``executor``: ``ProcessPoolExecutor(cpu_count)`` with the same tasks (with
  ``max_tasks_per_child=1`` under spawn and forkserver; ``fork`` does not allow it, so there
  its workers live on and run many tasks each).

Every run happens in a fresh interpreter (its peak RSS is the run's own).  Columns: wall time
of each tool (best round); for mpprogress, in every round: phases exact / expected, false
"lost" (every worker exited normally), phases never seen; the parent's CPU seconds; the display
thread's CPU per wall second; frames each worker process sent (and, for the pool and the
executor, per task: under ``fork`` the executor's few processes run many tasks each); p99 latency from a worker's
update to the parent's event, and to the first terminal frame showing it (rows on screen only:
hundreds of phases fold into a bounded frame); the parent's peak RSS.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import json
import multiprocessing as mp
import multiprocessing.util
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from atpbar import atpbar, find_reporter, flushing, register_reporter
from bench_fanin import _FrameClock, _stdout_to_devnull, _thread_cpu
from rich.console import Console
from tqdm import tqdm

import mpprogress
from mpprogress._core.current import current_tracker

STAMP_EVERY = 100
TASK_UPDATES = 100
_frames_recorded = False  # per process: the exit-time record of frames sent is registered


# --- workers (top level: every start method can import them) -----------------------------------


def _record_frames(frames: Any) -> None:
    """Once per process: at exit, after the client closed, add the frames it sent to ``frames``."""
    global _frames_recorded
    if _frames_recorded:
        return
    _frames_recorded = True

    def add() -> None:
        with frames.get_lock():
            link = getattr(current_tracker(), "_link", None)  # the client's link counts what it sent
            frames[0] += getattr(link, "frames_sent", 0)
            frames[1] += 1

    multiprocessing.util.Finalize(None, add, exitpriority=50)  # the client's (100) runs first


def _count(update: Callable[..., Any], updates: int) -> None:
    for _ in range(updates // STAMP_EVERY):
        update(1, f"{time.time():.6f}")
        for _ in range(STAMP_EVERY - 1):
            update(1)


def mpprogress_worker(operation_id: str, phases: int, updates: int, frames: Any) -> None:
    _record_frames(frames)
    op = mpprogress.get_tracker().get_operation(operation_id)
    for k in range(phases):
        with op.phase(f"{os.getpid()}-{k}", total=updates) as phase:
            _count(phase.update, updates)


def _tqdm_update(bar: Any) -> Callable[..., None]:
    """``bar.update`` that also shows a message, as a phase's ``update(1, message)`` does."""

    def update(increment: int, message: str | None = None) -> None:
        if message is not None:
            bar.set_description_str(message, refresh=False)
        bar.update(increment)

    return update


def tqdm_worker(lock: Any, position: int, phases: int, updates: int) -> None:
    tqdm.set_lock(lock)
    with open(os.devnull, "w") as devnull:
        for _ in range(phases):
            with tqdm(total=updates, position=position % 40, file=devnull) as bar:
                _count(_tqdm_update(bar), updates)


def atpbar_worker(reporter: Any, phases: int, updates: int) -> None:
    register_reporter(reporter)
    for k in range(phases):
        for _ in atpbar(range(updates), name=f"{os.getpid()}-{k}"):
            pass


_task_frames: list[Any] = []  # a pool worker's shared frame counter (set by its initializer)


def init_task_frames(frames: Any) -> None:
    """Pool initializer: shared arrays travel to workers only when they start."""
    _task_frames.append(frames)


def mpprogress_task(operation_id: str, task: int) -> int:
    _record_frames(_task_frames[0])
    op = mpprogress.get_tracker().get_operation(operation_id)
    with op.phase(f"task {task}", total=TASK_UPDATES) as phase:
        _count(phase.update, TASK_UPDATES)
    return task


def tqdm_task(task: int) -> int:
    with open(os.devnull, "w") as devnull, tqdm(total=TASK_UPDATES, file=devnull, position=task % 2) as bar:
        _count(_tqdm_update(bar), TASK_UPDATES)
    return task


def atpbar_task(task: int) -> int:
    for _ in atpbar(range(TASK_UPDATES), name=f"task {task}"):
        pass
    return task


# --- one run, in a fresh interpreter ----------------------------------------------------------


class Finishes:
    """A sink: every ``phase_finished`` (success, reason, current), and update-to-event latencies."""

    def __init__(self) -> None:
        self.done: list[tuple[bool, str | None, float]] = []
        self.latencies: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, *, event_type: str, **data: Any) -> None:
        if event_type == "phase_finished":
            with self._lock:
                self.done.append((data["success"], data.get("reason"), data["current"]))
        elif event_type == "progress_update" and data.get("message"):
            with contextlib.suppress(ValueError), self._lock:
                self.latencies.append(time.time() - float(data["message"]))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _start_all(context: Any, target: Callable[..., None], argsets: list[tuple[Any, ...]]) -> list[int | None]:
    procs = [context.Process(target=target, args=args) for args in argsets]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    return [proc.exitcode for proc in procs]


def _pool_map(context: Any, kind: str, method: str, fn: Callable[..., int], tasks: int,
              initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()) -> None:
    workers = os.cpu_count() or 2
    if kind == "pool":
        with context.Pool(workers, initializer, initargs, maxtasksperchild=1) as pool:
            done = pool.map(fn, range(tasks), chunksize=1)
            pool.close()
            pool.join()
    else:
        extra = {"max_tasks_per_child": 1} if method != "fork" and sys.version_info >= (3, 11) else {}
        with cf.ProcessPoolExecutor(workers, context, initializer, initargs, **extra) as pool:  # type: ignore[arg-type]
            done = list(pool.map(fn, range(tasks), chunksize=1 if extra else 50))
    assert done == list(range(tasks))


def run_one(case: str, tool: str, method: str, phases: int, updates: int) -> dict[str, Any]:
    """One run of ``tool`` on ``case`` (``"N"`` workers at once, ``"pool:T"``, ``"executor:T"``)."""
    mp.set_start_method(method, force=True)  # atpbar's reporter queue uses the default context
    context = mp.get_context(method)
    kind, _, size = case.partition(":")
    started, cpu = time.perf_counter(), _cpu()
    result: dict[str, Any] = {}
    if tool == "mpprogress":
        finishes, screen, frames = Finishes(), _FrameClock(), context.Array("q", 2)
        console = Console(file=screen, force_terminal=True, width=120, height=40)  # type: ignore[arg-type]
        with mpprogress.session(console=console, sinks=(finishes,)) as tracker, tracker.operation("scale") as op:
            if kind == "workers":
                codes = _start_all(context, mpprogress_worker,
                                   [(op.operation_id, phases, updates, frames)] * int(size))
                assert codes == [0] * int(size), codes
                expected, final = int(size) * phases, updates
            else:
                _pool_map(context, kind, method, partial(mpprogress_task, op.operation_id), int(size),
                          init_task_frames, (frames,))
                expected, final = int(size), TASK_UPDATES
            display = _thread_cpu("mpprogress-console").get("mpprogress-console", 0.0)
            display_wall = time.perf_counter() - started
        exact = sum(1 for success, _, current in finishes.done if success and current == final)
        result = {
            "exact": exact, "expected": expected, "lost": sum(1 for d in finishes.done if d[1] == "lost"),
            "missing": expected - len(finishes.done), "display_cpu": display / display_wall,
            "frames": frames[0] / max(1, frames[1]),
            "frames_per_task": None if kind == "workers" else frames[0] / int(size),
            "event_p99": statistics.quantiles(finishes.latencies, n=100)[98] * 1e3,
            "frame_p99": statistics.quantiles(screen.latencies, n=100)[98] * 1e3 if len(screen.latencies) > 1 else None,
        }
    elif tool == "tqdm":
        lock = context.RLock()
        if kind == "workers":
            codes = _start_all(context, tqdm_worker, [(lock, k, phases, updates) for k in range(int(size))])
            assert codes == [0] * int(size), codes
        else:
            _pool_map(context, kind, method, tqdm_task, int(size), tqdm.set_lock, (lock,))
    else:
        with _stdout_to_devnull(), flushing():
            reporter = find_reporter()
            if kind == "workers":
                codes = _start_all(context, atpbar_worker, [(reporter, phases, updates)] * int(size))
                assert codes == [0] * int(size), codes
            else:
                _pool_map(context, kind, method, atpbar_task, int(size), register_reporter, (reporter,))
    result.update(wall=time.perf_counter() - started, parent_cpu=_cpu() - cpu,
                  rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def _in_fresh_process(case: str, tool: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        command = [sys.executable, __file__, "--one", case, tool, "--out", out.name, "--method", args.method,
                   "--phases", str(args.phases), "--updates", str(args.updates)]
        run = subprocess.Popen(command, start_new_session=True)  # its pool's workers too, on a timeout
        try:
            code = run.wait(args.timeout)
        except subprocess.TimeoutExpired:  # atpbar's 10,000-task executor run never ends here
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
            return {"timeout": args.timeout}
        return dict(json.load(out)) if code == 0 else {"failed": code}


# --- the table --------------------------------------------------------------------------------


def _cases(args: argparse.Namespace) -> list[str]:
    cases = [f"workers:{n}" for n in args.workers]
    if args.pool_tasks:
        cases.append(f"pool:{args.pool_tasks}")
    if args.executor_tasks:
        cases.append(f"executor:{args.executor_tasks}")
    return cases


def _label(case: str, method: str) -> str:
    kind, _, size = case.partition(":")
    if kind == "workers":
        return f"{size} workers at once"
    if kind == "pool":
        return f"Pool(maxtasksperchild=1), {int(size):,} tasks"
    per_child = ", max_tasks_per_child=1" if method != "fork" else ""
    return f"ProcessPoolExecutor{per_child}, {int(size):,} tasks"


def _row(case: str, method: str, runs: dict[str, list[dict[str, Any]]]) -> str:
    def wall(tool: str) -> str:
        done = [r["wall"] for r in runs.get(tool, []) if "wall" in r]
        if not done:
            first = runs.get(tool, [{}])[0]
            return f"> {first['timeout']:.0f} (timed out)" if "timeout" in first else "failed" if first else "-"
        return f"{min(done):.2f}"

    mine = [r for r in runs.get("mpprogress", []) if "wall" in r]
    broken = len(runs.get("mpprogress", [])) - len(mine)  # failed or timed out: never hidden
    if not mine:
        return f"| {_label(case, method)} | - | {wall('tqdm')} | {wall('atpbar')} |" + " - |" * 9
    best = min(mine, key=lambda r: r["wall"])
    exact = f"{min(r['exact'] for r in mine)}/{best['expected']}" + (f" ({len(mine)} runs)" if len(mine) > 1 else "")
    exact += f", {broken} run(s) failed" if broken else ""
    frames = f"{best['frames']:.1f}" + (f" ({best['frames_per_task']:.1f}/task)" if best.get("frames_per_task") else "")
    frame = f"{best['frame_p99']:.0f}" if best["frame_p99"] is not None else "-"
    tqdm_walls = [r["wall"] for r in runs.get("tqdm", []) if "wall" in r]
    ratio = f" ({best['wall'] / min(tqdm_walls):.2f}x)" if tqdm_walls else ""
    return (f"| {_label(case, method)} | {best['wall']:.2f}{ratio} | {wall('tqdm')} | {wall('atpbar')} | {exact} "
            f"| {max(r['lost'] for r in mine)} | {max(r['missing'] for r in mine)} | {best['parent_cpu']:.2f} "
            f"| {best['display_cpu']:.3f} | {frames} | {best['event_p99']:.0f} | {frame} "
            f"| {best['rss_mb']:.0f} |")


HEADER = ("| case | mpprogress s | tqdm+lock s | atpbar s | exact (worst run) | false lost | missing "
          "| parent CPU s | display CPU/s | frames/process | p99 event ms | p99 frame ms | parent RSS MB |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="*", default=[16, 64, 256])
    parser.add_argument("--phases", type=int, default=5)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--pool-tasks", type=int, default=2000)
    parser.add_argument("--executor-tasks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--method", choices=["fork", "spawn", "forkserver"], default="fork")
    parser.add_argument("--tools", nargs="+", default=["mpprogress", "tqdm", "atpbar"])
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before a run is given up")
    parser.add_argument("--one", nargs=2, metavar=("CASE", "TOOL"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.updates < 2 * STAMP_EVERY or args.updates % STAMP_EVERY:
        parser.error(f"--updates must be a multiple of {STAMP_EVERY}, at least {2 * STAMP_EVERY}")
    if args.one:
        result = run_one(args.one[0], args.one[1], args.method, args.phases, args.updates)
        with open(args.out, "w") as out:
            json.dump(result, out)
        os._exit(0)  # without atpbar's exit-time complaints from its leftover thread
    if args.method != "fork" and "atpbar" in args.tools:  # its reporter holds a lock: no pickling
        args.tools.remove("atpbar")
        print("atpbar left out: its reporter cannot be sent to spawn or forkserver workers")
    print(f"{args.method}; workers at once do {args.phases} phases x {args.updates} updates; "
          f"{os.cpu_count()} CPUs; mpprogress from {os.path.dirname(mpprogress.__file__)}", flush=True)
    rows = []
    for case in _cases(args):
        runs: dict[str, list[dict[str, Any]]] = {}
        for round_ in range(1, args.rounds + 1):
            for tool in args.tools:  # the tools take turns within a round
                result = _in_fresh_process(case, tool, args)
                runs.setdefault(tool, []).append(result)
                shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in result.items()}
                print(f"  {case} round {round_} {tool}: {shown}", flush=True)
        rows.append(_row(case, args.method, runs))
        print(rows[-1], flush=True)
    print(HEADER)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
