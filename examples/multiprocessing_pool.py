"""A ``multiprocessing.Pool`` whose tasks report nested phases, and a worker with its own operation.

Each task attaches to the parent's operation and opens a phase with two sub-phases ("download"
then "parse"); the outer phase has no total of its own, so the display rolls its sub-phases up.
One extra task opens an operation of its own in the worker, which the parent shows next to the
first.  ``Pool`` workers are ended by ``terminate()`` when the ``with`` block exits; their final
states were acknowledged by the parent before each task returned.

Run it:  python examples/multiprocessing_pool.py [--tasks 6] [--items 20] [--delay 0.01] [--start-method fork]
Last line (for scripts and tests):  RESULT tasks=6 subphases=12 items=240/240 own=ok
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Sequence

import mpprogress


def process_file(operation_id: str, number: int, items: int, delay: float) -> int:
    """Download then parse one pretend file, as two sub-phases of the task's phase."""
    op = mpprogress.get_tracker().get_operation(operation_id)
    with op.phase(f"file {number}") as task:
        for step in ("download", "parse"):
            with task.phase(step, total=items) as sub:
                for _ in sub.track(range(items)):
                    time.sleep(delay)
    return 2 * items


def own_operation(items: int) -> bool:
    """A worker may also open an operation of its own."""
    with mpprogress.get_tracker().operation("Worker housekeeping") as op, op.phase("cleanup", total=items) as phase:
        for n in range(items):
            phase.update(1, message=f"removed tmp file {n}")
    return True


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=6)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.01)
    parser.add_argument("--start-method", default="fork", choices=multiprocessing.get_all_start_methods())
    args = parser.parse_args(argv)
    context = multiprocessing.get_context(args.start_method)

    with mpprogress.session() as tracker:
        files_op = tracker.operation("Files", f"{args.tasks} files, 2 steps each")
        with files_op as op, context.Pool(3) as pool:  # a pool made inside the session finds it
            own = pool.apply_async(own_operation, (args.items,))
            tasks = [(op.operation_id, n, args.items, args.delay) for n in range(args.tasks)]
            counted = sum(pool.starmap(process_file, tasks))
            own_ok = own.get()
        snapshot = tracker.snapshot()

    files = snapshot.get(op.operation_id)
    assert files is not None
    subphases = [sub for phase in files.phases for sub in phase.phases]
    housekeeping = [o for o in snapshot.operations if o.title == "Worker housekeeping"]
    own_state = "ok" if own_ok and housekeeping and housekeeping[0].success else "missing"
    print(
        f"RESULT tasks={len(files.phases)} subphases={len(subphases)} "
        f"items={sum(s.current for s in subphases)}/{counted} own={own_state}"
    )


if __name__ == "__main__":
    main()
