"""A resumable crawl for ``test_resume_crash.py``: a session with a journal and ``resume=True``.

``python resume_child.py JOURNAL MODE LOG_DIR`` crawls ``CHUNKS`` chunks of ``PER_CHUNK`` items,
one phase per chunk, with ``phase.track(items, key=str)``, in threads (``MODE`` ``threads``) or
in a pool of two worker processes started by ``MODE`` (fork, spawn, forkserver).  Each item's
body appends the item to a log file per process and chunk, so the test sees which items ran in
which run; each phase logs where it resumed.  The display is drawn on ``LOG_DIR/screen.txt``.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time

from rich.console import Console

import mpprogress
from mpprogress._base.port import ProgressTracker

CHUNKS, PER_CHUNK = 4, 60
ITEM_SECONDS = 0.02


def items(chunk: int) -> list[str]:
    return [f"c{chunk}-i{n}" for n in range(PER_CHUNK)]


def work(chunk: int, log_dir: str, tracker: ProgressTracker | None = None) -> int:
    op = (tracker or mpprogress.get_tracker()).get_operation("crawl")
    assert op is not None
    with op.phase(f"chunk {chunk}", total=PER_CHUNK) as phase, open(
        os.path.join(log_dir, f"{os.getpid()}-{threading.get_ident()}-{chunk}.log"), "a"
    ) as log:
        log.write(f"start {chunk} {phase.resumed_from}\n")
        log.flush()
        for item in phase.track(items(chunk), key=str):
            time.sleep(ITEM_SECONDS)
            log.write(f"item {item}\n")
            log.flush()
        log.write(f"end {chunk} {phase.current}\n")
    return chunk


def main(journal: str, mode: str, log_dir: str) -> None:
    with open(os.path.join(log_dir, "screen.txt"), "a") as screen:
        console = Console(file=screen, force_terminal=True, color_system=None, width=140)
        with mpprogress.session(journal=journal, resume=True, console=console) as tracker:
            with tracker.operation("Crawl", operation_id="crawl"):
                if mode == "threads":
                    threads = [threading.Thread(target=work, args=(c, log_dir, tracker)) for c in range(CHUNKS)]
                    for thread in threads:
                        thread.start()
                    for thread in threads:
                        thread.join()
                else:
                    with multiprocessing.get_context(mode).Pool(2) as pool:
                        pool.starmap(work, [(c, log_dir) for c in range(CHUNKS)])


if __name__ == "__main__":
    main(*sys.argv[1:4])
