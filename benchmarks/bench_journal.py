"""What a journal costs, how big it gets, and how long ``mpprogress report`` takes.

Run: ``python benchmarks/bench_journal.py`` (about two minutes).  Prints:

1. the wall time of ``bench_fanin``'s 4 processes x 250,000 ``update(1)`` in a headless
   ``session(console=False)``, with and without a ``JournalSink`` among its sinks, with no work
   between updates and with about 10 us of CPU work each (the runs take turns, in alternating
   order; the minimum and the median of the rounds are shown);
2. the update -> event latency (p50/p99) of 32 processes x 20 phases x 25 updates (2 ms apart),
   with and without the journal;
3. ``handle()``'s cost per call (what the aggregator's thread pays per event);
4. the journal's size per phase and per 1,000 progress samples;
5. writing a journal of 100,000 phases (32 workers, a fake clock) and the time
   ``mpprogress report`` takes on it in each format.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_fanin import _run_processes, calibrate, latency_worker, mpprogress_worker

import mpprogress
from mpprogress._base.events import (
    OperationFinished,
    OperationStarted,
    PhaseFinished,
    PhaseStarted,
    ProgressEvent,
    ProgressUpdate,
)
from mpprogress._report import load_run, render
from mpprogress.adapters.journal import JournalConfig, JournalSink
from mpprogress.testing import FakeClock

OPERATION = str(uuid.UUID(int=2**100))  # ids as the library makes them (UUIDs)


@contextlib.contextmanager
def journal_file() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory) / "bench.db"


class CountingJournal(JournalSink):
    """A journal that counts the events it is handed."""

    events = 0

    def handle(self, event: ProgressEvent) -> None:
        self.events += 1
        super().handle(event)


def _writer_cpu(sink: JournalSink) -> float:
    """CPU seconds the sink's writer thread used so far (Linux ``schedstat``: nanoseconds)."""
    with open(f"/proc/self/task/{sink._thread.native_id}/schedstat") as stat:
        return int(stat.read().split()[0]) / 1e9


JOURNAL_RUNS: list[tuple[int, float]] = []  # (events handled, writer thread CPU seconds) per run


def run_fanin(procs: int, n: int, journal: bool, rounds: int = 0) -> float:
    """Wall seconds of ``procs`` x ``n`` updates (after ``rounds`` of hashing each) in a headless
    session, the sink's opening and closing included."""
    with journal_file() as path:
        start = time.perf_counter()
        sink = CountingJournal(path) if journal else None
        with mpprogress.session(console=False, sinks=(sink,) if sink else ()) as tracker:
            with tracker.operation("bench") as op:
                _run_processes(mpprogress_worker, [(op.operation_id, i, n, rounds) for i in range(procs)])
            counts = sorted(p.current for p in op.phases.values())
        if sink is not None:
            writer_cpu = _writer_cpu(sink)
            sink.close()
            JOURNAL_RUNS.append((sink.events, writer_cpu))
        elapsed = time.perf_counter() - start
    if counts != [n] * procs:
        raise AssertionError(f"final counts {counts} != {[n] * procs}")
    return elapsed


def run_latency(procs: int, phases: int, updates: int, journal: bool) -> tuple[float, float]:
    """(p50, p99) milliseconds from a worker's update to its event in the parent."""
    latencies: list[float] = []
    lock = threading.Lock()

    def measure(event_type: str, **data: Any) -> None:
        if event_type == "progress_update" and data.get("message"):
            with contextlib.suppress(ValueError):
                sent = float(data["message"])
                with lock:
                    latencies.append(time.time() - sent)

    with journal_file() as path:
        sink = JournalSink(path) if journal else None
        sinks: tuple[Callable[..., None], ...] = (measure, sink) if sink else (measure,)
        with mpprogress.session(console=False, sinks=sinks) as tracker, tracker.operation("latency") as op:
            _run_processes(latency_worker, [(op.operation_id, i, phases, updates) for i in range(procs)])
        if sink is not None:
            sink.close()
    cuts = statistics.quantiles(latencies, n=100)
    return cuts[49] * 1000, cuts[98] * 1000


def handle_cost(calls: int = 200_000) -> tuple[float, float]:
    """Nanoseconds per ``handle()`` of a progress update, and of a phase start (starts in batches of
    500 with the writer emptying the queue between them, untimed, as its 5 writes a second would)."""
    with journal_file() as path, JournalSink(path, config=JournalConfig(flush_interval=3600.0)) as sink:
        updates = [ProgressUpdate(operation_id="op", phase_id=f"p{i % 64}", current=i) for i in range(calls)]
        start = time.perf_counter()
        for event in updates:
            sink.handle(event)
        per_update = (time.perf_counter() - start) / calls * 1e9
        spent, batches = 0.0, 40
        for batch in range(batches):
            starts = [PhaseStarted(operation_id="op", phase_id=f"s{batch}-{i}", title="s") for i in range(500)]
            start = time.perf_counter()
            for event in starts:
                sink.handle(event)
            spent += time.perf_counter() - start
            sink.flush()
        per_start = spent / (batches * 500) * 1e9
    return per_update, per_start


def fixed_cost(times: int = 30) -> tuple[float, float, float]:
    """Milliseconds (medians) to open a new journal, to open an existing one, and to close one."""
    opened_new, opened, closed = [], [], []
    with journal_file() as first:
        for number in range(times):
            path = first.with_name(f"fixed-{number}.db")
            for opens in (opened_new, opened):
                start = time.perf_counter()
                sink = JournalSink(path)
                middle = time.perf_counter()
                sink.close()
                opens.append(middle - start)
                closed.append(time.perf_counter() - middle)
    return tuple(statistics.median(values) * 1000 for values in (opened_new, opened, closed))  # type: ignore[return-value]


def journal_size(phases: int, samples_each: int) -> int:
    """Bytes of a closed journal of ``phases`` phases with ``samples_each`` samples (1 s apart) each,
    written through the sink with a fake clock."""
    clock = FakeClock(1_000_000.0)
    with journal_file() as path:
        sink = JournalSink(path, config=JournalConfig(flush_interval=3600.0), get_time=clock)
        ids = [str(uuid.UUID(int=number + 1)) for number in range(phases)]
        for phase_id in ids:
            sink.handle(PhaseStarted(operation_id=OPERATION, phase_id=phase_id, title="a phase title", total=1000))
        for step in range(1, samples_each + 1):
            clock.advance(1.0)
            for phase_id in ids:
                sink.handle(ProgressUpdate(operation_id=OPERATION, phase_id=phase_id, title="a phase title",
                                           current=step * 10, total=1000, message="fetching page 12"))
            sink.flush()
        clock.advance(1.0)
        for phase_id in ids:
            sink.handle(PhaseFinished(operation_id=OPERATION, phase_id=phase_id, title="a phase title",
                                      duration=samples_each + 1.0, current=samples_each * 10, total=1000))
        sink.close()
        return sum(part.stat().st_size for part in path.parent.iterdir())


@dataclass
class _WorkerStarted(PhaseStarted):
    worker: Any = None


def write_big_journal(path: Path, phases: int, workers: int) -> tuple[float, int]:
    """A journal of ``phases`` phases run by ``workers`` workers (0.5 to 3 s each, a sample a second,
    1% failed, 0.2% lost) fed through the sink on a fake clock; (seconds, samples written)."""
    rng = random.Random(14)
    clock = FakeClock(1_000_000.0)
    sink = JournalSink(path, config=JournalConfig(flush_interval=3600.0), get_time=clock)
    timeline: list[tuple[float, int, Any]] = [(0.0, 0, OperationStarted(operation_id=OPERATION, title="crawl"))]
    for number in range(phases):
        worker = number % workers
        begin = (number // workers) * 2.0 + rng.uniform(0, 0.4)
        length = rng.uniform(0.5, 1.6)
        items = rng.randint(10, 500)
        common = {"operation_id": OPERATION, "phase_id": str(uuid.UUID(int=number + 1)), "title": f"page {number}"}
        timeline.append((begin, 0, _WorkerStarted(**common, total=items, worker=("bench-host", 10_000 + worker))))
        for second in range(1, int(length) + 1):
            timeline.append((begin + second, 1, ProgressUpdate(**common, current=items * second // 2, total=items,
                                                               elapsed=float(second))))
        fate = rng.random()
        reason = "error" if fate < 0.01 else "lost" if fate < 0.012 else None
        timeline.append((begin + length, 2, PhaseFinished(**common, success=reason is None, reason=reason,
                                                          duration=length, current=items, total=items)))
    timeline.append((timeline[-1][0] + 2.0, 3, OperationFinished(operation_id=OPERATION, title="crawl")))
    timeline.sort(key=lambda item: (item[0], item[1]))
    start = time.perf_counter()
    next_flush = 1.0
    for at, _, event in timeline:
        if at >= next_flush:
            sink.flush()
            next_flush = at + 1.0
        clock.now = 1_000_000.0 + at
        sink.handle(event)
    sink.close()
    return time.perf_counter() - start, sink.samples_written


def main(argv: list[str] | None = None) -> None:
    """Run every measurement and print it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--n", type=int, default=250_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--work-us", type=float, default=10.0)
    parser.add_argument("--work-repeat", type=int, default=4)
    parser.add_argument("--latency-procs", type=int, default=32)
    parser.add_argument("--latency-rounds", type=int, default=3)
    parser.add_argument("--report-phases", type=int, default=100_000)
    args = parser.parse_args(argv)

    per_update, per_start = handle_cost()
    print(f"1) {args.procs} processes x {args.n:,} update(1), headless session, without and with a journal "
          "(interleaved rounds; min and median)")
    rounds = calibrate(args.work_us)
    for label, work, repeat in (("no work between updates", 0, args.repeat),
                                (f"~{args.work_us:g} us of CPU work per update", rounds, args.work_repeat)):
        times: dict[str, list[float]] = {"without": [], "with": []}
        for number in range(repeat):
            for name in ("without", "with") if number % 2 == 0 else ("with", "without"):
                times[name].append(run_fanin(args.procs, args.n, journal=name == "with", rounds=work))
        low = {name: min(values) for name, values in times.items()}
        mid = {name: statistics.median(values) for name, values in times.items()}
        print(f"   {label} ({repeat} rounds):")
        for name in times:
            print(f"     {name + ' a journal':<20} min {low[name]:7.3f} s   median {mid[name]:7.3f} s")
        print(f"     wall difference: {100 * (low['with'] / low['without'] - 1):+.1f}% (min), "
              f"{100 * (mid['with'] / mid['without'] - 1):+.1f}% (median)")
        events = statistics.median(run[0] for run in JOURNAL_RUNS)
        writer = statistics.median(run[1] for run in JOURNAL_RUNS)
        spent = writer + events * per_update / 1e9
        print(f"     the journal's own CPU per run: writer thread {writer * 1000:.2f} ms + {events:.0f} events "
              f"handed to it x {per_update:.0f} ns = {spent * 1000:.2f} ms, {100 * spent / mid['without']:.3f}% of "
              "the median wall")
        JOURNAL_RUNS.clear()

    print(f"\n2) update -> event latency, {args.latency_procs} processes x 20 phases x 25 updates "
          f"(best p99 of {args.latency_rounds} interleaved rounds)")
    lat: dict[str, list[tuple[float, float]]] = {"without": [], "with": []}
    for _ in range(args.latency_rounds):
        lat["without"].append(run_latency(args.latency_procs, 20, 25, journal=False))
        lat["with"].append(run_latency(args.latency_procs, 20, 25, journal=True))
    for name, runs in lat.items():
        p50, p99 = min(runs, key=lambda pair: pair[1])
        print(f"   {name + ' a journal':<20} p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   "
              f"(p99 of each round: {', '.join(f'{r[1]:.1f}' for r in runs)})")

    print(f"\n3) handle(): {per_update:.0f} ns per progress update, {per_start:.0f} ns per phase start")
    new, existing, close = fixed_cost()
    print(f"   once per run: opening a new journal {new:.1f} ms, an existing one {existing:.1f} ms; "
          f"closing {close:.1f} ms")

    empty = journal_size(0, 0)
    bare = journal_size(10_000, 0)
    sampled = journal_size(1_000, 100)
    small = journal_size(1_000, 0)
    print(f"\n4) size: an empty journal {empty:,} B; {(bare - empty) / 10_000:.0f} B per phase "
          f"(start, finish, final sample); {(sampled - small) / 100:,.0f} B per 1,000 samples")

    with journal_file() as path:
        wrote, samples = write_big_journal(path, args.report_phases, 32)
        size = path.stat().st_size
        print(f"\n5) a journal of {args.report_phases:,} phases, 32 workers, {samples:,} samples: written in "
              f"{wrote:.1f} s through the sink ({size / 1e6:.1f} MB)")
        start = time.perf_counter()
        figures = load_run(path)
        print(f"   load_run (read + figures)   {time.perf_counter() - start:6.2f} s")
        for fmt in ("text", "json", "html"):
            start = time.perf_counter()
            out = render(figures, fmt)
            print(f"   render {fmt:<5}                {time.perf_counter() - start:6.2f} s   ({len(out) / 1e6:.1f} MB)")
        for fmt in ("text", "json", "html"):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "mpprogress", "report", str(path), "--format", fmt,
                            "--output", os.devnull], check=True)
            print(f"   mpprogress report --format {fmt:<5} (whole command) {time.perf_counter() - start:6.2f} s")
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT count(*) FROM phases").fetchone()[0] == args.report_phases


if __name__ == "__main__":
    main()
