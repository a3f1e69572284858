"""ns per ``update(1)``: bare loop, no-op method call, tqdm, the local tracker and the tqdm front end
(``mpprogress.tqdm``), side by side.

Run: ``python benchmarks/bench_update.py [--n 1000000] [--repeat 5]``.  Each figure is the best of
``--repeat`` runs (the machine is noisy; the minimum is the least disturbed), measured in one process
one after the other, so the ratios compare like with like.  The iterator rows are compared with
tqdm's iterator, the others with tqdm's ``update(1)``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import mpprogress
from mpprogress._frontends.tqdm import tqdm as mpprogress_tqdm


class _NoOp:
    def update(self, n: int = 1) -> None:
        pass


def _best_ns(run: Callable[[int], None], n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter_ns()
        run(n)
        best = min(best, (time.perf_counter_ns() - start) / n)
    return best


def bare_loop(n: int) -> None:
    for _ in range(n):
        pass


def noop_method(n: int) -> None:
    update = _NoOp().update
    for _ in range(n):
        update(1)


def tqdm_update(n: int) -> None:
    from tqdm import tqdm

    with open(os.devnull, "w") as devnull, tqdm(total=n, file=devnull) as bar:
        update = bar.update
        for _ in range(n):
            update(1)


def local_tracker_update(n: int) -> None:
    seen = []
    tracker = mpprogress.BaseProgressTracker()
    tracker.add_callback(lambda event_type, **data: seen.append(event_type))
    with tracker.operation("bench") as op, op.phase("updates", total=n) as phase:
        update = phase.update
        for _ in range(n):
            update(1)
    tracker.close()
    assert phase.current == n


def local_tracker_track(n: int) -> None:
    tracker = mpprogress.BaseProgressTracker()
    tracker.add_callback(lambda event_type, **data: None)
    with tracker.operation("bench") as op, op.phase("track", total=n) as phase:
        for _ in phase.track(range(n)):
            pass
    tracker.close()
    assert phase.current == n


def tqdm_iterate(n: int) -> None:
    from tqdm import tqdm

    with open(os.devnull, "w") as devnull:
        for _ in tqdm(range(n), file=devnull):
            pass


def _front_end_tracker() -> mpprogress.BaseProgressTracker:
    tracker = mpprogress.BaseProgressTracker()
    tracker.add_callback(lambda event_type, **data: None)
    return tracker


def front_end_update(n: int) -> None:
    tracker = _front_end_tracker()
    with mpprogress_tqdm(total=n, tracker=tracker) as bar:
        update = bar.update
        for _ in range(n):
            update(1)
    tracker.close()
    assert bar.n == n


def front_end_iterate(n: int) -> None:
    tracker = _front_end_tracker()
    bar = mpprogress_tqdm(range(n), tracker=tracker)
    for _ in bar:
        pass
    tracker.close()
    assert bar.n == n


CASES: dict[str, Callable[[int], None]] = {
    "bare loop": bare_loop,
    "no-op method call": noop_method,
    "tqdm.update(1) (non-TTY)": tqdm_update,
    "mpprogress local phase.update(1)": local_tracker_update,
    "mpprogress local phase.track(it)": local_tracker_track,
    "mpprogress.tqdm update(1)": front_end_update,
    "tqdm iterator (non-TTY)": tqdm_iterate,
    "mpprogress.tqdm iterator": front_end_iterate,
}

# Rows compared with tqdm's iterator rather than with its update(1).
ITERATOR_ROWS = {"tqdm iterator (non-TTY)", "mpprogress.tqdm iterator"}


def main(argv: list[str] | None = None) -> None:
    """Print ns per update for every case and the ratio to tqdm."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    results = {name: _best_ns(run, args.n, args.repeat) for name, run in CASES.items()}
    tqdm_ns = results["tqdm.update(1) (non-TTY)"]
    print(f"{'case':<36} {'ns/update':>10} {'vs tqdm':>8}")
    for name, ns in results.items():
        like = results["tqdm iterator (non-TTY)"] if name in ITERATOR_ROWS else tqdm_ns
        print(f"{name:<36} {ns:>10.1f} {ns / like:>7.2f}x")


if __name__ == "__main__":
    main()
