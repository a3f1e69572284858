"""A session journaling its workers' phases with ``forward_logs=True``, for
``test_journal_failures.py``.

``python journal_failures_child.py JOURNAL START_METHOD PHASES [resume]``: a pool of two workers
runs PHASES phases of 10 items each, every worker logging a warning per phase.  Prints
``finished N`` (the phases the workers finished) and exits 0 when the work is done, whatever
became of the journal.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys

import mpprogress


def work(operation_id: str, index: int) -> bool:
    op = mpprogress.get_tracker().get_operation(operation_id)
    with op.phase(f"phase {index} " + "x" * 200, total=10) as phase:
        for _ in range(10):
            phase.update(1)
    logging.getLogger("worker").warning("phase %d done", index)
    return phase.finished


def main(journal: str, method: str, phases: int, resume: bool) -> None:
    context = multiprocessing.get_context(method)
    with mpprogress.session(journal=journal, resume=resume, forward_logs=True, console=False) as tracker:
        with tracker.operation("Fill", operation_id="fill") as op:
            with context.Pool(2) as pool:
                finished = sum(pool.starmap(work, [(op.operation_id, index) for index in range(phases)]))
    print(f"finished {finished}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:] == ["resume"])
