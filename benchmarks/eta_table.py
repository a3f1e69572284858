"""How far off is the ETA?  A scripted uneven workload on a fake clock, read at 25/50/75%.

Run: ``python benchmarks/eta_table.py [--seeds 30]``.  Four workers run side by side, one phase
each, 600 items apiece, every item taking its worker's time +-50% (seeded): two take 0.1 s an
item, one is 5x slower (0.5 s), and one stalls for 20 s after 100 items.  The operation is read
as the share of all items done passes 10%, 25%, 50% and 75% (``mpprogress.testing.replay``),
and each ETA is set against the time the work really took from then on.  The stall covers the
25% mark: an honest ETA is unknown there.

Estimators compared (all from the same snapshot):

- ``ours``: ``OperationSnapshot.eta``, max(items left / summed recent rate, slowest phase's
  ETA), unknown while a phase stalls;
- ``aggregate``: items left / summed recent rate alone (right only if workers could take over
  each other's items);
- ``sum``: the per-phase ETAs added up (as if the phases ran one after another);
- ``since start``: items left / (items done / time since the start), what one bar over the
  whole operation would say.

Prints the table for the first seed, then the mean and worst absolute error of each estimator
at each mark over ``--seeds`` seeds (``-`` counts readings with no ETA).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

from mpprogress._base.snapshot import OperationSnapshot, PhaseSnapshot
from mpprogress.testing import Reading, ScriptedWorker, replay

WORKERS = (
    ScriptedWorker("fast", 600, 0.1, jitter=0.5),
    ScriptedWorker("fast too", 600, 0.1, jitter=0.5),
    ScriptedWorker("5x slower", 600, 0.5, jitter=0.5),
    ScriptedWorker("stalls 20 s", 600, 0.1, jitter=0.5, stall_at=100, stall_for=20.0),
)


def ours(reading: Reading) -> float | None:
    return reading.operation.eta


def aggregate(reading: Reading) -> float | None:
    running = _running(reading.operation)
    rate = sum(p.rate or 0.0 for p in running)
    return sum((p.total or 0) - p.current for p in running) / rate if rate > 0 else None


def summed(reading: Reading) -> float | None:
    etas = [p.eta for p in _running(reading.operation)]
    return None if any(eta is None for eta in etas) else sum(eta or 0.0 for eta in etas)


def since_start(reading: Reading) -> float | None:
    phases = reading.operation.phases
    done = sum(p.current for p in phases)
    left = sum((p.total or 0) - p.current for p in phases)
    return left / (done / reading.at) if done else None


MARKS = (0.1, 0.25, 0.5, 0.75)

ESTIMATORS: dict[str, Callable[[Reading], float | None]] = {
    "ours": ours,
    "aggregate": aggregate,
    "sum": summed,
    "since start": since_start,
}


def _running(operation: OperationSnapshot) -> list[PhaseSnapshot]:
    return [p for p in operation.phases if not p.finished]


def _error(estimate: float | None, actual: float) -> float | None:
    return None if estimate is None else (estimate - actual) / actual


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=30)
    args = parser.parse_args()
    print("seed 0: predicted seconds left (error against the actual)")
    print(f"{'done':>4} {'at':>7} {'actual':>8}  " + "  ".join(f"{name:>15}" for name in ESTIMATORS))
    for reading in replay(WORKERS, MARKS, seed=0):
        cells = []
        for estimate in (each(reading) for each in ESTIMATORS.values()):
            error = _error(estimate, reading.remaining)
            cells.append("-:--:--".rjust(15) if error is None else f"{estimate:6.0f} s {error:+5.0%}")
        print(f"{reading.mark:4.0%} {reading.at:5.1f} s {reading.remaining:6.1f} s  " + "  ".join(cells))
    errors: dict[tuple[str, float], list[float | None]] = {}
    for seed in range(args.seeds):
        for reading in replay(WORKERS, MARKS, seed=seed):
            for name, each in ESTIMATORS.items():
                errors.setdefault((name, reading.mark), []).append(_error(each(reading), reading.remaining))
    print(f"\nover {args.seeds} seeds: mean / worst |error| (- readings without an ETA)")
    marks = sorted({mark for _, mark in errors})
    print(f"{'estimator':<12} " + "  ".join(f"{mark:>20.0%}" for mark in marks))
    for name in ESTIMATORS:
        cells = []
        for mark in marks:
            found = [abs(e) for e in errors[(name, mark)] if e is not None]
            missing = len(errors[(name, mark)]) - len(found)
            text = f"{statistics.mean(found):4.0%} / {max(found):4.0%}" if found else "-"
            cells.append(f"{text}{f' -{missing}' if missing else '':>5}".rjust(20))
        print(f"{name:<12} " + "  ".join(cells))


if __name__ == "__main__":
    main()
