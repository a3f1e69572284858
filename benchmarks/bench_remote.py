"""ns per client ``phase.update(1)`` in a worker connected to a live aggregator, side by side.

Run: ``python benchmarks/bench_remote.py [--n 200000] [--repeat 15]``.

The parent opens a headless ``mpprogress.session()``; one spawned worker process measures, one
after the other in the same process: a bare loop, a no-op method call, ``tqdm.update(1)``
(writing to os.devnull), and a client phase's ``update(1)`` and ``track()`` while the link
thread sends its state to the parent every 50 ms.  Each figure is the best of ``--repeat`` runs
(the machine is noisy; the minimum is the least disturbed), the cases taking turns within
each round.  The client phases stay open across rounds, so only the counting is timed; the
parent checks that the counts it received are exact.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Callable

from bench_update import bare_loop, noop_method, tqdm_update  # the same baselines, side by side

import mpprogress
from mpprogress.testing import RecordingCallback


class _NoOpWithMetadata:
    """The port's ``update`` signature: CPython allocates the ``**metadata`` dict on every call."""

    def update(self, increment: int = 1, message: str | None = None, **metadata: object) -> None:
        pass


def _best_ns(cases: dict[str, Callable[[int], None]], n: int, repeat: int) -> dict[str, float]:
    """The fastest of ``repeat`` rounds per case; the cases take turns within each round, so
    that the load of the (shared, noisy) machine falls on all of them alike."""
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(repeat):
        for name, run in cases.items():
            start = time.perf_counter_ns()
            run(n)
            best[name] = min(best[name], (time.perf_counter_ns() - start) / n)
    return best


def noop_with_metadata(n: int) -> None:
    update = _NoOpWithMetadata().update
    for _ in range(n):
        update(1)


def measure(operation_id: str, n: int, repeat: int) -> dict[str, float]:
    """Run every case in this (worker) process; return ns per update by case."""
    op = mpprogress.get_tracker().get_operation(operation_id)
    with op.phase("update(1)") as updated, op.phase("track(it)") as tracked:

        def client_update(n: int) -> None:
            update = updated.update
            for _ in range(n):
                update(1)

        def client_track(n: int) -> None:
            for _ in tracked.track(range(n)):
                pass

        cases: dict[str, Callable[[int], None]] = {
            "bare loop": bare_loop,
            "no-op method call": noop_method,
            "no-op, update's signature (**kw)": noop_with_metadata,
            "tqdm.update(1) (non-TTY)": tqdm_update,
            "client phase.update(1)": client_update,
            "client phase.track(it)": client_track,
        }
        return _best_ns(cases, n, repeat)


def main(argv: list[str] | None = None) -> None:
    """Print ns per update for every case, and its ratio to the no-op call and to tqdm."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    events = RecordingCallback()
    with mpprogress.session(console=False, sinks=[events]) as tracker, tracker.operation("bench") as op:
        pool = multiprocessing.get_context("spawn").Pool(1)  # inside the session: it finds the address
        try:
            results = pool.apply(measure, (op.operation_id, args.n, args.repeat))
        finally:
            pool.close()
            pool.join()
    counts = [e.data["current"] for e in events.of_type("phase_finished")]
    assert counts == [args.n * args.repeat] * 2, f"inexact counts received: {counts}"
    noop, tqdm_ns = results["no-op method call"], results["tqdm.update(1) (non-TTY)"]
    print(f"{'case (in a worker, live aggregator)':<38} {'ns/update':>10} {'vs no-op':>9} {'vs tqdm':>8}")
    for name, ns in results.items():
        print(f"{name:<38} {ns:>10.1f} {ns / noop:>8.2f}x {ns / tqdm_ns:>7.2f}x")
    print(f"counts received by the parent: {counts} (exact)")


if __name__ == "__main__":
    main()
