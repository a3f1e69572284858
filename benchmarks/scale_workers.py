"""Hundreds of worker processes at once: are the counts exact, is anything marked lost or missing?

Run: ``python benchmarks/scale_workers.py --workers 64 256 --rounds 3`` (``--method fork`` by
default; ``spawn``/``forkserver`` too).  The reproduction of issue 11: a parent under
``mpprogress.session(console=<Rich on a forced terminal writing to /dev/null>)`` opens one
operation and starts N ``multiprocessing.Process`` workers at once; each does
``op = get_tracker().get_operation(op_id)``, then ``--phases`` phases of ``--updates``
``phase.update(1)`` with ``total=--updates``, and exits normally.  Per run it prints:

- ``exact``: phases that finished successfully with their exact final count;
- ``lost``: phases finished with ``reason="lost"`` although every worker exited with code 0
  (a healthy parent treated like a dead one, or a worker treated as dead);
- ``other``: phases finished any other way (wrong count, failed);
- ``missing``: phases the parent never saw finish (not even as lost);
- wall time, the parent's CPU seconds, and the same work under tqdm with a multiprocessing
  lock (one bar per phase, writing to /dev/null), in the same round.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import threading
import time
from typing import Any

from rich.console import Console
from tqdm import tqdm

import mpprogress


def mpprogress_worker(operation_id: str, phases: int, updates: int) -> None:
    """The issue's worker: ``phases`` phases of ``updates`` updates under the parent's operation."""
    op = mpprogress.get_tracker().get_operation(operation_id)
    assert op is not None, "no session: run this from the benchmark's parent"
    for k in range(phases):
        with op.phase(f"{os.getpid()}-{k}", total=updates) as phase:
            for _ in range(updates):
                phase.update(1)


def tqdm_worker(lock: Any, position: int, phases: int, updates: int) -> None:
    """The same work under tqdm: one bar per phase, the bars sharing a multiprocessing lock."""
    tqdm.set_lock(lock)
    with open(os.devnull, "w") as devnull:
        for _ in range(phases):
            with tqdm(total=updates, position=position % 40, file=devnull) as bar:
                for _ in range(updates):
                    bar.update(1)


class Finishes:
    """A sink recording every ``phase_finished`` event: (success, reason, current)."""

    def __init__(self) -> None:
        self.done: list[tuple[bool, str | None, float]] = []
        self._lock = threading.Lock()

    def __call__(self, *, event_type: str, **data: Any) -> None:
        if event_type == "phase_finished":
            with self._lock:
                self.done.append((data["success"], data.get("reason"), data["current"]))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_mpprogress(context: Any, workers: int, phases: int, updates: int) -> dict[str, Any]:
    finishes = Finishes()
    console = Console(file=open(os.devnull, "w"), force_terminal=True, width=120)  # noqa: SIM115
    started, cpu = time.perf_counter(), _cpu()
    with mpprogress.session(console=console, sinks=(finishes,)) as tracker, tracker.operation("scale") as op:
        procs = [context.Process(target=mpprogress_worker, args=(op.operation_id, phases, updates))
                 for _ in range(workers)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        codes = [proc.exitcode for proc in procs]
    wall, cpu = time.perf_counter() - started, _cpu() - cpu
    console.file.close()
    done = [d for d in finishes.done]
    exact = sum(1 for success, _, current in done if success and current == updates)
    lost = sum(1 for _, reason, _ in done if reason == "lost")
    return {"exact": exact, "lost": lost, "other": len(done) - exact - lost, "missing": workers * phases - len(done),
            "wall": wall, "cpu": cpu, "bad_exits": sum(1 for code in codes if code != 0)}


def run_tqdm(context: Any, workers: int, phases: int, updates: int) -> float:
    lock = context.RLock()
    started = time.perf_counter()
    procs = [context.Process(target=tqdm_worker, args=(lock, k, phases, updates)) for k in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--phases", type=int, default=5)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--method", choices=["fork", "spawn", "forkserver"], default="fork")
    parser.add_argument("--no-tqdm", action="store_true", help="skip the tqdm + lock comparison")
    args = parser.parse_args()
    context = mp.get_context(args.method)
    print(f"{args.method}: N workers x {args.phases} phases x {args.updates} updates; mpprogress from "
          f"{os.path.dirname(mpprogress.__file__)}", flush=True)
    print(f"{'workers':>7} {'round':>5} {'exact':>6} {'lost':>5} {'other':>5} {'missing':>7} {'exit!=0':>7} "
          f"{'wall s':>7} {'parent CPU s':>12} {'tqdm+lock s':>11} {'ratio':>6}", flush=True)
    for workers in args.workers:
        for round_ in range(1, args.rounds + 1):
            result = run_mpprogress(context, workers, args.phases, args.updates)
            reference = float("nan") if args.no_tqdm else run_tqdm(context, workers, args.phases, args.updates)
            print(f"{workers:>7} {round_:>5} {result['exact']:>6} {result['lost']:>5} {result['other']:>5} "
                  f"{result['missing']:>7} {result['bad_exits']:>7} {result['wall']:>7.2f} {result['cpu']:>12.2f} "
                  f"{reference:>11.2f} {result['wall'] / reference:>5.2f}x", flush=True)


if __name__ == "__main__":
    main()
