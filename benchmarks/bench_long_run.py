"""A long run: many short phases in one open operation, headless and with the live display on.

Run: ``python benchmarks/bench_long_run.py [--phases 200000] [--items 3] [--rounds 3]``.  Each
mode runs in a fresh process (so resident memory starts alike): ``headless`` (a local tracker
and no sink at all) and ``display`` (the same tracker drawn by the Rich ``ConsoleSink`` on a
forced terminal writing to /dev/null, redrawn 10 times a second).  Every phase is
``with op.phase(...)`` with ``--items`` updates, as a worker loop over small tasks would do.
The modes take turns for ``--rounds`` rounds and each one's best round is shown, so that a
noisy stretch of the (shared) machine falls on both alike.

Prints, per mode, the throughput (phases per second) and the resident memory (RSS) at 10%, 50%
and 100% of the run, and the display's throughput as a share of the headless one.  Before the
finished phases of an open operation were pruned, a snapshot walked every phase ever started
under the tracker's lock, so the display slowed the run more the longer it went, and memory grew
with every phase.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

MARKS = (0.1, 0.5, 1.0)


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux ``/proc``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run(mode: str, phases: int, items: int) -> dict[str, object]:
    """Run the workload in this process; return its figures."""
    import mpprogress

    tracker = mpprogress.BaseProgressTracker()
    sink = None
    if mode == "display":
        from rich.console import Console

        from mpprogress.adapters.console import ConsoleSink

        devnull = open(os.devnull, "w")  # noqa: SIM115 - open for the whole run; closed at exit
        console = Console(file=devnull, force_terminal=True, width=120, height=40)
        sink = ConsoleSink(tracker, console=console)
    marks = {round(phases * share): share for share in MARKS}
    memory: dict[str, float] = {}
    start = time.perf_counter()
    with tracker.operation("Long run") as op:
        for number in range(1, phases + 1):
            with op.phase(f"task {number}", total=items) as phase:
                for _ in range(items):
                    phase.update(1)
            if number in marks:
                memory[f"{marks[number]:.0%}"] = rss_mb()
        elapsed = time.perf_counter() - start
        view = tracker.snapshot().operations[0]
        kept = len(view.all_phases())
    if sink is not None:
        sink.close()
    tracker.close()
    return {"mode": mode, "seconds": elapsed, "rate": phases / elapsed, "rss": memory, "kept": kept}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phases", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=3, help="updates per phase")
    parser.add_argument("--rounds", type=int, default=3, help="turns each mode takes; the best is shown")
    parser.add_argument("--mode", choices=("headless", "display"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run(args.mode, args.phases, args.items)))
        return
    results: dict[str, dict[str, Any]] = {}
    workload = ["--phases", str(args.phases), "--items", str(args.items)]
    for _ in range(args.rounds):
        for mode in ("headless", "display"):
            command = [sys.executable, __file__, "--mode", mode, *workload]
            figures = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            if mode not in results or figures["rate"] > results[mode]["rate"]:
                results[mode] = figures
    print(f"{args.phases:,} phases x {args.items} updates in one open operation (best of {args.rounds})")
    print(f"{'mode':<10} {'seconds':>8} {'phases/s':>10}  " + "  ".join(f"RSS@{m:.0%}".rjust(9) for m in MARKS)
          + "  phases kept")
    for mode, figures in results.items():
        rss = "  ".join(f"{figures['rss'][f'{m:.0%}']:7.1f}MB" for m in MARKS)
        print(f"{mode:<10} {figures['seconds']:8.1f} {figures['rate']:10,.0f}  {rss}  {figures['kept']:>11,}")
    share = results["display"]["rate"] / results["headless"]["rate"]
    print(f"display on: {share:.0%} of the headless throughput")


if __name__ == "__main__":
    main()
