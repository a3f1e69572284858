"""Many processes, one display: mpprogress vs tqdm (multiprocessing lock) vs atpbar, in one run.

Run: ``python benchmarks/bench_fanin.py`` (defaults: 4 processes x 250,000 updates; 32 processes x
20 phases for the latency run).  Prints three tables:

1. no work between updates: wall time of each tool, and the ratio to tqdm;
2. about ``--work-us`` of real CPU work per item (hashing): overhead of each tool against the same
   work with no progress at all;
3. fan-in: the parent's CPU seconds per wall second (aggregator + display) and the
   update-to-display latency p50/p99 with 32 processes x 20 phases.

Every display renders to a terminal on /dev/null (Rich with ``force_terminal``; tqdm and atpbar
write to /dev/null).  Final counts are checked in every mpprogress run.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import multiprocessing as mp
import os
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import mpprogress

BLOCK = os.urandom(1024)


def calibrate(target_us: float) -> int:
    """How many 1 KiB sha256 rounds take about ``target_us`` microseconds here."""
    rounds, start = 2000, time.perf_counter()
    for _ in range(rounds):
        hashlib.sha256(BLOCK).digest()
    per_round_us = (time.perf_counter() - start) / rounds * 1e6
    return max(1, round(target_us / per_round_us)) if target_us > 0 else 0


def work(rounds: int) -> None:
    for _ in range(rounds):
        hashlib.sha256(BLOCK).digest()


# --- workers (top level, so every start method can import them) --------------------------------


def plain_worker(index: int, n: int, rounds: int) -> None:
    for _ in range(n):
        work(rounds)


def tqdm_worker(index: int, n: int, rounds: int, lock: Any) -> None:
    from tqdm import tqdm

    tqdm.set_lock(lock)
    with open(os.devnull, "w") as devnull, tqdm(total=n, position=index, file=devnull, desc=f"w{index}") as bar:
        update = bar.update
        for _ in range(n):
            work(rounds)
            update(1)


def atpbar_worker(index: int, n: int, rounds: int, reporter: Any) -> None:
    from atpbar import atpbar, register_reporter

    register_reporter(reporter)
    for _ in atpbar(range(n), name=f"w{index}"):
        work(rounds)


def mpprogress_worker(operation_id: str, index: int, n: int, rounds: int) -> None:
    op = mpprogress.get_tracker().get_operation(operation_id)
    assert op is not None
    with op.phase(f"w{index}", total=n) as phase:
        update = phase.update
        for _ in range(n):
            work(rounds)
            update(1)


def latency_worker(operation_id: str, index: int, phases: int, updates: int) -> None:
    op = mpprogress.get_tracker().get_operation(operation_id)
    assert op is not None
    for number in range(phases):
        with op.phase(f"p{index}.{number}", total=updates) as phase:
            for _ in range(updates):
                time.sleep(0.002)
                phase.update(1, f"{time.time():.6f}")


# --- runners ------------------------------------------------------------------------------------


def _run_processes(target: Callable[..., None], argsets: list[tuple[Any, ...]]) -> None:
    processes = [mp.Process(target=target, args=args) for args in argsets]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"worker exited with {process.exitcode}")


def _devnull_console() -> Any:
    from rich.console import Console

    return Console(file=open(os.devnull, "w"), force_terminal=True, width=120)


@contextlib.contextmanager
def _stdout_to_devnull() -> Iterator[None]:
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def run_plain(procs: int, n: int, rounds: int) -> float:
    start = time.perf_counter()
    _run_processes(plain_worker, [(i, n, rounds) for i in range(procs)])
    return time.perf_counter() - start


def run_tqdm(procs: int, n: int, rounds: int) -> float:
    lock = mp.RLock()
    start = time.perf_counter()
    _run_processes(tqdm_worker, [(i, n, rounds, lock) for i in range(procs)])
    return time.perf_counter() - start


def run_atpbar(procs: int, n: int, rounds: int) -> float:
    from atpbar import find_reporter, flushing

    with _stdout_to_devnull():
        start = time.perf_counter()
        with flushing():
            reporter = find_reporter()
            _run_processes(atpbar_worker, [(i, n, rounds, reporter) for i in range(procs)])
        return time.perf_counter() - start


def run_mpprogress(procs: int, n: int, rounds: int) -> float:
    start = time.perf_counter()
    with mpprogress.session(console=_devnull_console()) as tracker:
        with tracker.operation("bench") as op:
            _run_processes(mpprogress_worker, [(op.operation_id, i, n, rounds) for i in range(procs)])
        counts = sorted(p.current for p in tracker.get_operation(op.operation_id).phases.values())  # type: ignore[union-attr]
    elapsed = time.perf_counter() - start
    if counts != [n] * procs:
        raise AssertionError(f"final counts {counts} != {[n] * procs}")
    return elapsed


def run_latency(procs: int, phases: int, updates: int) -> tuple[float, float, float, int]:
    latencies: list[float] = []
    lock = threading.Lock()

    def measure(event_type: str, **data: Any) -> None:
        if event_type == "progress_update" and data.get("message"):
            with contextlib.suppress(ValueError):
                sent = float(data["message"])
                with lock:
                    latencies.append(time.time() - sent)

    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    with mpprogress.session(console=_devnull_console(), sinks=(measure,)) as tracker:
        with tracker.operation("latency") as op:
            _run_processes(latency_worker, [(op.operation_id, i, phases, updates) for i in range(procs)])
        finished = len(tracker.get_operation(op.operation_id).phases)  # type: ignore[union-attr]
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    cuts = statistics.quantiles(latencies, n=100)
    return cpu / wall, cuts[49] * 1000, cuts[98] * 1000, finished


def best_of(repeat: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(repeat))


def main(argv: list[str] | None = None) -> None:
    """Run the three comparisons and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--n", type=int, default=250_000)
    parser.add_argument("--work-us", type=float, default=10.0)
    parser.add_argument("--work-n", type=int, default=50_000, help="items per process in the CPU-work run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-procs", type=int, default=32)
    parser.add_argument("--latency-phases", type=int, default=20)
    parser.add_argument("--latency-updates", type=int, default=25)
    args = parser.parse_args(argv)

    print(f"1) {args.procs} processes x {args.n:,} updates, no work (best of {args.repeat})")
    results = {
        "tqdm + mp lock": best_of(args.repeat, lambda: run_tqdm(args.procs, args.n, 0)),
        "atpbar": best_of(args.repeat, lambda: run_atpbar(args.procs, args.n, 0)),
        "mpprogress session": best_of(args.repeat, lambda: run_mpprogress(args.procs, args.n, 0)),
    }
    for name, seconds in results.items():
        print(f"   {name:<22} {seconds:8.3f} s   {seconds / results['tqdm + mp lock']:6.2f}x tqdm")

    rounds = calibrate(args.work_us)
    print(f"\n2) {args.procs} processes x {args.work_n:,} items, ~{args.work_us:g} us CPU work each "
          f"({rounds} sha256 rounds of 1 KiB; best of {args.repeat})")
    plain = best_of(args.repeat, lambda: run_plain(args.procs, args.work_n, rounds))
    print(f"   {'no progress':<22} {plain:8.3f} s")
    for name, run in (("tqdm + mp lock", run_tqdm), ("atpbar", run_atpbar), ("mpprogress session", run_mpprogress)):
        seconds = best_of(args.repeat, lambda run=run: run(args.procs, args.work_n, rounds))  # type: ignore[misc]
        print(f"   {name:<22} {seconds:8.3f} s   overhead {100 * (seconds / plain - 1):+6.1f}%")

    print(f"\n3) fan-in: {args.latency_procs} processes x {args.latency_phases} phases x "
          f"{args.latency_updates} updates (2 ms apart)")
    cpu_per_wall, p50, p99, phases = run_latency(args.latency_procs, args.latency_phases, args.latency_updates)
    print(f"   parent CPU (aggregator + display): {cpu_per_wall:.3f} s per wall s")
    print(f"   update-to-event latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms   ({phases} phases finished)")


if __name__ == "__main__":
    main()
