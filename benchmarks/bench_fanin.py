"""Many processes, one display: mpprogress vs tqdm (multiprocessing lock) vs atpbar, in one run.

Run: ``python benchmarks/bench_fanin.py`` (defaults: 4 processes x 250,000 updates or items;
32 processes x 20 phases for the latency run; about two minutes).  Prints three tables:

1. no work between updates: wall time of each tool, as ``update(1)`` per item and as an
   iterator (``tqdm(it)`` / ``phase.track(it)``), each against tqdm's same form;
2. about ``--work-us`` of real CPU work per item (hashing 1 KiB): overhead of each tool against
   the same work with no progress at all;
3. fan-in: the parent's CPU seconds per wall second (aggregator + display), and the latency from
   a worker's update to its event in the parent and to the first frame written to the terminal
   that shows it, p50/p99, with 32 processes x 20 phases.

The tools take turns within each round and each one's best round is shown, so that a noisy
stretch of the (shared) machine falls on all of them alike.  Every display renders to a forced
terminal on /dev/null (Rich with ``force_terminal``; tqdm and atpbar write to /dev/null).  Final
counts are checked in every mpprogress run.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import multiprocessing as mp
import os
import re
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

from atpbar import atpbar, find_reporter, flushing, register_reporter
from tqdm import tqdm  # imported here, as a script would: forked workers do not import it again

import mpprogress
from mpprogress._frontends.tqdm import tqdm as mpprogress_tqdm

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
# With ``rounds == 0`` the loops do nothing between updates (not even an empty call), as asked.


def _loop(update: Callable[[int], Any], n: int, rounds: int) -> None:
    """``n`` times: ``rounds`` of work (if any), then ``update(1)``."""
    if rounds:
        for _ in range(n):
            work(rounds)
            update(1)
    else:
        for _ in range(n):
            update(1)


class _NoOpPhase:
    """The port's ``update`` signature doing nothing: the floor for any ``update(1)``."""

    def update(self, increment: int = 1, message: str | None = None, **metadata: Any) -> None:
        pass


def noop_worker(index: int, n: int, rounds: int) -> None:
    _loop(_NoOpPhase().update, n, rounds)


def plain_worker(index: int, n: int, rounds: int) -> None:
    if rounds:
        for _ in range(n):
            work(rounds)


def tqdm_worker(index: int, n: int, rounds: int, lock: Any) -> None:
    tqdm.set_lock(lock)
    with open(os.devnull, "w") as devnull, tqdm(total=n, position=index, file=devnull, desc=f"w{index}") as bar:
        _loop(bar.update, n, rounds)


def tqdm_iter_worker(index: int, n: int, rounds: int, lock: Any) -> None:
    tqdm.set_lock(lock)
    with open(os.devnull, "w") as devnull:
        for _ in tqdm(range(n), position=index, file=devnull, desc=f"w{index}"):
            pass


def atpbar_worker(index: int, n: int, rounds: int, reporter: Any) -> None:
    register_reporter(reporter)
    for _ in atpbar(range(n), name=f"w{index}"):
        work(rounds)


def mpprogress_worker(operation_id: str, index: int, n: int, rounds: int) -> None:
    op = mpprogress.get_tracker().get_operation(operation_id)
    with op.phase(f"w{index}", total=n) as phase:
        _loop(phase.update, n, rounds)


def mpprogress_track_worker(operation_id: str, index: int, n: int, rounds: int) -> None:
    op = mpprogress.get_tracker().get_operation(operation_id)
    with op.phase(f"w{index}", total=n) as phase:
        for _ in phase.track(range(n)):
            pass


def front_end_worker(operation_id: str, index: int, n: int, rounds: int) -> None:
    """``mpprogress.tqdm``'s bar, as a tqdm user would write it (plus the operation to join)."""
    with mpprogress_tqdm(total=n, desc=f"w{index}", operation=operation_id) as bar:
        _loop(bar.update, n, rounds)


def front_end_iter_worker(operation_id: str, index: int, n: int, rounds: int) -> None:
    for _ in mpprogress_tqdm(range(n), desc=f"w{index}", operation=operation_id):
        pass


def latency_worker(operation_id: str, index: int, phases: int, updates: int) -> None:
    op = mpprogress.get_tracker().get_operation(operation_id)
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


def _terminal_console(file: IO[str] | None = None, height: int = 25) -> Any:
    from rich.console import Console

    return Console(file=file or open(os.devnull, "w"), force_terminal=True, width=120, height=height)


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


def run_noop(procs: int, n: int, rounds: int) -> float:
    start = time.perf_counter()
    _run_processes(noop_worker, [(i, n, rounds) for i in range(procs)])
    return time.perf_counter() - start


def run_tqdm(procs: int, n: int, rounds: int, worker: Callable[..., None] = tqdm_worker) -> float:
    lock = mp.RLock()
    start = time.perf_counter()
    _run_processes(worker, [(i, n, rounds, lock) for i in range(procs)])
    return time.perf_counter() - start


def run_atpbar(procs: int, n: int, rounds: int) -> float:
    """atpbar, in a fresh process: its reporter leaves a polling thread behind (about 0.07 CPU
    seconds per second here), which would tax every run after it in this process."""
    context = mp.get_context("spawn")
    results = context.SimpleQueue()
    runner = context.Process(target=_atpbar_here, args=(procs, n, rounds, results, mp.get_start_method()))
    runner.start()
    runner.join()
    if runner.exitcode != 0:
        raise RuntimeError(f"atpbar run exited with {runner.exitcode}")
    return float(results.get())


def _atpbar_here(procs: int, n: int, rounds: int, results: Any, start_method: str) -> None:
    mp.set_start_method(start_method, force=True)  # the workers start as the other tools' do
    results.put(_run_atpbar(procs, n, rounds))  # a SimpleQueue writes at once
    os._exit(0)  # without atpbar's exit-time complaints from its leftover thread


def _run_atpbar(procs: int, n: int, rounds: int) -> float:
    with _stdout_to_devnull():
        start = time.perf_counter()
        with flushing():
            reporter = find_reporter()
            _run_processes(atpbar_worker, [(i, n, rounds, reporter) for i in range(procs)])
        return time.perf_counter() - start


PARENT_CPU: list[float] = []  # CPU seconds per wall second of the parent, one per mpprogress run


def run_mpprogress(procs: int, n: int, rounds: int, worker: Callable[..., None] = mpprogress_worker) -> float:
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    with mpprogress.session(console=_terminal_console()) as tracker:
        with tracker.operation("bench") as op:
            _run_processes(worker, [(op.operation_id, i, n, rounds) for i in range(procs)])
        counts = sorted(p.current for p in op.phases.values())
    elapsed = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    PARENT_CPU.append((usage.ru_utime - usage_before.ru_utime + usage.ru_stime - usage_before.ru_stime) / elapsed)
    if counts != [n] * procs:
        raise AssertionError(f"final counts {counts} != {[n] * procs}")
    return elapsed


class _FrameClock(io.TextIOBase):
    """A terminal stand-in that notes when each worker timestamp first appears on the screen."""

    _STAMP = re.compile(r"\d{10}\.\d{6}")

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self._seen: set[str] = set()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        now = time.time()
        for stamp in self._STAMP.findall(text):
            if stamp not in self._seen:
                self._seen.add(stamp)
                self.latencies.append(now - float(stamp))
        return len(text)


def _thread_cpu(prefix: str) -> dict[str, float]:
    """CPU seconds used so far by this process's threads whose name starts with ``prefix``
    (Linux: from /proc; empty elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for thread in threading.enumerate():
        if thread.name.startswith(prefix) and thread.native_id is not None:
            with contextlib.suppress(OSError):
                with open(f"/proc/self/task/{thread.native_id}/stat") as stat:
                    fields = stat.read().rpartition(")")[2].split()
                used[thread.name] = used.get(thread.name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return used


def run_latency(procs: int, phases: int, updates: int) -> dict[str, float]:
    """Parent CPU per wall second, and latencies from a worker's update to its event and to the
    first frame written to the (fake) terminal that shows it."""
    event_latencies: list[float] = []
    lock = threading.Lock()

    def measure(event_type: str, **data: Any) -> None:
        if event_type == "progress_update" and data.get("message"):
            with contextlib.suppress(ValueError):
                sent = float(data["message"])
                with lock:
                    event_latencies.append(time.time() - sent)

    screen = _FrameClock()
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    # Tall enough for every running phase to have its row (none folded away).
    with mpprogress.session(console=_terminal_console(screen, height=procs + 10), sinks=(measure,)) as tracker:
        with tracker.operation("latency") as op:
            _run_processes(latency_worker, [(op.operation_id, i, phases, updates) for i in range(procs)])
            threads = _thread_cpu("mpprogress-")
            threads_wall = time.perf_counter() - start
        finished = len(op.phases)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    events = statistics.quantiles(event_latencies, n=100)
    shown = statistics.quantiles(screen.latencies, n=100)
    return {
        "cpu_per_wall": cpu / wall, "phases": finished, "shown": len(screen.latencies),
        "aggregator_per_wall": threads.get("mpprogress-aggregator", 0.0) / threads_wall,
        "display_per_wall": threads.get("mpprogress-console", 0.0) / threads_wall,
        "event_p50": events[49] * 1000, "event_p99": events[98] * 1000,
        "display_p50": shown[49] * 1000, "display_p99": shown[98] * 1000,
    }


def interleaved(rounds: int, runs: dict[str, Callable[[], float]]) -> dict[str, float]:
    """The best (least disturbed) time of each run; the runs take turns within each round, so
    that a noisy stretch of the shared machine falls on all of them alike."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            best[name] = min(best[name], run())
    return best


def main(argv: list[str] | None = None) -> None:
    """Run the three comparisons and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--n", type=int, default=250_000, help="updates per process")
    parser.add_argument("--work-us", type=float, default=10.0)
    parser.add_argument("--work-n", type=int, default=250_000, help="items per process in the CPU-work run")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each tool's best round is shown")
    parser.add_argument("--latency-procs", type=int, default=32)
    parser.add_argument("--latency-phases", type=int, default=20)
    parser.add_argument("--latency-updates", type=int, default=25)
    args = parser.parse_args(argv)
    procs, n = args.procs, args.n

    print(f"1) {procs} processes x {n:,} updates, no work between them (best of {args.repeat} interleaved rounds)")
    results = interleaved(args.repeat, {
        "no progress (empty loop)": lambda: run_plain(procs, n, 0),
        "floor: no-op update(1)": lambda: run_noop(procs, n, 0),
        "tqdm + mp lock, update(1)": lambda: run_tqdm(procs, n, 0),
        "atpbar (iterator)": lambda: run_atpbar(procs, n, 0),
        "mpprogress, update(1)": lambda: run_mpprogress(procs, n, 0),
        "tqdm + mp lock, iterator": lambda: run_tqdm(procs, n, 0, tqdm_iter_worker),
        "mpprogress, track()": lambda: run_mpprogress(procs, n, 0, mpprogress_track_worker),
        "mpprogress.tqdm, update(1)": lambda: run_mpprogress(procs, n, 0, front_end_worker),
        "mpprogress.tqdm, iterator": lambda: run_mpprogress(procs, n, 0, front_end_iter_worker),
    })
    for name, seconds in results.items():
        like = "tqdm + mp lock, iterator" if "iterator" in name or "track" in name else "tqdm + mp lock, update(1)"
        print(f"   {name:<27} {seconds:8.3f} s   {seconds / results[like]:6.2f}x {like}")

    rounds = calibrate(args.work_us)
    print(f"\n2) {procs} processes x {args.work_n:,} items, ~{args.work_us:g} us CPU work each "
          f"({rounds} sha256 rounds of 1 KiB; best of {args.repeat} interleaved rounds)")
    work_n = args.work_n
    PARENT_CPU.clear()
    results = interleaved(args.repeat, {
        "no progress": lambda: run_plain(procs, work_n, rounds),
        "tqdm + mp lock": lambda: run_tqdm(procs, work_n, rounds),
        "atpbar": lambda: run_atpbar(procs, work_n, rounds),
        "mpprogress session": lambda: run_mpprogress(procs, work_n, rounds),
    })
    plain = results.pop("no progress")
    print(f"   {'no progress':<27} {plain:8.3f} s")
    for name, seconds in results.items():
        print(f"   {name:<27} {seconds:8.3f} s   overhead {100 * (seconds / plain - 1):+6.1f}%")
    print(f"   (mpprogress's parent process, display + aggregator: {statistics.median(PARENT_CPU):.3f} CPU s per "
          f"wall s, median of {len(PARENT_CPU)} runs, on {os.cpu_count()} cores shared with the workers)")

    print(f"\n3) fan-in: {args.latency_procs} processes x {args.latency_phases} phases x "
          f"{args.latency_updates} updates (2 ms apart), display on a {args.latency_procs + 10}-line terminal")
    fan = run_latency(args.latency_procs, args.latency_phases, args.latency_updates)
    print(f"   parent process CPU, all of it:     {fan['cpu_per_wall']:.3f} s per wall s   "
          f"({fan['phases']:.0f} phases finished; includes forking the {args.latency_procs} workers)")
    print(f"   aggregator thread CPU:             {fan['aggregator_per_wall']:.3f} s per wall s")
    print(f"   display thread CPU:                {fan['display_per_wall']:.3f} s per wall s")
    print(f"   update -> event in the parent:     p50 {fan['event_p50']:6.1f} ms   p99 {fan['event_p99']:6.1f} ms")
    print(f"   update -> first frame showing it:  p50 {fan['display_p50']:6.1f} ms   p99 {fan['display_p99']:6.1f} ms"
          f"   ({fan['shown']:.0f} updates shown)")


if __name__ == "__main__":
    main()
