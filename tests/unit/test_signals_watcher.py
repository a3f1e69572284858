"""``cancel_on_signals``'s watcher: a signal cancels the open operations even while the main
thread is blocked, a wakeup fd set before is passed the signal and put back afterwards."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest

from mpprogress._core.signals import cancel_on_signals
from mpprogress._core.tracker import BaseProgressTracker
from tests.integration.conftest import wait_for


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
    # By identity, not by counts: other tests' threads and fds may come and go meanwhile.
    tracker = BaseProgressTracker()
    fds = set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    with cancel_on_signals(tracker):
        watchers = [thread for thread in threading.enumerate() if thread.name == "mpprogress-signals"]
        assert len(watchers) == 1 and watchers[0].is_alive()
        opened = set(os.listdir("/proc/self/fd")) - fds if fds is not None else set()
    assert not watchers[0].is_alive()
    assert signal.set_wakeup_fd(-1) == -1
    if fds is not None:
        assert len(opened) >= 2  # the watcher's pipe was seen
        assert not opened & set(os.listdir("/proc/self/fd")), "the watcher's pipe is still open"


def test_a_signal_while_the_main_thread_holds_a_callbacks_lock_cancels_without_deadlock(
    quiet_sigterm: object,
) -> None:
    tracker = BaseProgressTracker()
    op = tracker.start_operation("op", "op")
    lock = threading.Lock()  # a callback's own plain lock, as ``RecordingCallback`` has
    cancelled = threading.Event()

    def callback(*, event_type: str, **data: object) -> None:
        with lock:
            if event_type == "cancel_requested":
                cancelled.set()

    tracker.add_callback(callback)
    with cancel_on_signals(tracker):
        with lock:  # the main thread reading what the callback recorded when the signal comes
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.3)  # the Python handler runs in here, with the lock held
            assert not cancelled.is_set()
        assert cancelled.wait(10)  # the watcher's thread delivered it once the lock was free
    assert op.cancelled


def test_a_signal_still_cancels_after_code_inside_replaced_the_wakeup_fd(quiet_sigterm: object) -> None:
    """An asyncio loop with signal handlers sets its own wakeup fd, and none once it closes."""
    tracker = BaseProgressTracker()
    op = tracker.start_operation("op", "op")
    with cancel_on_signals(tracker):
        signal.set_wakeup_fd(-1)  # the watcher's pipe no longer hears of signals by itself
        os.kill(os.getpid(), signal.SIGTERM)
        assert wait_for(lambda: op.cancelled)
