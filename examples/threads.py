"""Threads reporting to one tracker: many threads on one shared phase, then one phase per thread.

Every ``update()`` takes the tracker's lock, so the counts are exact however the threads
interleave; the display redraws from snapshots at its own pace.

Run it:  python examples/threads.py [--threads 8] [--items 250] [--delay 0.002]
Last line (for scripts and tests):  RESULT shared=2000/2000 phases=8 items=2000/2000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import mpprogress


def work(phase: mpprogress.ProgressPhase, items: int, delay: float) -> None:
    """Do ``items`` pieces of pretend work, counting each on ``phase``."""
    for item in range(items):
        time.sleep(delay)
        phase.update(1, message=f"item {item + 1}")


def own_phase(op: mpprogress.ProgressOperation, number: int, items: int, delay: float) -> None:
    """Open this thread's own phase in the shared operation and work in it."""
    with op.phase(f"Thread {number}", total=items) as phase:
        work(phase, items, delay)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--items", type=int, default=250)
    parser.add_argument("--delay", type=float, default=0.002, help="seconds of pretend work per item")
    args = parser.parse_args(argv)
    total = args.threads * args.items

    with mpprogress.ConsoleProgressTracker() as tracker:
        sharing = tracker.operation("Threads sharing one phase", f"{args.threads} threads")
        with sharing as op, op.phase("Shared phase", total=total) as shared:
            with ThreadPoolExecutor(args.threads) as pool:
                futures = [pool.submit(work, shared, args.items, args.delay) for _ in range(args.threads)]
            for future in futures:
                future.result()  # re-raise a thread's error here, inside the phase
        with tracker.operation("One phase per thread", f"{args.threads} threads") as op:
            with ThreadPoolExecutor(args.threads) as pool:
                futures = [pool.submit(own_phase, op, n + 1, args.items, args.delay) for n in range(args.threads)]
            for future in futures:
                future.result()
        first, second = tracker.snapshot().operations[-2:]

    shared_phase = first.phases[0]
    phases = second.phases
    done = sum(phase.current for phase in phases)
    print(
        f"RESULT shared={shared_phase.current}/{shared_phase.total} phases={len(phases)} "
        f"items={done}/{sum(phase.total or 0 for phase in phases)}"
    )


if __name__ == "__main__":
    main()
