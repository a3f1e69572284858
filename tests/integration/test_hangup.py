"""SIGHUP (a closed terminal, a dropped SSH connection) is handled as SIGTERM: by a relay (its
status line, its private directory removed, exit 0) and by a session whose terminal really
hangs up (its private directory removed, exit 129)."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mpprogress._core.signals import EXIT_HUNG_UP
from tests.integration.test_relay import Relay, _run_worker

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.processes
def test_a_relay_stops_on_sighup_with_its_status_line_and_removes_its_directory() -> None:
    relay = Relay("--format", "json")
    try:
        address = relay.wait_listening()
        directory = Path(address[len("ipc://") :]).parent
        _run_worker(address, "hung", "--items", "20")
        assert relay.stop(signal.SIGHUP) == 0  # without a handler: -1, no status line
        frames, dropped, _ = relay.status()
        assert frames > 0 and dropped == 0
        assert not directory.exists()
    finally:
        relay.kill()


def _drain_until(fd: int, done: Path, timeout: float) -> bool:
    """Read the terminal's output (the live display) until ``done`` exists."""
    deadline = time.monotonic() + timeout
    while not done.exists() and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                os.read(fd, 65536)
            except OSError:
                return False
    return done.exists()


@pytest.mark.processes
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_a_session_whose_terminal_hangs_up_cancels_its_workers_and_cleans_up(method: str, tmp_path: Path) -> None:
    """The session's controlling terminal (a pty, with the live display on it) is closed: the
    kernel sends SIGHUP to the session; writing to the terminal fails from then on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
    env["PYTHONPATH"] = str(ROOT)
    script = str(Path(__file__).with_name("hangup_parent.py"))
    pid, master = pty.fork()
    if pid == 0:  # the child: a new session whose controlling terminal is the pty
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, script, str(tmp_path), method], env)
    try:
        assert _drain_until(master, tmp_path / "ready", 60), "the session did not start its workers"
        address = (tmp_path / "address").read_text()
        os.close(master)  # the terminal is gone
        master = -1
        deadline = time.monotonic() + 45
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert done[0] == pid, "the hung-up session did not exit"
        assert os.waitstatus_to_exitcode(done[1]) == EXIT_HUNG_UP
        assert not Path(address[len("ipc://") :]).parent.exists()
        assert [(tmp_path / f"worker-{index}").read_text() for index in range(2)] == ["cancelled", "cancelled"]
    finally:
        if master >= 0:
            os.close(master)
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


@pytest.mark.processes
def test_under_nohup_a_relay_and_a_session_outlive_sighup(tmp_path: Path) -> None:
    """``nohup`` ignores SIGHUP before the program starts: it stays ignored."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
    env["PYTHONPATH"] = str(ROOT)
    relay = subprocess.Popen(["nohup", sys.executable, "-m", "mpprogress", "relay", "--format", "json"], cwd=tmp_path,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    session = subprocess.Popen(["nohup", sys.executable, str(Path(__file__).with_name("signal_parent.py")), "fork",
                                str(tmp_path)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        assert session.stdout is not None and relay.stderr is not None
        address = session.stdout.readline().split()[1]
        assert session.stdout.readline().strip() == "ready"
        assert "listening on" in relay.stderr.readline()
        relay.send_signal(signal.SIGHUP)
        session.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert relay.poll() is None and session.poll() is None
        assert not Path(tmp_path, "worker-0").exists()  # the workers were not cancelled
        relay.send_signal(signal.SIGTERM)
        session.send_signal(signal.SIGTERM)
        assert relay.wait(30) == 0 and session.wait(45) == 143
        assert not Path(address[len("ipc://"):]).parent.exists()
    finally:
        for proc in (relay, session):
            proc.kill()
            proc.wait()
