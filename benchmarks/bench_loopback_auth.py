"""What CURVE costs on loopback TCP (issue 28 item 4): plaintext vs the session's own keys.

An in-process aggregator on ``tcp://127.0.0.1:0``, without keys (as before) and with
``loopback_keys`` (as ``session()`` and the relay now do); real worker processes
(``tests.integration.relay_worker``) given ``MPPROGRESS_SERVER_KEY`` in the second case.  Rounds
alternate between the two; CPU seconds, not wall time, are compared (the machine is shared:
expect +-20% noise).  Run: ``python benchmarks/bench_loopback_auth.py [--workers 16] [--n 200000]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from mpprogress._core.tracker import BaseProgressTracker
from mpprogress._remote.aggregator import Aggregator
from mpprogress._remote.security import loopback_keys

ROOT = Path(__file__).resolve().parents[1]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _round(curve: bool, workers: int, items: int) -> tuple[float, float, float]:
    """(CPU per worker process, aggregator-side CPU, wall) for ``workers`` workers of ``items`` items."""
    tracker = BaseProgressTracker()
    keys = loopback_keys("tcp://127.0.0.1:0") if curve else None
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
    env["PYTHONPATH"] = str(ROOT)
    with Aggregator(tracker, "tcp://127.0.0.1:0", security=keys) as aggregator:
        env["MPPROGRESS_ADDRESS"] = aggregator.address
        if keys is not None:
            env["MPPROGRESS_SERVER_KEY"] = keys.public.decode()
        before_children, before_self, started = _children_cpu(), time.process_time(), time.monotonic()
        procs = [subprocess.Popen([sys.executable, "-m", "tests.integration.relay_worker", f"w{k}", "--items",
                                   str(items)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for k in range(workers)]
        for proc in procs:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0 and b"warning: progress" not in err, err
        wall = time.monotonic() - started
        children, own = _children_cpu() - before_children, time.process_time() - before_self
        assert aggregator.stats().total_dropped == 0
    tracker.close()
    return children / workers, own, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=16, help="short-lived workers per round (setup cost)")
    parser.add_argument("--n", type=int, default=200_000, help="updates of the one long worker (throughput)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for label, workers, items in ((f"setup: {args.workers} workers x 10 items", args.workers, 10),
                                  (f"throughput: 1 worker x {args.n:,} updates", 1, args.n)):
        results: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
        for _ in range(args.repeat):
            for curve in (False, True):
                results[curve].append(_round(curve, workers, items))
        print(label)
        for curve in (False, True):
            rows = results[curve]
            per_worker = statistics.median(r[0] for r in rows)
            own = statistics.median(r[1] for r in rows)
            wall = statistics.median(r[2] for r in rows)
            print(f"  {'CURVE    ' if curve else 'plaintext'}: worker CPU {per_worker * 1000:7.1f} ms/process, "
                  f"aggregator-side CPU {own * 1000:7.1f} ms, wall {wall:6.2f} s  (median of {len(rows)})")


if __name__ == "__main__":
    main()
