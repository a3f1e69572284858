"""``cancel_on_signals``'s watcher: a signal cancels the open operations even while the main
thread is blocked, a wakeup fd set before is passed the signal and put back afterwards."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest

from mpprogress.signals import cancel_on_signals
from mpprogress.tracker import BaseProgressTracker


def ignore(signum: int, frame: object) -> None:
    """A Python-level handler that does nothing: the test process must not be interrupted."""


@pytest.fixture
def quiet_sigterm() -> object:
    before = signal.signal(signal.SIGTERM, ignore)
    yield
    signal.signal(signal.SIGTERM, before)


def test_a_signal_on_another_thread_cancels_while_the_main_thread_waits(quiet_sigterm: object) -> None:
    tracker = BaseProgressTracker()
    op = tracker.start_operation("op", "op")
    cancelled = threading.Event()
    tracker.add_callback(lambda *, event_type, **_: cancelled.set() if event_type == "cancel_requested" else None)
    mine, theirs = socket.socketpair()  # as asyncio sets one up
    mine.setblocking(False)
    before = signal.set_wakeup_fd(mine.fileno())
    try:
        with cancel_on_signals(tracker):

            def other() -> None:
                time.sleep(0.3)  # the main thread is waiting by now
                signal.pthread_kill(threading.get_ident(), signal.SIGTERM)  # lands here, not on main

            threading.Thread(target=other).start()
            # Blocked in a lock, the main thread cannot run the Python handler: only the
            # watcher can cancel, and its event wakes the main thread.
            assert cancelled.wait(10)
            assert op.cancelled
        theirs.settimeout(5)
        assert theirs.recv(16) == bytes([signal.SIGTERM])  # the previous wakeup fd still heard of it
        assert signal.set_wakeup_fd(mine.fileno()) == mine.fileno()  # and it is back in place
    finally:
        signal.set_wakeup_fd(before)
        mine.close()
        theirs.close()


def test_the_watcher_leaves_no_thread_and_no_fd_behind(quiet_sigterm: object) -> None:
    tracker = BaseProgressTracker()
    fds = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    threads = threading.active_count()
    with cancel_on_signals(tracker):
        assert threading.active_count() == threads + 1
    assert threading.active_count() == threads
    assert signal.set_wakeup_fd(-1) == -1
    if fds is not None:
        assert len(os.listdir("/proc/self/fd")) == fds
