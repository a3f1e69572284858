"""Latency and throughput between hosts over a veth link, with CURVE and without.

Run (root, Linux): ``python benchmarks/bench_hosts.py [--phases 2000] [--round-trips 300] [--delay-ms 0]``.

It builds the tests' LAN (``tests/integration/netns.py``: a bridge, veth links, one network
namespace per host), runs a headless session in the relay host and a worker in another, and
measures, for plain TCP and for CURVE:

- **round trip**: a worker opens and finishes one phase at a time; each finish waits until the
  session acknowledged it (what a worker's last phase, ``close()`` and exit wait for), so the
  median time per phase is about one round trip plus the session's handling;
- **reliable messages/s**: the worker starts ``--phases`` phases, counts each to 100 and
  finishes it without waiting, then waits until the session acknowledged everything: phase
  starts and finishes (two acknowledged messages per phase) per second;
- **states/s applied**: ``STATE`` frames the session applied per second while 50 phases change
  continuously (coalesced every 50 ms: the wire carries absolute state, not every update).

The library refuses a plain-TCP bind on a network interface; the benchmark's own server process
lifts that check to measure what CURVE costs.  ``--delay-ms`` adds ``tc netem`` delay on the
worker's link where the kernel has netem (not on every machine: then it says so and measures
without).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import mpprogress  # noqa: E402
from mpprogress.security import CurveServerKeys, generate_keys  # noqa: E402

PORT = 5600


def serve(address: str, curve: str | None) -> None:
    """The session in the relay host: until standard input closes, then print its frames applied."""
    from mpprogress._remote import transport

    if curve is None:
        transport.check_bind_address = lambda address, curve: None  # measuring plain TCP on purpose
    security = CurveServerKeys.load(curve) if curve else None
    with mpprogress.session(address, console=False, security=security):
        print("ready", flush=True)
        sys.stdin.read()


def work(address: str, curve: str | None, phases: int, round_trips: int) -> None:
    """The worker: the three measurements, as one JSON line."""
    from mpprogress.security import CurveClientKeys

    security = CurveClientKeys.load(curve, "bench") if curve else None
    with mpprogress.connect(address, security=security) as client:
        op = client.start_operation("bench", "bench")
        op.start_phase("warm", "warm", 1).update(1)
        op.finish_phase("warm")
        times = []
        for i in range(round_trips):
            started = time.perf_counter()
            op.start_phase(f"rt{i}", "round trip", 1)
            op.finish_phase(f"rt{i}")  # the client's last open phase: waits for the acknowledgement
            times.append(time.perf_counter() - started)
        keep = op.start_phase("keep", "keep", phases)  # so that finishing the others does not wait
        started = time.perf_counter()
        for i in range(phases):
            phase = op.start_phase(f"p{i}", "bulk", 100)
            phase.update(100)
            op.finish_phase(f"p{i}")
            keep.update(1)
        op.finish_phase("keep")  # now waits until every start and finish was acknowledged
        bulk = time.perf_counter() - started
        live = [op.start_phase(f"s{i}", "state", None) for i in range(50)]
        started = time.perf_counter()
        sent_before = client._link.frames_sent  # a benchmark may look inside
        while time.perf_counter() - started < 3.0:
            for phase in live:
                phase.update(1)
        states = (client._link.frames_sent - sent_before) / (time.perf_counter() - started)
        for phase in live:
            op.finish_phase(phase.phase_id)
        client.finish_operation("bench")
    print(json.dumps({
        "round_trip_ms_median": statistics.median(times) * 1000,
        "round_trip_ms_p95": sorted(times)[int(len(times) * 0.95)] * 1000,
        "reliable_messages_per_s": 2 * phases / bulk,
        "frames_per_s_while_updating": states,
    }), flush=True)


def measure(phases: int, round_trips: int, delay_ms: float) -> dict[str, dict[str, float]]:
    from tests.integration.netns import Network, clean_env, unavailable

    reason = unavailable()
    if reason is not None:
        raise SystemExit(f"cannot build hosts here: {reason}")
    results: dict[str, dict[str, float]] = {}
    net = Network()
    try:
        net.start()
        relay, worker = net.add_host("r"), net.add_host("w")
        if delay_ms:
            added = subprocess.run(["ip", "netns", "exec", worker.namespace, "tc", "qdisc", "add", "dev", "eth0",
                                    "root", "netem", "delay", f"{delay_ms}ms"], capture_output=True, text=True)
            if added.returncode != 0:
                print(f"no netem here ({added.stderr.strip()}): measuring without added delay")
        with tempfile.TemporaryDirectory() as scratch:
            keys = str(generate_keys(Path(scratch) / "keys", ("bench",)))
            for mode in ("plain", "curve"):
                curve = ["--curve", keys] if mode == "curve" else []
                address = f"tcp://{relay.address}:{PORT}"
                server = subprocess.Popen(
                    ["ip", "netns", "exec", relay.namespace, sys.executable, __file__, "--serve", address, *curve],
                    env=clean_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                )
                assert server.stdout is not None and server.stdin is not None
                assert server.stdout.readline().strip() == "ready"
                out = worker.run([sys.executable, __file__, "--work", address, *curve, "--phases", str(phases),
                                  "--round-trips", str(round_trips)])
                assert out.wait(600) == 0, "".join(out.err)
                results[mode] = json.loads(out.out[-1])
                server.stdin.close()
                server.wait(30)
    finally:
        net.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phases", type=int, default=2000)
    parser.add_argument("--round-trips", type=int, default=300)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--serve", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--work", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--curve", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.curve)
        return
    if args.work:
        work(args.work, args.curve, args.phases, args.round_trips)
        return
    results = measure(args.phases, args.round_trips, args.delay_ms)
    print(f"{'':34}{'plain TCP':>12}{'CURVE':>12}")
    for key, label in (("round_trip_ms_median", "round trip, median (ms)"),
                       ("round_trip_ms_p95", "round trip, p95 (ms)"),
                       ("reliable_messages_per_s", "reliable messages / s"),
                       ("frames_per_s_while_updating", "frames / s, 50 phases updating")):
        print(f"{label:34}{results['plain'][key]:>12.2f}{results['curve'][key]:>12.2f}")


if __name__ == "__main__":
    main()
