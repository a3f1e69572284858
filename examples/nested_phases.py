"""Sub-phases: a phase without a total of its own rolls its sub-phases up.

"Release" has no total, so its bar shows the sum of its sub-phases ("Compile", "Test" with its
own sub-phases per suite, "Package"); a sub-phase with a total of its own would count alone.

Run it:  python examples/nested_phases.py [--modules 40] [--suites 3] [--tests 60]
Last line (for scripts and tests):  RESULT release=240/240 subphases=6 deepest=2
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import mpprogress


def steps(phase: mpprogress.ProgressPhase, count: int, label: str, delay: float) -> None:
    """Count ``count`` pieces of pretend work on ``phase``."""
    for number in range(1, count + 1):
        time.sleep(delay)
        phase.update(1, message=f"{label} {number}/{count}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=40)
    parser.add_argument("--suites", type=int, default=3)
    parser.add_argument("--tests", type=int, default=60, help="tests per suite")
    parser.add_argument("--delay", type=float, default=0.01, help="seconds of pretend work per step")
    args = parser.parse_args(argv)

    with mpprogress.ConsoleProgressTracker() as tracker:
        with tracker.operation("Shipping v2.0", "nested phases roll up") as op, op.phase("Release") as release:
            with release.phase("Compile", total=args.modules) as compile_phase:
                steps(compile_phase, args.modules, "module", args.delay)
            with release.phase("Test") as test_phase:  # no total: the suites roll up into it
                for suite in range(1, args.suites + 1):
                    with test_phase.phase(f"Suite {suite}", total=args.tests) as suite_phase:
                        steps(suite_phase, args.tests, "test", args.delay / 4)
            with release.phase("Package", total=args.modules // 2) as package_phase:
                steps(package_phase, args.modules // 2, "file", args.delay)
        snapshot = tracker.snapshot().operations[-1]

    top = snapshot.phases[0]
    below = top.walk()[1:]
    print(
        f"RESULT release={top.rollup_current:g}/{top.rollup_total} subphases={len(below)} "
        f"deepest={max(phase.depth for phase in below)}"
    )


if __name__ == "__main__":
    main()
