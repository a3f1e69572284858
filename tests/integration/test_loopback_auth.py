"""Workers authenticate their receiver on loopback TCP (issue 28, items 4 and 5).

A session or relay bound on loopback TCP without ``--curve`` makes a CURVE key pair and gives
its public key to its workers (``MPPROGRESS_SERVER_KEY``); each worker makes a key pair of its
own.  So a stranger who binds the port of a killed relay gets nothing from its workers and
cannot cancel their work, and a hello reusing a worker's client id from another key is refused.
Real processes, real sockets; every wait polls with a generous deadline.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import pytest
import zmq

import mpprogress
from mpprogress._remote import wire
from mpprogress._remote.settings import ADDRESS_ENV, export_settings
from mpprogress.security import CurveClientKeys
from mpprogress.testing import RecordingCallback
from tests.integration.conftest import START_METHODS, wait_for
from tests.integration.test_relay import ROOT, KeyedRawClient, Relay, _free_port

pytestmark = pytest.mark.processes

TOTAL = 1500
SERVER_KEY_ENV = "MPPROGRESS_SERVER_KEY"  # spelled out: the test runs (and fails) on code without it too


class FakeRelay:
    """What the stranger of the issue ran: a plain ROUTER on the killed relay's port that records
    every frame, asks every peer to introduce itself again and cancels every operation it hears of."""

    def __init__(self, address: str) -> None:
        self.sock = zmq.Context.instance().socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        deadline = time.monotonic() + 15
        while True:  # the killed relay's port may take a moment to be free again
            try:
                self.sock.bind(address)
                break
            except zmq.ZMQError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.frames: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seq = 0
        while not self._stop.is_set():
            if not self.sock.poll(50):
                continue
            peer, frame = self.sock.recv_multipart()
            self.frames.append(frame)
            seq += 1
            try:
                message = wire.decode(frame)
            except Exception:
                continue
            operation = getattr(message, "operation_id", None)
            reply: wire.Message = wire.Cancel(seq, operation, None) if operation else wire.Resync(seq)
            self.sock.send_multipart([peer, wire.encode(reply)])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close(linger=0)


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _slow_worker(results: Queue[Any]) -> None:
    """Report TOTAL slow items in one phase; put (items done, cancelled, warnings) in ``results``."""
    warnings = _Warnings()
    logging.getLogger("mpprogress").addHandler(warnings)
    tracker = mpprogress.get_tracker()
    with tracker.operation("victim-op", "secret operation title") as op, op.phase("secret phase title",
                                                                                  total=TOTAL) as phase:
        done = 0
        for _ in range(TOTAL):
            if phase.cancelled:
                break
            phase.update(1)
            done += 1
            time.sleep(0.004)
        cancelled = phase.cancelled
    tracker.close()
    results.put((done, cancelled, warnings.lines))


@pytest.mark.slow
@pytest.mark.parametrize("method", START_METHODS)
def test_a_stranger_on_a_killed_relays_port_gets_nothing_and_cancels_nothing(method: str) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    relay = Relay("--format", "json", "--bind", address)
    fake = None
    try:
        relay.wait_listening()
        restore = export_settings({ADDRESS_ENV: address, SERVER_KEY_ENV: relay.key})  # the relay's export lines
        try:
            context = multiprocessing.get_context(method)
            results: Queue[Any] = context.Queue()
            worker = context.Process(target=_slow_worker, args=(results,))
            worker.start()
        finally:
            restore()
        assert wait_for(lambda: any(e["data"]["current"] >= 50 for e in relay.events("progress_update")), 60)
        relay.kill()
        fake = FakeRelay(address)
        done, cancelled, warnings = results.get(timeout=120)
        worker.join(30)
        assert worker.exitcode == 0
        assert fake.frames == []  # no client id, no titles, nothing at all reached the stranger
        assert (done, cancelled) == (TOTAL, False)  # and it cancelled nothing
        (warning,) = warnings
        assert address in warning and "not the session or relay this worker was given" in warning, warning
    finally:
        relay.kill()
        if fake is not None:
            fake.close()


def _hello_until_answered(client: KeyedRawClient, hello: wire.Hello) -> wire.Message:
    """Say ``hello`` until the receiver answers it with something other than a probe."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        client.send(hello)
        while client.sock.poll(200):
            reply = wire.decode(client.sock.recv())
            if isinstance(reply, wire.Refused) or (isinstance(reply, wire.Ack) and hello.seq in reply.acked):
                return reply
    raise AssertionError("the hello was never answered")


def test_a_hello_taking_over_a_tcp_workers_id_from_another_key_is_refused() -> None:
    events = RecordingCallback()
    with mpprogress.session("tcp://127.0.0.1:0", console=False, sinks=[events]) as tracker:
        tracker.start_operation("op", "op")
        address, key = os.environ[ADDRESS_ENV], os.environ.get(SERVER_KEY_ENV)
        victim_keys = CurveClientKeys.ephemeral(key) if key else None
        victim = KeyedRawClient(address, key, victim_keys)  # a worker given the key: its own key pair
        hello = wire.Hello(1, "victim", 4242, "elsewhere")
        victim.send(hello, wire.PhaseStart(2, 1, "v", "op", None, "victim's", None, 1000),
                    wire.State(3, (wire.PhaseState(1, 13, 1000, None),)))
        victim.wait_acked(1, 2)
        victim.close()  # its connection is down (the worker was SIGSTOPped)
        impostor = KeyedRawClient(address, key)  # the key is public; its own key pair is another
        try:
            refusals = 0
            deadline = time.monotonic() + 3  # long past the moment the victim's connection is seen gone
            while time.monotonic() < deadline:
                reply = _hello_until_answered(impostor, wire.Hello(1, "victim", 4242, "elsewhere"))
                assert isinstance(reply, wire.Refused) and reply.reason == "hijack", reply
                refusals += 1
                time.sleep(0.1)
            impostor.send(wire.PhaseFinish(2, 1, 13, 1000, None, True, None))
        finally:
            impostor.close()
        back = KeyedRawClient(address, key, victim_keys)
        try:  # the worker itself, reconnected with its own key: taken back, and it ends its phase
            reply = _hello_until_answered(back, wire.Hello(4, "victim", 4242, "elsewhere"))
            assert isinstance(reply, wire.Ack), reply
            back.send(wire.PhaseFinish(5, 1, 1000, 1000, None, True, None))
            assert wait_for(lambda: events.of_type("phase_finished"))
        finally:
            back.close()
    (finish,) = [e.data for e in events.of_type("phase_finished") if e.data["title"] == "victim's"]
    assert (finish["current"], finish["success"]) == (1000, True)  # not the impostor's 13
    assert refusals >= 5



@pytest.mark.slow
def test_a_worker_follows_its_announced_relay_to_a_new_port_and_key(tmp_path: Path) -> None:
    board = tmp_path / "relay.address"
    first = Relay("--format", "json", "--bind", f"tcp://127.0.0.1:{_free_port()}", "--announce", str(board))
    second = None
    try:
        first.wait_listening()
        assert first.key is not None and board.read_text().splitlines()[1] == first.key
        env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
        env.update(PYTHONPATH=str(ROOT), MPPROGRESS_ADDRESS_FILE=str(board))  # the file alone: address and key
        worker = subprocess.Popen([sys.executable, "-m", "tests.integration.relay_worker", "mover", "--items", "600",
                                   "--sleep", "0.01"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        assert wait_for(lambda: any(e["data"]["current"] > 0 for e in first.events("progress_update")), 60)
        first.kill()
        second = Relay("--format", "json", "--bind", f"tcp://127.0.0.1:{_free_port()}", "--announce", str(board))
        second.wait_listening()
        assert second.key not in (None, first.key)
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0 and "done" in out
        assert "refused" not in err and "not authenticated" not in err, err  # "nothing listens" while it moved: fine
        assert wait_for(lambda: second.finished("mover-0"), 30)
        (final,) = second.finished("mover-0")
        assert final["success"] and final["current"] == final["total"] == 600
        assert second.stop() == 0
    finally:
        first.kill()
        if second is not None:
            second.kill()


@pytest.mark.slow
def test_mpprogress_run_on_loopback_tcp_gives_its_key_to_the_command_and_the_address_file(tmp_path: Path) -> None:
    board = tmp_path / "run.address"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
    env["PYTHONPATH"] = str(ROOT)
    script = ("import os, pathlib, runpy, sys; lines = pathlib.Path(sys.argv[1]).read_text().splitlines(); "
              "assert lines == [os.environ['MPPROGRESS_ADDRESS'], os.environ['MPPROGRESS_SERVER_KEY']], lines; "
              "sys.argv = ['w', 'ran', '--items', '20']; runpy.run_module('tests.integration.relay_worker', "
              "run_name='__main__')")
    done = subprocess.run([sys.executable, "-m", "mpprogress", "run", "--no-display", "--bind", "tcp://127.0.0.1:0",
                           "--announce", str(board), "--", sys.executable, "-c", script, str(board)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "done" in done.stdout and "warning" not in done.stderr, done.stderr
