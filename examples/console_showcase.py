"""Every kind of row the console display draws, for a person to look at in a real terminal.

Run ``python examples/console_showcase.py`` (add ``--fast`` to skip the pauses, as the tests
do).  You will see, at the same time: a running bar, an indeterminate (pulsing) phase, a parent
phase rolling up nested sub-phases, finished, failed, cancelled and lost phases, a second
operation with a hostile message shown literally, and a ``print`` and log records appearing
above the display.  Each operation ends with a summary panel that says what happened: the
second one "Operation Complete", the first "Operation Finished" (it completed, with 1 failed,
1 cancelled and 1 lost phase).  Piped (``| cat``), the same story is told in plain lines,
with the parent phase's rolled-up count (``Content Extraction: finished 60/60``).  Try it in
a narrow terminal too: columns give way before the titles do.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Sequence

from mpprogress import ProgressCancelled, ProgressOperation
from mpprogress.adapters.console import ConsoleProgressTracker

__all__ = ["main"]


class Pace:
    """Sleeps scaled down to nothing with ``--fast``."""

    def __init__(self, fast: bool) -> None:
        self.scale = 0.0 if fast else 1.0

    def __call__(self, seconds: float) -> None:
        if self.scale:
            time.sleep(seconds * self.scale)


def link_discovery(op: ProgressOperation, pause: Pace) -> None:
    with op.phase("Link Discovery", total=120, description="robots.txt, sitemap, crawl") as phase:
        for n in range(120):
            pause(0.03)
            phase.update(1, f"Found link #{n + 1}")


def crawling(op: ProgressOperation, pause: Pace, done: threading.Event) -> None:
    with op.phase("Crawling (size unknown)") as phase:  # total=None: a pulsing bar and a count
        n = 0
        while not done.is_set() and n < 10_000:
            pause(0.05)
            n += 1
            phase.update(1, f"visited /page/{n}")
            if not pause.scale and n >= 50:
                break


def extraction(op: ProgressOperation, pause: Pace) -> None:
    with op.phase("Content Extraction", description="3 batches in parallel") as parent:
        workers = [threading.Thread(target=extract_batch, args=(parent, batch, pause)) for batch in range(1, 4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()


def extract_batch(parent: object, batch: int, pause: Pace) -> None:
    with parent.phase(f"batch {batch}", total=20) as sub:  # type: ignore[attr-defined]
        for page in range(20):
            pause(0.05 * batch)
            sub.update(1, f"page {page + 1}")


def page_selection(op: ProgressOperation, pause: Pace) -> None:
    try:
        with op.phase("LLM Page Selection", total=40) as phase:
            for n in range(25):
                pause(0.05)
                phase.update(1, f"scored page {n + 1}")
            raise RuntimeError("model quota exceeded")
    except RuntimeError:
        logging.getLogger("showcase").error("page selection failed: model quota exceeded")


def analysis(op: ProgressOperation, pause: Pace) -> None:
    try:
        with op.phase("AI Analysis", total=30) as phase:
            for n in range(30):
                pause(0.05)
                if n == 12:
                    phase.cancel()  # e.g. the user pressed a "stop" button
                phase.raise_if_cancelled()
                phase.update(1, f"step {n + 1}")
    except ProgressCancelled:
        pass


def lost_worker(op: ProgressOperation, pause: Pace) -> None:
    phase = op.start_phase("worker-4242", "Embeddings (worker pid 4242)", total=50)
    for n in range(20):
        pause(0.06)
        phase.update(1, f"vector {n + 1}")
    # What the multiprocess session does when a worker is SIGKILLed mid-phase:
    op.finish_phase("worker-4242", success=False, reason="lost")


def background_sync(tracker: ConsoleProgressTracker, pause: Pace) -> None:
    with (
        tracker.operation("Background sync", "a second operation in another thread") as op,
        op.phase("Uploading", total=60) as phase,
    ):
        for n in range(60):
            pause(0.05)
            # Worker text is plain text: markup and escape codes show literally, harmlessly.
            phase.update(1, f"[bold red]not markup[/] \x1b[2J chunk {n + 1}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the showcase.

    Args:
        argv: command-line arguments (``--fast``); ``sys.argv[1:]`` by default.

    Returns:
        The exit status, 0.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="no pauses (for tests)")
    args = parser.parse_args(argv)
    pause = Pace(args.fast)
    with ConsoleProgressTracker(refresh_rate=12) as tracker:
        log = logging.getLogger("showcase")
        log.setLevel(logging.INFO)
        log.propagate = False
        log.addHandler(tracker.logging_handler())
        crawl_done = threading.Event()
        sync = threading.Thread(target=background_sync, args=(tracker, pause))
        with tracker.operation("Researching Stripe", "4-phase scraping of https://stripe.com") as op:
            sync.start()
            jobs = [
                threading.Thread(target=crawling, args=(op, pause, crawl_done)),
                threading.Thread(target=link_discovery, args=(op, pause)),
                threading.Thread(target=extraction, args=(op, pause)),
                threading.Thread(target=page_selection, args=(op, pause)),
                threading.Thread(target=analysis, args=(op, pause)),
                threading.Thread(target=lost_worker, args=(op, pause)),
            ]
            for job in jobs:
                job.start()
            pause(1.0)
            print("a print() while the display is live lands above it")
            log.info("log records land above it too")
            for job in jobs[1:]:
                job.join()
            pause(1.5)  # a moment to look at the finished rows
            crawl_done.set()
            jobs[0].join()
        sync.join()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
