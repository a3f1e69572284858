"""A job with the dashboard, run under a low open-file limit while the test floods its dashboard.

``python -m tests.integration.dashboard_flood_job START_METHOD``: prints the dashboard's port,
waits for a line on stdin (the flood is held by then), runs 8 phases of 100 items in a process
pool, and prints ``phases N items M`` from the session's tracker.
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
from concurrent.futures import ProcessPoolExecutor

import mpprogress

OPEN_FILES = 256


def work(n: int) -> int:
    op = mpprogress.get_tracker().get_operation("job")
    with op.phase(f"part {n}", total=100) as phase:
        for _ in range(100):
            phase.update(1)
    return 100


def main(method: str) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, hard))
    with mpprogress.session(dashboard="127.0.0.1:0", console=False) as tracker:
        url = mpprogress.dashboard_url() or ""
        print(url.rsplit(":", 1)[1].strip("/"), flush=True)
        sys.stdin.readline()
        op = tracker.start_operation("job", "Job")
        with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context(method)) as pool:
            done = sum(pool.map(work, range(8)))
        tracker.finish_operation("job")
        phases = [p for o in tracker.snapshot().operations for p in o.all_phases()]
        print(f"phases {sum(p.finished and p.success for p in phases)} items {int(sum(p.current for p in phases))}"
              f" returned {done}", flush=True)
        del op


if __name__ == "__main__":
    main(sys.argv[1])
