"""A batch job spread over nodes, all reporting to one display: the ``mpprogress run`` pattern.

In a Slurm batch script (the same with ``mpirun`` / ``ssh`` launchers that pass the environment)::

    mpprogress keys ~/.mpprogress-keys                     # once; a directory the nodes share
    mpprogress run --bind tcp://0.0.0.0:5555 --curve ~/.mpprogress-keys --journal job.db -- \\
        srun python examples/hosts_job.py --rank-from-env SLURM_PROCID

``mpprogress run`` starts the session on the first node, and every task ``srun`` starts on any
node inherits ``MPPROGRESS_ADDRESS`` (this node's name and the port) and the CURVE settings;
each task's ``mpprogress.get_tracker()`` connects there.

Run alone (no ``MPPROGRESS_ADDRESS``), this script plays the whole job on this machine: it runs
itself under ``mpprogress run --journal`` as the launcher, which starts ``--workers`` worker
processes the way ``srun`` would, and reads the journal back.

Run it:  python examples/hosts_job.py [--workers 3] [--items 200]
Last line (for scripts and tests):  RESULT workers=3 phases=3 items=600/600 lost=0 status=0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mpprogress


def work(rank: int, items: int) -> None:
    """One task of the job (one per node, or per rank)."""
    tracker = mpprogress.get_tracker()
    with tracker.operation(f"rank {rank}") as op, op.phase(f"rank {rank} shards", total=items) as phase:
        for shard in range(items):
            time.sleep(0.002)  # the real work
            phase.update(1, message=f"shard {shard}")


def launch(workers: int, items: int) -> int:
    """What ``srun`` does: one process per rank, each inheriting the environment."""
    ranks = [subprocess.Popen([sys.executable, __file__, "--rank", str(r), "--items", str(items)])
             for r in range(workers)]
    return max(rank.wait() for rank in ranks)


def play_the_job(workers: int, items: int) -> None:
    """No session around us: run this script under ``mpprogress run`` and report what it saw."""
    with tempfile.TemporaryDirectory() as scratch:
        journal = Path(scratch) / "job.db"
        status = subprocess.call([sys.executable, "-m", "mpprogress", "run", "--no-display", "--journal",
                                  str(journal), "--", sys.executable, __file__, "--launch",
                                  "--workers", str(workers), "--items", str(items)])
        report = json.loads(subprocess.run(
            [sys.executable, "-m", "mpprogress", "report", str(journal), "--format", "json"],
            capture_output=True, text=True, check=True,
        ).stdout)
    phases = report["phases"]
    done = sum(p["current"] for p in phases if p["outcome"] == "succeeded")
    print(f"RESULT workers={len(report['workers'])} phases={len(phases)} items={done}/{workers * items} "
          f"lost={len(report['lost_workers'])} status={status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--rank", type=int, default=None, help="be one task of the job")
    parser.add_argument("--rank-from-env", default=None, metavar="VAR", help="take the rank from VAR (SLURM_PROCID)")
    parser.add_argument("--launch", action="store_true", help="start the ranks, as srun would")
    args = parser.parse_args()
    if args.rank_from_env:
        args.rank = int(os.environ[args.rank_from_env])
    if args.rank is not None:
        work(args.rank, args.items)
    elif args.launch:
        raise SystemExit(launch(args.workers, args.items))
    else:
        play_the_job(args.workers, args.items)


if __name__ == "__main__":
    main()
