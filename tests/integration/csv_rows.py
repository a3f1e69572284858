"""A script whose data is CSV on standard output, with worker processes under a session:
``python -m tests.integration.csv_rows START_METHOD``.  The display must leave stdout alone."""

from __future__ import annotations

import csv
import multiprocessing
import sys

import mpprogress


def square(n: int) -> tuple[int, int]:
    op = mpprogress.get_tracker().get_operation("rows")
    with op.phase(f"row {n}", total=4) as phase:
        for _ in range(4):
            phase.update(1)
    return n, n * n


if __name__ == "__main__":
    context = multiprocessing.get_context(sys.argv[1])
    rows = csv.writer(sys.stdout, lineterminator="\n")
    rows.writerow(["n", "square"])
    with mpprogress.session() as tracker:
        tracker.start_operation("rows", "Computing squares")
        with context.Pool(2) as pool:
            for n, n2 in pool.imap(square, range(6)):
                rows.writerow([n, n2])
                sys.stdout.flush()
        tracker.finish_operation("rows")
    print("done")
