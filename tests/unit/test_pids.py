"""Whether a pid still names the process we mean: alive, not a zombie, not a later process."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from mpprogress._remote.pids import process_alive, process_start


def test_a_live_process_is_alive_and_a_later_one_under_its_pid_is_not() -> None:
    started = process_start(os.getpid())
    assert started is not None and started > 0
    assert process_alive(os.getpid()) and process_alive(os.getpid(), started)
    assert not process_alive(os.getpid(), started + 1)  # same pid, another start: another process


def test_a_zombie_is_not_alive() -> None:
    child = os.fork()
    if child == 0:
        os._exit(0)
    try:
        deadline = time.monotonic() + 10
        while process_alive(child) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not process_alive(child)
        os.kill(child, 0)  # it still exists, unreaped: kill(pid, 0) alone would call it alive
    finally:
        os.waitpid(child, 0)


def test_gone_and_impossible_pids_are_not_alive_and_never_raise() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert not process_alive(gone.pid) and process_start(gone.pid) is None
    for impossible in (2**31, 2**63, -(2**40)):
        assert not process_alive(impossible) and process_start(impossible) is None
