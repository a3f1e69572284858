"""A worker process for the relay tests: ``python -m tests.integration.relay_worker TITLE ...``.

It reaches the relay the way any program does: ``mpprogress.get_tracker()`` reads
``MPPROGRESS_ADDRESS`` (and ``MPPROGRESS_CURVE_DIR`` / ``MPPROGRESS_CURVE_CLIENT``).  It opens
an operation named TITLE with ``--phases`` phases ``TITLE-0``, ``TITLE-1``... of ``--items``
updates each, optionally sleeping between updates, and prints ``done`` when it returns.
"""

from __future__ import annotations

import argparse
import sys
import time

import mpprogress

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Report the phases described by ``argv`` to the relay and return 0."""
    parser = argparse.ArgumentParser()
    parser.add_argument("title")
    parser.add_argument("--phases", type=int, default=1)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds between two updates")
    args = parser.parse_args(argv)
    tracker = mpprogress.get_tracker()
    with tracker.operation(args.title) as op:
        for k in range(args.phases):
            with op.phase(f"{args.title}-{k}", total=args.items) as phase:
                update = phase.update
                if args.sleep:
                    for _ in range(args.items):
                        update(1)
                        time.sleep(args.sleep)
                else:
                    for _ in range(args.items):
                        update(1)
    sys.stdout.write("done\n")  # one write: two workers share the pipe
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
