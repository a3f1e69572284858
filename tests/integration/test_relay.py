"""The standalone relay, as users run it: ``python -m mpprogress relay`` and worker processes.

Real processes and real sockets; every wait polls with a generous deadline (an upper bound,
never a timing assertion).  Covers the relay rows of DESIGN.md's fault table: relay killed and
restarted, flood, hostile input, CURVE, insecure binds, a second relay on the same ipc path,
and SIGINT with the output flushed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.auth

from mpprogress._remote import wire
from mpprogress._wiring import connect
from mpprogress.security import CurveClientKeys
from tests.integration.conftest import wait_for
from tests.integration.test_multiprocess_aggregator import RawClient

ROOT = Path(__file__).resolve().parents[2]
STATUS = re.compile(r"frames applied=(\d+) dropped=(\d+) \(([^)]*)\)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


_SERVER_KEYS: dict[str, str] = {}  # address -> the MPPROGRESS_SERVER_KEY its relay printed (loopback TCP)


class KeyedRawClient(RawClient):
    """A ``RawClient`` with a CURVE key pair of its own, for a relay whose public key is known."""

    def __init__(self, address: str, server_key: str | None, keys: CurveClientKeys | None = None) -> None:
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if keys is None and server_key is not None:
            keys = CurveClientKeys.ephemeral(server_key)
        if keys is not None:  # a worker reconnecting keeps its key pair
            keys.apply(self.sock)
        self.sock.connect(address)


class Relay:
    """A ``python -m mpprogress relay`` subprocess whose stdout and stderr lines are collected."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.key: str | None = None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mpprogress", "relay", *args],
            cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    def wait_listening(self) -> str:
        assert wait_for(lambda: any("listening on" in line for line in self.err) or self.proc.poll() is not None)
        line = next((line for line in self.err if "listening on" in line), None)
        assert line is not None, "".join(self.err)
        address = line.split("listening on ", 1)[1].split()[0]
        if address.startswith("tcp://") and "--curve" not in self.args:  # its key, as a user copies it
            # printed with the address (one write): a relay without keys gives none at all
            wait_for(lambda: any("MPPROGRESS_SERVER_KEY=" in line for line in self.err), timeout=5)
            key_line = next((line for line in self.err if "MPPROGRESS_SERVER_KEY=" in line), None)
            if key_line is not None:
                self.key = _SERVER_KEYS[address] = key_line.strip().split("=", 1)[1].strip("'")
        return address

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        events = [json.loads(line) for line in list(self.out) if line.strip()]
        return [e for e in events if event_type is None or e["type"] == event_type]

    def finished(self, title_prefix: str) -> list[dict[str, Any]]:
        return [e["data"] for e in self.events("phase_finished") if e["data"]["title"].startswith(title_prefix)]

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(5)
        return code

    def status(self) -> tuple[int, int, dict[str, int]]:
        match = next((STATUS.search(line) for line in self.err if STATUS.search(line)), None)
        assert match is not None, "".join(self.err)
        reasons = dict(item.split("=") for item in match.group(3).split(", ") if "=" in item)
        return int(match.group(1)), int(match.group(2)), {k: int(v) for k, v in reasons.items()}

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def _worker(address: str, title: str, *args: str, **env: str) -> subprocess.Popen[str]:
    if address in _SERVER_KEYS and "MPPROGRESS_CURVE_DIR" not in env:
        env.setdefault("MPPROGRESS_SERVER_KEY", _SERVER_KEYS[address])
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.relay_worker", title, *args],
        cwd=ROOT, env=_env(MPPROGRESS_ADDRESS=address, **env), stdout=subprocess.PIPE, text=True,
    )


def _run_worker(address: str, title: str, *args: str, timeout: float = 60.0, **env: str) -> None:
    proc = _worker(address, title, *args, **env)
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0 and "done" in out


@pytest.fixture
def relays() -> Any:
    started: list[Relay] = []

    def start(*args: str) -> Relay:
        relay = Relay(*args)
        started.append(relay)
        return relay

    yield start
    for relay in started:
        relay.kill()


def test_json_relay_shows_a_worker_process_and_stops_on_sigint(relays: Any) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    relay = relays("--format", "json", "--bind", address)
    assert relay.wait_listening() == address
    _run_worker(address, "alpha", "--phases", "3", "--items", "500")
    assert wait_for(lambda: len(relay.finished("alpha-")) == 3 and relay.events("operation_finished"))
    code = relay.stop(signal.SIGINT)
    assert code == 0
    events = relay.events()  # every line is whole JSON: the output was flushed
    assert {"operation_started", "phase_started", "progress_update", "phase_finished", "operation_finished"} <= {
        e["type"] for e in events
    }
    assert all(set(e) == {"type", "timestamp", "data"} for e in events)
    done = relay.finished("alpha-")
    assert sorted(d["title"] for d in done) == ["alpha-0", "alpha-1", "alpha-2"]
    assert all(d["success"] and d["current"] == d["total"] == 500 for d in done)
    (op,) = relay.events("operation_finished")
    assert op["data"]["title"] == "alpha" and op["data"]["success"]
    frames, dropped, _ = relay.status()
    assert frames > 0 and dropped == 0


def test_relay_killed_and_restarted_ends_with_exact_counts(relays: Any, tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    first = relays("--format", "json", "--bind", address, "--key-file", str(tmp_path / "relay.key"))
    first.wait_listening()
    worker = _worker(address, "survivor", "--items", "600", "--sleep", "0.01")
    assert wait_for(lambda: any(
        e["data"]["title"] == "survivor-0" and e["data"]["current"] > 0 for e in first.events("progress_update")
    ))
    first.kill()  # SIGKILL mid-phase
    second = relays("--format", "json", "--bind", address, "--key-file", str(tmp_path / "relay.key"))
    second.wait_listening()
    assert second.key == first.key  # the same receiver to the worker
    out, _ = worker.communicate(timeout=60)  # the worker never blocks on a dead relay
    assert worker.returncode == 0 and "done" in out
    assert wait_for(lambda: second.finished("survivor-0"))
    (final,) = second.finished("survivor-0")
    assert final["success"] and final["current"] == final["total"] == 600
    assert second.stop() == 0


def test_hostile_input_is_dropped_and_counted_while_a_client_is_served(relays: Any) -> None:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    relay = relays("--format", "json", "--bind", address)
    relay.wait_listening()
    ctx = zmq.Context()
    try:
        # Raw TCP connections sending junk, and one that connects and says nothing.
        silent = socket.create_connection(("127.0.0.1", port))
        for k in range(20):
            with socket.create_connection(("127.0.0.1", port)) as raw:
                raw.sendall(os.urandom(64 + 97 * k))
        # ZMTP greetings naming a mechanism nobody speaks: refused during the handshake.
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", port)) as raw:
                raw.settimeout(10)
                raw.sendall(b"\xff" + bytes(8) + b"\x7f" + b"\x03\x00" + b"BOGUS".ljust(20, b"\0") + bytes(32))
                while raw.recv(4096):  # until the relay hangs up
                    pass
        # Oversize frames: read, dropped and counted (the sender stays connected).
        big = ctx.socket(zmq.DEALER)
        assert relay.key is not None
        CurveClientKeys.ephemeral(relay.key).apply(big)
        big.connect(address)
        for _ in range(5):
            big.send(os.urandom(wire.MAX_FRAME * 4))
        # 10,000 garbage frames and 100 multipart frames on one ZMTP connection, then a valid
        # heartbeat from this unknown peer: its RESYNC reply shows every frame before it was read.
        hostile = ctx.socket(zmq.DEALER)
        hostile.setsockopt(zmq.SNDHWM, 0)
        CurveClientKeys.ephemeral(relay.key).apply(hostile)
        hostile.connect(address)
        for k in range(10_000):
            hostile.send(b"\xc1" + os.urandom(k % 200))  # 0xc1: never valid msgpack
        for _ in range(100):
            hostile.send_multipart([b"part one", b"part two"])
        hostile.send(wire.encode(wire.Heartbeat(1)))
        assert hostile.poll(30_000), "the relay stopped answering"
        assert isinstance(wire.decode(hostile.recv()), wire.Resync)
        _run_worker(address, "legit", "--phases", "2", "--items", "300")
        assert wait_for(lambda: len(relay.finished("legit-")) == 2)
        silent.close()
    finally:
        ctx.destroy(linger=0)
    assert relay.stop() == 0
    done = relay.finished("legit-")
    assert all(d["success"] and d["current"] == 300 for d in done)
    _, dropped, reasons = relay.status()
    assert dropped >= 10_100
    assert reasons.get("multipart") == 100
    assert reasons.get("oversize") == 5
    assert reasons.get("handshake_protocol", 0) >= 5
    assert sum(v for k, v in reasons.items() if not k.startswith("handshake")) >= 10_100


def test_curve_admits_allowed_keys_only(relays: Any, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    made = subprocess.run(
        [sys.executable, "-m", "mpprogress", "keys", str(keys), "--client", "good"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60,
    )
    assert made.returncode == 0, made.stderr
    zmq.auth.create_certificates(keys, "rogue")  # a key pair the relay does not allow
    port = _free_port()
    relay = relays("--format", "json", "--bind", f"tcp://0.0.0.0:{port}", "--curve", str(keys))
    relay.wait_listening()
    address = f"tcp://127.0.0.1:{port}"
    _run_worker(address, "rogue", "--items", "10", MPPROGRESS_CURVE_DIR=str(keys), MPPROGRESS_CURVE_CLIENT="rogue")
    _run_worker(address, "nokey", "--items", "10")
    _run_worker(address, "good", "--items", "50", MPPROGRESS_CURVE_DIR=str(keys), MPPROGRESS_CURVE_CLIENT="good")
    with connect(address, security=CurveClientKeys.load(keys, "good")) as client:  # explicit keys
        with client.operation("explicit") as op, op.phase("explicit-0", total=30) as phase:
            phase.update(30)
    assert wait_for(lambda: relay.finished("good-") and relay.finished("explicit-"))
    assert relay.stop() == 0
    (good,) = relay.finished("good-")
    assert good["success"] and good["current"] == 50
    (explicit,) = relay.finished("explicit-")
    assert explicit["success"] and explicit["current"] == 30
    titles = {e["data"].get("title") for e in relay.events()}
    _, _, reasons = relay.status()
    assert reasons.get("handshake_auth", 0) >= 1  # the rogue key, refused by ZAP
    assert sum(v for k, v in reasons.items() if k.startswith("handshake")) >= 2  # and the keyless client
    assert not {"rogue", "rogue-0", "nokey", "nokey-0"} & titles


def test_the_curve_relays_hint_is_complete_and_copying_it_works(relays: Any, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    made = subprocess.run([sys.executable, "-m", "mpprogress", "keys", str(keys), "--client", "good"],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    relay = relays("--format", "json", "--bind", f"tcp://127.0.0.1:{_free_port()}", "--curve", str(keys))
    address = relay.wait_listening()
    # stderr is line-buffered: the hint's lines may come a moment after the "listening on" line.
    assert wait_for(lambda: any("MPPROGRESS_CURVE_CLIENT" in line for line in relay.err))
    exported = dict(line.strip()[len("export "):].split("=", 1) for line in relay.err if line.startswith("export "))
    assert exported == {"MPPROGRESS_ADDRESS": address, "MPPROGRESS_CURVE_DIR": str(keys.resolve()),
                        "MPPROGRESS_CURVE_CLIENT": "good"}
    proc = subprocess.run([sys.executable, "-m", "tests.integration.relay_worker", "hinted", "--items", "10"],
                          cwd=ROOT, env=_env(**exported), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "done" in proc.stdout and "warning" not in proc.stderr
    assert wait_for(lambda: relay.finished("hinted-"))
    assert relay.stop() == 0


def test_public_bind_without_curve_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mpprogress", "relay", "--bind", f"tcp://0.0.0.0:{_free_port()}"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "CURVE" in done.stderr


def test_second_relay_on_the_same_ipc_path_is_refused(relays: Any, tmp_path: Path) -> None:
    address = f"ipc://{tmp_path}/relay.sock"
    first = relays("--format", "json", "--bind", address)
    first.wait_listening()
    second = subprocess.run(
        [sys.executable, "-m", "mpprogress", "relay", "--bind", address],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60,
    )
    assert second.returncode == 2
    assert "already listens" in second.stderr
    _run_worker(address, "still-first", "--items", "20")  # the first relay kept its clients
    assert wait_for(lambda: first.finished("still-first-"))
    assert first.stop() == 0


def test_flood_of_eight_processes_ends_with_exact_counts(relays: Any) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    relay = relays("--format", "json", "--bind", address)
    relay.wait_listening()
    n = 250_000
    started = time.monotonic()
    workers = [_worker(address, f"flood{k}", "--items", str(n)) for k in range(8)]
    for proc in workers:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0 and "done" in out
    assert wait_for(lambda: len(relay.finished("flood")) == 8, timeout=30)
    wall = time.monotonic() - started
    cpu = relay.cpu_seconds()
    assert relay.stop() == 0
    done = relay.finished("flood")
    assert sorted(d["title"] for d in done) == [f"flood{k}-0" for k in range(8)]
    assert all(d["success"] and d["current"] == d["total"] == n for d in done)
    updates = len([e for e in relay.events("progress_update") if e["data"]["title"].startswith("flood")])
    print(f"\nflood 8 x {n:,}: wall {wall:.2f} s, relay CPU {cpu:.2f} s (incl. start-up), "
          f"{updates} progress events rendered")


def test_default_relay_draws_the_display_on_a_private_ipc_path_and_stops_on_sigterm(relays: Any) -> None:
    relay = relays()
    address = relay.wait_listening()
    assert address.startswith("ipc://") and any(f"MPPROGRESS_ADDRESS={address}" in line for line in relay.err)
    directory = Path(address[len("ipc://") :]).parent
    assert directory.stat().st_mode & 0o777 == 0o700
    _run_worker(address, "shown", "--items", "40")
    assert wait_for(lambda: "shown-0" in "".join(relay.err), timeout=15)  # the display draws on stderr
    assert relay.stop(signal.SIGTERM) == 0
    assert "Succeeded shown" in "".join(relay.err)
    assert "".join(relay.out) == ""  # stdout is for --format json alone
    frames, dropped, _ = relay.status()
    assert frames > 0 and dropped == 0
    assert not directory.exists()  # the private directory is removed on exit


def test_relay_timings_say_when_a_silent_worker_elsewhere_is_lost() -> None:
    relay = Relay("--format", "json", "--stalled-after", "0.5", "--lost-after", "1.5")
    try:
        address = relay.wait_listening()
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(address)
        try:
            for message in (wire.Hello(1, "far", 1, "elsewhere"), wire.OperationStart(2, "far-op", "far", None),
                            wire.PhaseStart(3, 1, "far-p", "far-op", None, "far phase", None, 10)):
                sock.send(wire.encode(message))
            assert wait_for(lambda: relay.finished("far phase"), timeout=30)  # then silence: lost at 1.5 s
        finally:
            sock.close()
        assert relay.finished("far phase")[0]["reason"] == "lost"
        assert relay.stop() == 0
        assert "lost=1" in "".join(relay.err)
    finally:
        relay.kill()


def test_relay_refuses_timings_that_are_not_positive_seconds() -> None:
    proc = subprocess.run([sys.executable, "-m", "mpprogress", "relay", "--lost-after", "0"], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "must be a positive number of seconds, got 0" in proc.stderr


def test_worker_log_records_show_one_line_each_named_after_their_worker(relays: Any) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    relay = relays("--format", "json", "--bind", address)
    relay.wait_listening()
    client = KeyedRawClient(address, relay.key)
    try:
        forged = "real\nmpprogress: warning: forged line\u2028second\u2029third\rfourth"
        client.send(wire.Hello(1, "logger", 4242, "elsewhere"),
                    *[wire.LogRecord(2 + n, logging.WARNING, "job", forged, 1.0) for n in range(50)])
        client.wait_acked(1)
        assert wait_for(lambda: sum("forged" in line for line in relay.err) >= 50)
    finally:
        client.close()
    assert relay.stop() == 0
    shown = [line for line in relay.err if "forged" in line]
    assert len(shown) == 50  # one line per record, not 50 x 5
    assert set(shown) == {"[worker 4242] real mpprogress: warning: forged line second thirdfourth\n"}, shown[:2]
    assert not any(line.startswith("mpprogress: warning: forged") for line in relay.err)
