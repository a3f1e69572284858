"""The fixed cost of one worker process: connect, hello, one tiny phase, final acknowledgement.

Run: ``python benchmarks/bench_worker_cost.py [--workers 64] [--method fork] [--rounds 3]``.

The parent opens a headless ``mpprogress.session()``; workers are started one after the other
(never two at once, so the figures are a worker's own cost, not contention), and each one
times its stages with ``perf_counter`` (wall) and ``RUSAGE_SELF`` (CPU of all its threads,
ZeroMQ's I/O thread and the link's included):

- ``connect``: ``get_tracker()``: the client, its ZeroMQ context, socket, monitor, link thread;
- ``start``: the first ``op.phase(...)`` start, which waits for the hello's acknowledgement;
- ``finish``: 100 ``update(1)`` and the phase's end, which waits for its acknowledgement;
- ``close``: ``client.close()``: ``BYE``, its acknowledgement, the link thread's end;
- ``total``: from the target's first line to after ``close``.

The same is measured for a worker under tqdm with a multiprocessing lock (one bar, 100 updates,
writing to /dev/null) and for a bare worker (fork and exit only), and the parent's CPU per
worker (aggregator thread, display off) from its own ``RUSAGE_SELF``.  Every figure is the
median over the workers of the best round.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import statistics
import time
from typing import Any

from tqdm import tqdm

import mpprogress


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def mpprogress_worker(operation_id: str, out: Any) -> None:
    """Time each stage of one worker's life; send ``{stage: (wall ms, cpu ms)}`` to ``out``."""
    marks = [(time.perf_counter(), _cpu())]

    def mark() -> None:
        marks.append((time.perf_counter(), _cpu()))

    tracker = mpprogress.get_tracker()
    op = tracker.get_operation(operation_id)
    mark()
    phase = op.start_phase(f"w{os.getpid()}", "tiny", total=100)
    mark()
    for _ in range(100):
        phase.update(1)
    op.finish_phase(phase.phase_id)
    mark()
    tracker.close()  # type: ignore[attr-defined]
    mark()
    names = ("connect", "start", "finish", "close")
    spans = zip(names, marks, marks[1:], strict=False)
    stages = {name: ((b[0] - a[0]) * 1e3, (b[1] - a[1]) * 1e3) for name, a, b in spans}
    stages["total"] = ((marks[-1][0] - marks[0][0]) * 1e3, (marks[-1][1] - marks[0][1]) * 1e3)
    out.send(stages)


def tqdm_worker(lock: Any, out: Any) -> None:
    started, cpu = time.perf_counter(), _cpu()
    tqdm.set_lock(lock)
    with open(os.devnull, "w") as devnull, tqdm(total=100, file=devnull) as bar:
        for _ in range(100):
            bar.update(1)
    out.send({"total": ((time.perf_counter() - started) * 1e3, (_cpu() - cpu) * 1e3)})


def bare_worker(out: Any) -> None:
    out.send({"total": (0.0, 0.0)})


def _run(context: Any, workers: int, target: Any, args: tuple[Any, ...]) -> tuple[list[dict[str, Any]], float, float]:
    """Start ``workers`` one after the other; return their stages, wall ms per worker (start to
    join), and the parent's CPU ms per worker."""
    results = []
    started, cpu = time.perf_counter(), _cpu()
    for _ in range(workers):
        receiver, sender = context.Pipe(duplex=False)
        proc = context.Process(target=target, args=(*args, sender))
        proc.start()
        results.append(receiver.recv())
        proc.join()
        assert proc.exitcode == 0
    return results, (time.perf_counter() - started) * 1e3 / workers, (_cpu() - cpu) * 1e3 / workers


def _median(results: list[dict[str, Any]], stage: str) -> tuple[float, float]:
    return statistics.median(r[stage][0] for r in results), statistics.median(r[stage][1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--method", choices=["fork", "spawn", "forkserver"], default="fork")
    args = parser.parse_args()
    context = mp.get_context(args.method)
    best: dict[str, tuple[list[dict[str, Any]], float, float]] = {}
    for _ in range(args.rounds):
        with mpprogress.session(console=False) as tracker, tracker.operation("cost") as op:
            runs = {"mpprogress": _run(context, args.workers, mpprogress_worker, (op.operation_id,))}
        runs["tqdm+lock"] = _run(context, args.workers, tqdm_worker, (context.RLock(),))
        runs["bare"] = _run(context, args.workers, bare_worker, ())
        for name, run in runs.items():
            if name not in best or run[1] < best[name][1]:
                best[name] = run
    print(f"{args.method}, {args.workers} workers one after the other, best of {args.rounds} rounds; "
          "median per worker, ms (wall / CPU of the worker's threads)")
    for stage in ("connect", "start", "finish", "close", "total"):
        wall, cpu = _median(best["mpprogress"][0], stage)
        print(f"  mpprogress {stage:<8} {wall:7.2f} wall {cpu:7.2f} CPU")
    wall, cpu = _median(best["tqdm+lock"][0], "total")
    print(f"  tqdm+lock  total    {wall:7.2f} wall {cpu:7.2f} CPU")
    print("start to join, per worker (ms wall), and the parent's CPU per worker (ms):")
    for name, (_, wall, parent_cpu) in best.items():
        print(f"  {name:<11} {wall:7.2f} wall {parent_cpu:7.2f} parent CPU")


if __name__ == "__main__":
    main()
