"""Workers whose session parent was killed with SIGKILL: they end promptly (fork, spawn, forkserver).

A worker of a session whose process is gone cancels its operations once the receiver has shown
no life for ``ClientConfig.orphan_grace``; a worker of a relay never does.

Under ``fork`` a worker inherits the dead parent's listening ipc socket, so connecting to it
still succeeds although nobody will ever answer: only a completed handshake or a frame from
the receiver counts as life (``remote.reachability``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mpprogress._remote.client import ClientConfig, ClientTracker
from mpprogress._remote.settings import ADDRESS_ENV, SESSION_PID_ENV, export_settings
from mpprogress._remote.transport import host_identity
from tests.integration.conftest import START_METHODS, wait_for
from tests.integration.test_multiprocess_faults import _alive

pytestmark = pytest.mark.processes

ROOT = Path(__file__).resolve().parents[2]


def _orphan(method: str, directory: Path, mode: str) -> int:
    """Start a session parent, wait for its worker to be inside its phase, SIGKILL the parent;
    return the worker's pid."""
    parent = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.orphan_parent", method, str(directory), mode],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        assert wait_for(lambda: (directory / "in-phase").exists() or parent.poll() is not None, timeout=60)
        assert parent.poll() is None, parent.stderr.read() if parent.stderr else ""
    finally:
        parent.kill()
        parent.wait(10)
        if parent.stderr is not None:
            parent.stderr.close()
    return int((directory / "in-phase").read_text())


@pytest.mark.parametrize("method", START_METHODS)
def test_worker_of_a_killed_parent_finishes_its_phase_promptly(method: str, tmp_path: Path) -> None:
    worker = _orphan(method, tmp_path, "loop")
    try:
        assert wait_for(lambda: (tmp_path / "phase-exited").exists(), timeout=60)
        loop_ended = float((tmp_path / "loop-ended").read_text().split()[0])
        phase_exited = float((tmp_path / "phase-exited").read_text())
        # The phase's exit gives up within the delivery timeout (2 s) of the receiver's last
        # sign of life, not after the delivery cap (30 s).
        assert phase_exited - loop_ended < 15.0  # ~2 s; slack for a loaded machine
        assert wait_for(lambda: not _alive(worker), timeout=10)
    finally:
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)


@pytest.mark.parametrize("method", START_METHODS)
def test_worker_of_a_killed_parent_is_cancelled(method: str, tmp_path: Path) -> None:
    worker = _orphan(method, tmp_path, "until-cancelled")
    killed_at = time.monotonic()
    try:
        # orphan_grace (10 s) without a sign of life, then the session's pid is found gone.
        assert wait_for(lambda: (tmp_path / "phase-exited").exists(), timeout=60)
        ended_at, cancelled = (tmp_path / "loop-ended").read_text().split()
        assert cancelled == "True"
        assert float(ended_at) - killed_at < 40.0  # far below the loop's own 120 s
        assert wait_for(lambda: not _alive(worker), timeout=10)
    finally:
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)


def _gone_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(30)
    return proc.pid


def _client_under(address: str, settings: dict[str, str | None]) -> ClientTracker:
    """A client made while ``settings`` are exported, as a session's worker would be."""
    restore = export_settings(settings)
    try:
        return ClientTracker(address, config=ClientConfig(orphan_grace=0.3, delivery_timeout=0.2))
    finally:
        restore()


@pytest.mark.parametrize("exported", ["session", "none", "other address", "other host"])
def test_only_a_worker_of_a_gone_session_on_this_host_cancels(exported: str) -> None:
    address = "tcp://127.0.0.1:9"  # nobody listens: the receiver never shows life
    pid = _gone_pid()
    settings: dict[str, str | None] = {
        ADDRESS_ENV: "tcp://127.0.0.1:7" if exported == "other address" else address,
        SESSION_PID_ENV: {
            "session": f"{pid} {host_identity()}", "none": None, "other address": f"{pid} {host_identity()}",
            "other host": f"{pid} elsewhere",
        }[exported],
    }
    client = _client_under(address, settings)
    try:
        op = client.get_operation("parent-op")
        phase = op.start_phase("p", "p", total=10)
        if exported == "session":
            assert wait_for(lambda: phase.cancelled, timeout=15)
            assert op.cancelled
        else:
            time.sleep(1.5)  # five graces: a relay's worker, or another session's, keeps going
            assert not phase.cancelled
        op.finish_phase("p")
    finally:
        client.close()


def test_a_worker_whose_session_is_an_unreaped_zombie_cancels() -> None:
    # The session's process died but its own parent has not reaped it yet: kill(pid, 0) still
    # succeeds on a zombie, which must count as gone.
    address = "tcp://127.0.0.1:9"  # nobody listens: the receiver never shows life
    session = os.fork()
    if session == 0:  # the "session": alive while the client records it, then gone
        time.sleep(1.0)
        os._exit(0)
    client = _client_under(address, {ADDRESS_ENV: address, SESSION_PID_ENV: f"{session} {host_identity()}"})
    try:
        op = client.get_operation("parent-op")
        phase = op.start_phase("p", "p", total=10)
        assert wait_for(lambda: phase.cancelled, timeout=15)
        with open(f"/proc/{session}/stat") as stat:  # it was cancelled while still unreaped
            assert stat.read().rpartition(")")[2].split()[0] == "Z"
        op.finish_phase("p")
    finally:
        client.close()
        os.waitpid(session, 0)
