"""Progress from inside Ray tasks and actors: one display for every worker process.

``integrations.ray.init(...)`` is ``ray.init`` with a runtime environment that carries the
session's address (and CURVE client keys through a worker setup hook) to every worker process
of the job, on any node; task and actor code calls ``mpprogress.get_tracker()``.  For a real
cluster, bind the session where the nodes reach it (``session("tcp://0.0.0.0:5555",
security=CurveServerKeys.load(DIR))``) and pass ``address="auto"`` to ``init``.

Run it:  python examples/ray_progress.py [--tasks 20] [--items 200]   (needs mpprogress[ray])
Last line (for scripts and tests):  RESULT tasks=20 items=4000/4000 actor=300/300
"""

from __future__ import annotations

import argparse
import time

import ray

import mpprogress
from mpprogress.integrations.ray import init
from mpprogress.testing import RecordingCallback


@ray.remote
def embed(operation_id: str, batch: int, items: int) -> int:
    op = mpprogress.get_tracker().get_operation(operation_id)
    with op.phase(f"batch {batch}", total=items) as phase:
        for item in range(items):
            time.sleep(0.0005)  # the real work
            phase.update(1, message=f"document {item}")
    return items


@ray.remote
class Indexer:
    def build(self, operation_id: str, items: int) -> int:
        op = mpprogress.get_tracker().get_operation(operation_id)
        with op.phase("index", total=items) as phase:
            for _ in range(items):
                phase.update(1)
        return items


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--items", type=int, default=200)
    args = parser.parse_args()
    events = RecordingCallback()  # to count what the display got, for the RESULT line
    with mpprogress.session(sinks=[events]) as tracker:
        init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            with tracker.operation("Embed documents") as op:
                done = sum(ray.get([embed.remote(op.operation_id, b, args.items) for b in range(args.tasks)]))
                indexer = Indexer.remote()  # type: ignore[attr-defined]
                indexed = ray.get(indexer.build.remote(op.operation_id, 300))
        finally:
            ray.shutdown()
    rows = {e.data["title"]: e.data for e in events.of_type("phase_finished")}
    items = sum(r["current"] for title, r in rows.items() if title.startswith("batch ") and r["success"])
    print(f"RESULT tasks={sum(t.startswith('batch ') for t in rows)} items={items}/{done} "
          f"actor={rows['index']['current']}/{indexed}")


if __name__ == "__main__":
    main()
