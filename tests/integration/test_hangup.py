"""SIGHUP (a closed terminal, a dropped SSH connection) is handled as SIGTERM: by a relay (its
status line, its private directory removed, exit 0) and by a session whose terminal really
hangs up (its private directory removed, exit 129)."""

from __future__ import annotations

import os
import pty
import select
import signal
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


def _read_lines(fd: int, count: int, timeout: float) -> list[str]:
    data = b""
    deadline = time.monotonic() + timeout
    while data.count(b"\n") < count and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                data += os.read(fd, 4096)
            except OSError:
                break
    return data.decode(errors="replace").splitlines()


@pytest.mark.processes
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_a_session_whose_terminal_hangs_up_cleans_up(method: str, tmp_path: Path) -> None:
    """The terminal (a pty, the session's controlling terminal) is closed: the kernel sends SIGHUP
    to the session and its foreground process group, its workers included."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
    env["PYTHONPATH"] = str(ROOT)
    script = str(Path(__file__).with_name("signal_parent.py"))
    pid, master = pty.fork()
    if pid == 0:  # the child: a new session whose controlling terminal is the pty
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, script, method, str(tmp_path)], env)
    try:
        lines = _read_lines(master, 2, 60)
        address = next(line.split()[1] for line in lines if line.startswith("address "))
        assert any(line.strip() == "ready" for line in lines), lines
        os.close(master)  # the terminal is gone
        master = -1
        deadline = time.monotonic() + 45
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert done[0] == pid, "the hung-up session did not exit"
        assert os.waitstatus_to_exitcode(done[1]) == EXIT_HUNG_UP
        assert not Path(address[len("ipc://") :]).parent.exists()
    finally:
        if master >= 0:
            os.close(master)
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
