"""How far off are rates and ETAs?  Two tables, on a fake clock through the real phase API.

Run: ``python benchmarks/eta_table.py [--seeds 30]``.

**After a change of pace** (issue 25).  Workloads of stretches of steady work (the issue's slow
first item, a setup, a speed-up, a slow-down, a pause, bursts, slow items) are counted by a
local phase (``update(1)`` per item, throttled as by default, its flusher's ``flush()`` every
50 ms).  The phase's rate and ETA are read where the issue read them, by the meter before
issue 25 (``EmaMeter`` below: an exponential average in time, at least 5 s, seeded by the first
report) and by today's ``RateMeter``, beside tqdm's own bar (smoothing 0.3, its clock replaced
by the fake one) on the same items.  Then, for each workload, how long after its last change of
pace each of them takes to come within 15% of the true rate and stay there.

**Uneven parallel work** (issue 13).  Four workers run side by side, one phase each, 600
items apiece, every item taking its worker's time +-50% (seeded): two take 0.1 s an item, one
is 5x slower (0.5 s), and one stalls for 20 s after 100 items.  The operation is read as the
share of all items done passes 10%, 25%, 50% and 75% (``mpprogress.testing.replay``), and each
ETA is set against the time the work really took from then on.  The stall covers the 25% mark:
an honest ETA is unknown there.

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
import io
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from tqdm.std import tqdm

from mpprogress import BaseProgressTracker
from mpprogress._base.metrics import Speed
from mpprogress._base.snapshot import OperationSnapshot, PhaseSnapshot
from mpprogress.testing import FakeClock, Reading, ScriptedWorker, replay

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


# --- after a change of pace (issue 25) ---------------------------------------------------------


class EmaMeter:
    """The rate meter before issue 25 (``RateMeter`` of 0.9), to compare with: an exponential
    average of the speeds between reports, each weighing ``1 - exp(-span / window)`` against
    the average, the window 4 usual gaps and at least 5 s, seeded by the first report (the
    setup before it included); a silence decays it as today's does."""

    def __init__(self, start_time: float) -> None:
        self.start_time, self.rate, self.peak, self._gap = start_time, None, None, None
        self._last_time, self._last_count = start_time, 0.0
        self._seen_time, self._seen_count = start_time, 0.0

    @property
    def window(self) -> float:
        return min(60.0, max(5.0, 4.0 * (self._gap or 0.0)))

    def sample(self, now: float, count: float, total: int | None) -> Speed:
        if count > self._seen_count:
            self._seen_time, self._seen_count = now, count
            span = now - self._last_time
            if span >= 0.1:
                self.rate = self._blend(span, count)
                self.peak = max(self.peak or 0.0, self.rate)
                gap = self._gap
                self._gap = span if gap is None else gap + 0.3 * (min(span, 4.0 * gap) - gap)
                self._last_time, self._last_count = now, count
        return self.speed(now, count, total)

    def speed(self, now: float, count: float, total: int | None) -> Speed:
        moved_at = now if count > self._seen_count else self._seen_time
        span, rate = moved_at - self._last_time, self.rate
        if count > self._last_count and span >= 0.1:
            rate = self._blend(span, count)
        elif rate is None:
            average = count / (now - self.start_time) if now > self.start_time else None
            return Speed(average, None, (total - count) / average if total and average else None)
        silence = now - moved_at - 2.0 * (self._gap or 0.0)
        rate *= math.exp(-max(0.0, silence) / self.window)
        stalled = silence > 2.0 * self.window
        return Speed(rate, self.peak, None if stalled or not total else (total - count) / rate)

    def final(self, end: float, count: float) -> Speed:
        return Speed(count / (end - self.start_time), self.peak, None)

    def _blend(self, span: float, count: float) -> float:
        speed = (count - self._last_count) / span
        if self.rate is None:
            return speed
        return self.rate + (1.0 - math.exp(-span / self.window)) * (speed - self.rate)


@dataclass(frozen=True)
class Stretch:
    """``items`` items at ``seconds`` each after ``before`` seconds of nothing; ``burst`` items
    finish together."""

    items: int
    seconds: float
    before: float = 0.0
    burst: int = 1


@dataclass(frozen=True)
class Pace:
    """A workload, where to read it (seconds since the start), and when its last pace began."""

    stretches: tuple[Stretch, ...]
    read_at: tuple[float, ...]

    def finish_times(self) -> tuple[list[float], float]:
        """When each item finishes, and when the last stretch's steady work began."""
        now, times, last_start = 0.0, [], 0.0
        for stretch in self.stretches:
            now += stretch.before
            last_start = now
            for _ in range(0, stretch.items, stretch.burst):
                now += stretch.burst * stretch.seconds
                times.extend([now] * stretch.burst)
        return times, last_start


PACES = {
    "slow 1st item, 800 @100/s": Pace((Stretch(1, 1.0), Stretch(799, 0.01)), (1.8, 4.8)),
    "0.5 s setup, 1000 @100/s": Pace((Stretch(1000, 0.01, before=0.5),), (1.0, 2.5, 5.0)),
    "pool start 0.5 s, 390 @78/s": Pace((Stretch(390, 1 / 78, before=0.5),), (1.0, 3.0, 5.0)),
    "10/s then 100/s": Pace((Stretch(100, 0.1), Stretch(600, 0.01)), (11.0, 12.0, 13.0)),
    "100/s then 10/s": Pace((Stretch(600, 0.01), Stretch(100, 0.1)), (7.0, 8.0, 10.0)),
    "100/s, 5 s pause, 100/s": Pace((Stretch(300, 0.01), Stretch(400, 0.01, before=5.0)), (8.5, 9.0, 10.0)),
    "bursts of 50 every 0.5 s": Pace((Stretch(300, 0.01), Stretch(600, 0.01, burst=50)), (4.0, 5.0, 7.0)),
}

Figures = tuple[float, float | None, float | None]
"""(count, rate, eta) at one instant."""


def follow(pace: Pace, before: bool, every: float = 0.1) -> tuple[list[Figures], list[Figures]]:
    """Count the workload with a phase (its meter today's, or ``EmaMeter`` when ``before``) and
    with tqdm's bar; (the phase's figures, tqdm's) every ``every`` seconds."""
    times, _ = pace.finish_times()
    total, clock = len(times), FakeClock(0.0)
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    phase = tracker.start_operation("op", "Op").start_phase("p", "P", total=total)
    if before:
        phase._meter = EmaMeter(clock.now)  # type: ignore[assignment]
    bar = tqdm(total=total, file=io.StringIO(), mininterval=0.1, smoothing=0.3)
    bar._time, bar.start_t, bar.last_print_t = clock, clock.now, clock.now
    end = round(times[-1] / 0.05)
    steps = sorted([(at, 0) for at in times] + [(k * 0.05, 1) for k in range(1, end)])
    ours: list[Figures] = []
    theirs: list[Figures] = []
    due, count = every, 0
    for at, kind in steps:
        while due <= at:
            clock.now = due
            row = tracker.snapshot().operations[0].phases[0]
            ours.append((count, row.rate, row.eta))
            rate = bar.format_dict["rate"]
            theirs.append((count, rate, (total - count) / rate if rate else None))
            due = round(due + every, 9)
        clock.now = at
        if kind == 0:
            count += 1
            bar.update(1)
            phase.update(1)
        else:
            tracker.flush()
    tracker.close()
    return ours, theirs


def settles(pace: Pace, readings: list[Figures], every: float = 0.1, bound: float = 0.15) -> float | None:
    """Seconds after the last change of pace until the rate stays within ``bound``."""
    times, start = pace.finish_times()
    truth = 1.0 / pace.stretches[-1].seconds
    last_bad = start
    for index, (_, rate, _) in enumerate(readings):
        at = (index + 1) * every
        if at > start and (rate is None or abs(rate - truth) > bound * truth):
            last_bad = at
    return None if last_bad >= times[-1] - every else last_bad - start


def pace_table() -> None:
    print("After a change of pace: rate and ETA read at t (truth: the pace then, the time its items left take)")
    print(f"{'workload':<28} {'t':>5} {'done':>5} {'truth':>13}  {'before':>13}  {'after':>13}  {'tqdm':>13}")
    settled: dict[str, list[float | None]] = {}
    for name, pace in PACES.items():
        (before, theirs), (after, _) = follow(pace, before=True), follow(pace, before=False)
        runs = [before, after, theirs]
        settled[name] = [settles(pace, readings) for readings in runs]
        times, _ = pace.finish_times()
        truth = 1.0 / pace.stretches[-1].seconds
        for at in pace.read_at:
            index = round(at / 0.1) - 1
            count = runs[0][index][0]
            cells = [_figures(truth, (len(times) - count) / truth)] + [_figures(r[index][1], r[index][2]) for r in runs]
            print(f"{name:<28} {at:5.1f} {count:5d} " + "  ".join(cells))
    print("\nseconds after the last change of pace until the rate stays within 15% (- never)")
    print(f"{'workload':<28} {'before':>7} {'after':>7} {'tqdm':>7}")
    for name, each in settled.items():
        print(f"{name:<28} " + " ".join("      -" if s is None else f"{s:7.1f}" for s in each))


def _figures(rate: float | None, eta: float | None) -> str:
    return f"{'-' if rate is None else f'{rate:.1f}/s':>7} {'-' if eta is None else f'{eta:4.1f}s':>5}"


# --- uneven parallel work (issue 13) -------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=30)
    args = parser.parse_args()
    pace_table()
    print()
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
