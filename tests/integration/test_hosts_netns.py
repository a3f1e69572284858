"""Several hosts, one display: a CURVE relay in one network namespace, workers in two others.

Each test builds its own LAN (``netns.Network``: a bridge, veth links, ``10.231.0.0/24``) and
removes it afterwards.  Workers run in their own pid namespaces too, so the relay judges them
as it judges workers on other machines: by heartbeats, never by pid.  The relay is the real
``python -m mpprogress relay --curve DIR --format json``; what it shows is read from its JSON
lines.  Every wait polls with a generous deadline (an upper bound, never a speed assertion).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from mpprogress._remote.aggregator import AggregatorConfig
from mpprogress.security import generate_keys
from tests.integration.conftest import wait_for
from tests.integration.netns import Host, Network, Process, clean_env, network

pytestmark = pytest.mark.processes

__all__ = ["network"]  # the fixture, used by name below

PORT = 5555
OUTAGE = 10.0  # seconds a host's link stays down in the flap test


LOST_AFTER = 8.0  # the relay's --lost-after in the vanished-host test (the default is 60 s)


def _lost_after(lost_after: float = LOST_AFTER) -> float:
    """The documented bound for marking a silent worker on another host lost (README "Across
    machines"): the relay's ``--lost-after``, checked every ``liveness_interval``."""
    return lost_after + AggregatorConfig().liveness_interval


class Lan:
    """A relay host and two worker hosts on one network, with CURVE keys for clients a and b."""

    def __init__(self, net: Network, keys: Path) -> None:
        self.net = net
        self.keys = keys
        self.relay_host = net.add_host("r")
        self.a = net.add_host("a")
        self.b = net.add_host("b")
        self.relay: Process | None = None
        self.address = ""

    def start_relay(self, port: int = PORT, *extra: str) -> Process:
        self.address = f"tcp://{self.relay_host.address}:{port}"
        self.relay = self.relay_host.run(
            [*_python(), "-m", "mpprogress", "relay", "--format", "json", "--curve", str(self.keys),
             "--bind", self.address, *extra],
            own_pids=False,
        )
        relay = self.relay
        assert wait_for(lambda: any("listening on" in line for line in relay.err) or relay.popen.poll() is not None)
        assert relay.popen.poll() is None, "".join(relay.err)
        return relay

    def worker(self, host: Host, title: str, *args: str, client: str | None = None, **env: str) -> Process:
        settings = {"MPPROGRESS_CURVE_DIR": str(self.keys), "MPPROGRESS_CURVE_CLIENT": client or host.name, **env}
        if self.address:
            settings["MPPROGRESS_ADDRESS"] = self.address
        return host.run([*_python(), "-m", "tests.integration.relay_worker", title, *args], clean_env(**settings))

    def events(self, event_type: str) -> list[dict[str, Any]]:
        assert self.relay is not None
        found = []
        for line in list(self.relay.out):
            if line.strip():
                event = json.loads(line)
                if event["type"] == event_type:
                    found.append(event["data"])
        return found

    def finished(self, prefix: str) -> list[dict[str, Any]]:
        return [e for e in self.events("phase_finished") if e["title"].startswith(prefix)]

    def progressed(self, prefix: str) -> bool:
        return any(e["title"].startswith(prefix) and e["current"] > 0 for e in self.events("progress_update"))


def _python() -> list[str]:
    import sys

    return [sys.executable]


@pytest.fixture
def lan(network: Network, tmp_path: Path) -> Lan:
    keys = generate_keys(tmp_path / "keys", ("a", "b"))
    return Lan(network, keys)


def _done(process: Process) -> bool:
    return process.wait(120) == 0 and any("done" in line for line in process.out)


def test_exact_final_counts_from_every_host(lan: Lan) -> None:
    lan.start_relay()
    workers = [lan.worker(lan.a, "hostA", "--phases", "3", "--items", "5000"),
               lan.worker(lan.b, "hostB", "--phases", "3", "--items", "5000")]
    assert all(_done(w) for w in workers), [w.err for w in workers]
    assert wait_for(lambda: len(lan.finished("hostA-")) == 3 and len(lan.finished("hostB-")) == 3, 30)
    for phase in lan.finished("host"):
        assert (phase["current"], phase["total"], phase["success"]) == (5000, 5000, True), phase
    started = {e["title"]: e["worker"] for e in lan.events("phase_started")}
    # Two other machines as the relay sees them: neither shares its pid namespace.
    assert started["hostA-0"] != started["hostB-0"]


def test_a_host_whose_link_flaps_for_ten_seconds_loses_nothing(lan: Lan) -> None:
    lan.start_relay()
    flapping = lan.worker(lan.a, "flap", "--items", "1000", "--sleep", "0.02")  # ~20 s of work
    steady = lan.worker(lan.b, "steady", "--items", "1000", "--sleep", "0.02")
    assert wait_for(lambda: lan.progressed("flap-"), 30)
    lan.net.link_down(lan.a)
    time.sleep(OUTAGE)
    lan.net.link_up(lan.a)
    assert _done(flapping) and _done(steady), (flapping.err, steady.err)
    assert wait_for(lambda: len(lan.finished("flap-")) == 1 and len(lan.finished("steady-")) == 1, 60)
    flap, = lan.finished("flap-")
    assert (flap["current"], flap["success"], flap["reason"]) == (1000, True, None), flap
    assert lan.finished("steady-")[0]["current"] == 1000
    ops = {e["title"]: e["success"] for e in lan.events("operation_finished")}
    assert ops == {"flap": True, "steady": True}


def test_a_host_that_vanishes_is_marked_lost_within_the_documented_time(lan: Lan) -> None:
    lan.start_relay(PORT, "--lost-after", str(LOST_AFTER))
    doomed = lan.worker(lan.b, "doomed", "--items", "100000", "--sleep", "0.01")
    survivor = lan.worker(lan.a, "survivor", "--phases", "2", "--items", "3000")
    assert wait_for(lambda: lan.progressed("doomed-"), 30)
    lan.net.link_down(lan.b)  # first the cable, so that no FIN or RST tells the relay
    doomed.kill()
    gone_at = time.monotonic()
    bound = _lost_after()
    assert wait_for(lambda: lan.finished("doomed-"), bound + 15)
    took = time.monotonic() - gone_at
    phase, = lan.finished("doomed-")
    assert (phase["success"], phase["reason"]) == (False, "lost"), phase
    assert 0 < phase["current"] < 100000
    # An upper bound with room for a loaded machine; the measured time is in the report.
    assert took <= bound + 10, f"lost after {took:.1f} s, documented {bound:.1f} s"
    print(f"vanished host marked lost after {took:.2f} s (documented: {bound:.2f} s)")
    assert _done(survivor)
    assert wait_for(lambda: len(lan.finished("survivor-")) == 2)
    assert all(p["current"] == 3000 and p["success"] for p in lan.finished("survivor-"))


def test_a_worker_with_a_wrong_key_is_refused_and_says_so(lan: Lan, tmp_path: Path) -> None:
    relay = lan.start_relay()
    rogue = generate_keys(tmp_path / "rogue", ("b",))  # a key pair the relay never allowed
    shutil.copy(lan.keys / "server.key", rogue / "server.key")  # it knows the relay's public key
    refused = lan.worker(lan.b, "rogue", "--items", "50", MPPROGRESS_CURVE_DIR=str(rogue))
    honest = lan.worker(lan.a, "honest", "--items", "50")
    assert refused.wait(60) == 0 and _done(honest)
    assert any("not on the relay's allow-list" in line for line in refused.err), refused.err
    assert wait_for(lambda: lan.finished("honest-"))
    relay.popen.send_signal(signal.SIGINT)
    assert relay.wait(30) == 0
    assert not lan.finished("rogue-") and not [e for e in lan.events("phase_started") if e["title"] == "rogue-0"]
    status = next(line for line in relay.err if "frames applied" in line)
    assert "handshake_auth=" in status, status


def test_a_relay_restarted_on_its_address_gets_the_running_workers_back(lan: Lan) -> None:
    first = lan.start_relay()
    worker = lan.worker(lan.a, "resumed", "--items", "600", "--sleep", "0.01")
    assert wait_for(lambda: lan.progressed("resumed-"), 30)
    first.kill()
    lan.start_relay()  # the same address: the stable thing workers hold on to
    assert _done(worker)
    assert wait_for(lambda: lan.finished("resumed-"), 30)
    phase, = lan.finished("resumed-")
    assert (phase["current"], phase["success"]) == (600, True), phase


def test_a_relay_restarted_on_another_port_is_found_through_its_announcement(lan: Lan, tmp_path: Path) -> None:
    board = tmp_path / "relay.address"  # on a cluster: a file on the shared file system
    first = lan.start_relay(PORT, "--announce", str(board))
    assert board.read_text().strip() == f"tcp://{lan.relay_host.address}:{PORT}"
    lan.address = ""  # the workers know the file only
    assert _done(lan.worker(lan.a, "before", "--items", "300", MPPROGRESS_ADDRESS_FILE=str(board)))
    assert wait_for(lambda: lan.finished("before-"))
    first.popen.send_signal(signal.SIGINT)
    assert first.wait(30) == 0
    lan.start_relay(PORT + 1, "--announce", str(board))
    assert board.read_text().strip() == f"tcp://{lan.relay_host.address}:{PORT + 1}"
    lan.address = ""
    after = [lan.worker(host, f"after{host.name}", "--items", "300", MPPROGRESS_ADDRESS_FILE=str(board))
             for host in (lan.a, lan.b)]
    assert all(_done(w) for w in after), [w.err for w in after]
    assert wait_for(lambda: len(lan.finished("after")) == 2)
    assert all((p["current"], p["success"]) == (300, True) for p in lan.finished("after"))


def test_a_running_worker_follows_its_relay_to_another_port(lan: Lan, tmp_path: Path) -> None:
    board = tmp_path / "relay.address"
    first = lan.start_relay(PORT, "--announce", str(board))
    lan.address = ""  # the worker knows the file only
    worker = lan.worker(lan.a, "moving", "--items", "600", "--sleep", "0.01", MPPROGRESS_ADDRESS_FILE=str(board))
    assert wait_for(lambda: lan.progressed("moving-"), 30)
    first.kill()  # mid-phase; the new relay listens elsewhere and says so in the same file
    lan.start_relay(PORT + 1, "--announce", str(board))
    assert _done(worker), worker.err
    assert wait_for(lambda: lan.finished("moving-"), 30)
    phase, = lan.finished("moving-")
    assert (phase["current"], phase["success"]) == (600, True), phase


def test_mpprogress_run_collects_a_job_spread_over_hosts(lan: Lan, tmp_path: Path) -> None:
    # The batch-script pattern: `mpprogress run` on the first node, the job's launcher (here
    # `ip netns exec`, on a cluster srun or mpirun) passes the environment on to the other nodes.
    journal = tmp_path / "job.db"
    worker = f"{_python()[0]} -m tests.integration.relay_worker"
    script = " & ".join(
        f"ip netns exec {host.namespace} unshare --pid --fork --kill-child {worker} job{host.name} --items 400"
        for host in (lan.a, lan.b)
    ) + " & wait"
    run = lan.relay_host.run(
        [*_python(), "-m", "mpprogress", "run", "--no-display", "--bind", f"tcp://{lan.relay_host.address}:{PORT}",
         "--curve", str(lan.keys), "--journal", str(journal), "--", "sh", "-c", script + "; exit 7"],
        own_pids=False,
    )
    assert run.wait(120) == 7, run.err
    assert "".join(run.out).count("done") == 2, (run.out, run.err)
    report = json.loads(subprocess.run(
        [*_python(), "-m", "mpprogress", "report", str(journal), "--format", "json"],
        capture_output=True, text=True, check=True,
    ).stdout)
    phases = {p["title"]: (p["current"], p["outcome"]) for p in report["phases"]}
    assert phases == {"joba-0": (400, "succeeded"), "jobb-0": (400, "succeeded")}
    assert len(report["workers"]) == 2 and not report["lost_workers"]
