"""``StopSignals``: what the relay and the journal dashboard wait on until SIGINT or SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from mpprogress._core.stopping import StopSignals

ROOT = Path(__file__).resolve().parents[2]

# Signals landing at random points of a tight wait loop, one fresh process per trial so that a
# deadlock shows as a trial that never ends (``threading.Event.set()`` in the handler: 36 of 60
# such trials hung).
_RACE = """
import os, random, signal, sys, threading
from mpprogress._core.stopping import StopSignals

trials = int(sys.argv[1])
for _ in range(trials):
    pid = os.fork()
    if pid == 0:
        signal.alarm(20)  # a deadlocked trial dies (SIGALRM's default) instead of lingering
        with StopSignals() as stop:
            delay = random.uniform(0.0, 0.01)
            threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT)).start()
            while not stop.wait(0):
                pass
        os._exit(0 if stop.received == signal.SIGINT else 3)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
print("stopped", trials)
"""


def test_a_stop_signal_ends_the_wait_and_the_handlers_are_put_back() -> None:
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    with StopSignals() as stop:
        assert stop.wait(0) is False and stop.received is None
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(60) is True
        os.kill(os.getpid(), signal.SIGINT)  # a second signal neither raises nor replaces the first
        assert stop.wait(0) is True
    assert stop.received == signal.SIGTERM
    assert {signum: signal.getsignal(signum) for signum in before} == before


def test_signals_racing_the_wait_loop_never_deadlock() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _RACE, "200"], cwd=ROOT, capture_output=True, text=True, timeout=90,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["stopped", "200"]


def test_sighup_stops_the_wait_unless_it_was_ignored_on_purpose() -> None:
    before = signal.getsignal(signal.SIGHUP)
    try:
        with StopSignals() as stop:
            os.kill(os.getpid(), signal.SIGHUP)
            assert stop.wait(60) is True and stop.received == signal.SIGHUP
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
        with StopSignals() as stop:
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)
            assert stop.wait(0.2) is False and stop.received is None
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)
