"""Progress from inside Dask distributed tasks: one display for every task on every worker.

``report_to(client)`` registers a worker plugin that carries the session's address (and CURVE
client keys, when the session requires them) to every current and future worker, so task code
calls ``mpprogress.get_tracker()`` as anywhere else; ``task_phase`` names a task's row after its
key and attempt, and ``completed`` counts each finished task once in an overall phase.  Point
``Client(...)`` at a real scheduler and bind the session where the workers reach it
(``session("tcp://0.0.0.0:5555", security=CurveServerKeys.load(DIR))``) for a real cluster.

Run it:  python examples/dask_progress.py [--tasks 40] [--items 200]   (needs mpprogress[dask])
Last line (for scripts and tests):  RESULT tasks=40/40 phases=40 items=8000/8000
"""

from __future__ import annotations

import argparse
import time

from distributed import Client, LocalCluster

import mpprogress
from mpprogress.integrations.dask import completed, report_to, task_phase
from mpprogress.testing import RecordingCallback


def resize(operation_id: str, image: int, tiles: int) -> int:
    """A task: its own phase, counted tile by tile, shown live."""
    with task_phase(operation_id, total=tiles, title=f"image {image}") as phase:
        for tile in range(tiles):
            time.sleep(0.0005)  # the real work
            phase.update(1, message=f"tile {tile}")
    return tiles


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--items", type=int, default=200)
    args = parser.parse_args()
    events = RecordingCallback()  # to count what the display got, for the RESULT line
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client, mpprogress.session(sinks=[events]) as tracker:
        report_to(client)
        with tracker.operation("Resize images") as op, op.phase("images", total=args.tasks) as overall:
            futures = client.map(resize, [op.operation_id] * args.tasks, range(args.tasks),
                                 [args.items] * args.tasks, pure=False)
            tiles = sum(future.result() for future in completed(futures, op, overall))
    rows = [e.data for e in events.of_type("phase_finished") if e.data["title"].startswith("image ")]
    items = sum(row["current"] for row in rows if row["success"])
    print(f"RESULT tasks={overall.current}/{args.tasks} phases={len(rows)} items={items}/{tiles}")


if __name__ == "__main__":
    main()
