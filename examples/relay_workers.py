"""A standalone relay and workers started "from another shell": separate programs, one display.

By hand, in two shells::

    mpprogress relay --bind tcp://127.0.0.1:5555                        # shell 1: the display
    # shell 2: paste the two export lines the relay printed (its address and its key), then
    python examples/relay_workers.py --worker W1

Run without ``--worker``, this script plays both shells: it starts ``mpprogress relay --format
json`` on a free loopback port, starts ``--workers`` worker programs that know nothing but the
relay's export lines (``MPPROGRESS_ADDRESS``, ``MPPROGRESS_SERVER_KEY``), stops the relay with
SIGINT once they are done, and counts what the relay reported.

Run it:  python examples/relay_workers.py [--workers 3] [--items 200]
Last line (for scripts and tests):  RESULT workers=3 phases=6 items=1200/1200 relay=stopped
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

import mpprogress

PHASES_PER_WORKER = 2


def worker(name: str, items: int) -> None:
    """What a program started from another shell does: ask for the tracker and report."""
    tracker = mpprogress.get_tracker()  # connected to MPPROGRESS_ADDRESS
    with tracker.operation(f"Job {name}", "a program the relay never started") as op:
        for number in range(PHASES_PER_WORKER):
            with op.phase(f"{name} step {number + 1}", total=items) as phase:
                for item in range(items):
                    time.sleep(0.001)
                    phase.update(1, f"item {item + 1}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--worker", metavar="NAME", help="run as one worker (needs MPPROGRESS_ADDRESS)")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.items)
        return

    address = f"tcp://127.0.0.1:{free_port()}"
    relay = subprocess.Popen(
        [sys.executable, "-m", "mpprogress", "relay", "--bind", address, "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    exported: dict[str, str] = {}
    try:
        assert relay.stderr is not None
        for line in relay.stderr:  # what a user copies: "export NAME=VALUE" lines, the key the last
            if line.startswith("export "):
                name, _, value = line[len("export "):].strip().partition("=")
                exported[name] = value.strip("'")
            if "MPPROGRESS_SERVER_KEY" in exported:
                break
        env = {**os.environ, **exported}
        workers = [
            subprocess.Popen([sys.executable, __file__, "--worker", f"W{n + 1}", "--items", str(args.items)], env=env)
            for n in range(args.workers)
        ]
        codes = [w.wait(timeout=120) for w in workers]
        if any(codes):
            raise SystemExit(f"a worker failed: exit codes {codes}")
    finally:
        relay.send_signal(signal.SIGINT)
        out, err = relay.communicate(timeout=30)
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    finished = [e["data"] for e in events if e["type"] == "phase_finished"]
    done = sum(data["current"] for data in finished if data["success"])
    print(err.strip().splitlines()[-1] if err.strip() else "(relay printed no status)", file=sys.stderr)
    expected = args.workers * PHASES_PER_WORKER * args.items
    state = "stopped" if relay.returncode == 0 else f"exit{relay.returncode}"
    print(f"RESULT workers={args.workers} phases={len(finished)} items={done}/{expected} relay={state}")


if __name__ == "__main__":
    main()
