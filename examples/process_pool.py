"""Worker processes reporting into the parent's display: the issue's ProcessPoolExecutor example.

The parent opens ``mpprogress.session()`` (an aggregator thread and the Rich display) and one
operation; each task in a ``ProcessPoolExecutor`` asks ``mpprogress.get_tracker()`` for a
client tracker, attaches to the parent's operation and reports its own phase.  Worker code is
the same as in threaded mode.  ``--log`` forwards each worker's ``logging`` records to the
parent, where they appear above the display.

Run it:  python examples/process_pool.py [--workers 4] [--urls 40] [--delay 0.02] [--start-method spawn]
Last line (for scripts and tests):  RESULT phases=4 items=160/160 ok=4
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import mpprogress

log = logging.getLogger("example.scrape")


def scrape(operation_id: str, urls: list[str], delay: float) -> int:
    """One task: a phase of its own in the parent's operation, one update per URL."""
    op = mpprogress.get_tracker().get_operation(operation_id)  # a worker's view of the parent's operation
    with op.phase(f"worker {os.getpid()}", total=len(urls)) as phase:
        for url in urls:
            time.sleep(delay)  # pretend to fetch
            phase.update(1, message=url)
    log.warning("worker %d scraped %d pages", os.getpid(), len(urls))
    return len(urls)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--urls", type=int, default=40, help="URLs per worker")
    parser.add_argument("--delay", type=float, default=0.02, help="seconds of pretend work per URL")
    parser.add_argument("--start-method", default="spawn", choices=multiprocessing.get_all_start_methods())
    parser.add_argument("--log", action="store_true", help="forward worker log records to the parent")
    args = parser.parse_args(argv)
    chunks = [[f"https://example.com/{w}/{i}" for i in range(args.urls)] for w in range(args.workers)]
    context = multiprocessing.get_context(args.start_method)

    with mpprogress.session(forward_logs=args.log) as tracker:  # aggregator + Rich display here
        extraction = tracker.operation("Content extraction", f"{args.workers} processes")
        with extraction as op, ProcessPoolExecutor(args.workers, mp_context=context) as pool:
            done = list(pool.map(scrape, [op.operation_id] * args.workers, chunks, [args.delay] * args.workers))
        snapshot = tracker.snapshot().get(op.operation_id)

    assert snapshot is not None
    phases = snapshot.phases
    print(
        f"RESULT phases={len(phases)} items={sum(p.current for p in phases)}/{sum(done)} "
        f"ok={sum(1 for p in phases if p.success)}"
    )


if __name__ == "__main__":
    main()
