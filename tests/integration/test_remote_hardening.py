"""Hardening of the remote side from a fault and hostile-input trial (issue 12) and a new
user's trial (issue 13): each test reproduces a finding first.

Real sockets; hostile peers are raw ZeroMQ sockets in the test.  Waits poll with a generous
deadline (an upper bound, never a timing assertion).
"""

from __future__ import annotations

import io
import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

import mpprogress
from mpprogress.remote import wire
from mpprogress.remote.aggregator import Aggregator, AggregatorStopped
from mpprogress.remote.relay import EXIT_FAILED, RelayConfig, serve
from mpprogress.remote.transport import MAX_RECEIVE
from mpprogress.testing import RecordingCallback
from mpprogress.tracker import BaseProgressTracker
from tests.integration.conftest import wait_for
from tests.integration.test_multiprocess_aggregator import RawClient


class SinkThatExits:
    """A sink that calls ``sys.exit()`` in the thread delivering the first phase start: a
    ``SystemExit`` is no ``Exception``, so neither the dispatcher nor the aggregator's handler
    guards contain it, and it ends the aggregator's thread.  Once only."""

    def __init__(self) -> None:
        self.exited = False

    def __call__(self, *, event_type: str, **data: Any) -> None:
        if event_type == "phase_started" and not self.exited:
            self.exited = True
            raise SystemExit(3)

    def close(self) -> None:
        pass


def start_one_phase(address: str) -> None:
    """A client that starts one phase and finishes it (its delivery wait is bounded)."""
    with mpprogress.connect(address) as client, client.operation("op-exit", "exit") as op:
        with op.phase("doomed", total=1) as phase:
            phase.update(1)


# --- 1. an aggregator whose thread dies says so ----------------------------------------------


def test_an_aggregator_whose_thread_dies_says_so(caplog: pytest.LogCaptureFixture) -> None:
    tracker = BaseProgressTracker(max_update_rate=None)
    tracker.add_callback(SinkThatExits())
    with caplog.at_level(logging.ERROR, logger="mpprogress.remote"), Aggregator(tracker) as aggregator:
        assert aggregator.failure is None
        aggregator.check()  # healthy: nothing raised
        client = threading.Thread(target=start_one_phase, args=(aggregator.address,), daemon=True)
        client.start()
        assert wait_for(lambda: aggregator.failure is not None)
        assert isinstance(aggregator.failure, SystemExit)
        with pytest.raises(AggregatorStopped, match="stopped"):
            aggregator.check()
    client.join(30)
    assert any("stopped" in r.getMessage() and r.levelno >= logging.ERROR for r in caplog.records)


def test_a_relay_whose_aggregator_dies_exits_non_zero_with_an_error(tmp_path: Path) -> None:
    address = f"ipc://{tmp_path}/relay.sock"
    err = io.StringIO()
    client = threading.Thread(target=lambda: wait_for(lambda: os.path.exists(address[6:])) and start_one_phase(address),
                              daemon=True)
    # A safety net: if the relay does not notice, SIGINT stops it after 30 s (and the test fails).
    guard = threading.Timer(30.0, os.kill, (os.getpid(), signal.SIGINT))
    client.start()
    guard.start()
    try:
        status = serve(RelayConfig(bind=address, stderr=err), lambda tracker: _subscribe(tracker, SinkThatExits()))
    finally:
        guard.cancel()
    client.join(30)
    assert status == EXIT_FAILED != 0
    lines = err.getvalue().splitlines()
    assert any(line.startswith("mpprogress relay: error: the aggregator stopped") for line in lines), lines
    assert any("frames applied=" in line for line in lines)  # the status line is still printed


def _subscribe(tracker: BaseProgressTracker, sink: Any) -> Any:
    tracker.add_callback(sink)
    return sink


def test_recording_callback_still_sees_events_of_a_healthy_aggregator() -> None:
    """The failure state stays ``None`` through a normal run and a normal close."""
    tracker = BaseProgressTracker(max_update_rate=None)
    events = RecordingCallback()
    tracker.add_callback(events)
    with Aggregator(tracker) as aggregator:
        start_one_phase(aggregator.address)
        assert wait_for(lambda: events.of_type("operation_finished"))
    assert aggregator.failure is None
    aggregator.check()


# --- 2. oversize frames are counted ----------------------------------------------------------


def test_oversize_frames_are_dropped_and_counted_and_the_sender_stays_connected() -> None:
    with Aggregator(BaseProgressTracker(max_update_rate=None)) as aggregator:
        hostile = RawClient(aggregator.address)
        try:
            for size in (wire.MAX_FRAME + 1, 4 * wire.MAX_FRAME, 64 * wire.MAX_FRAME, MAX_RECEIVE):
                hostile.sock.send(os.urandom(size))
            hostile.send(wire.Heartbeat(1))  # read after every oversize frame, on the same connection
            assert isinstance(hostile.receive(), wire.Resync)
        finally:
            hostile.close()
        assert aggregator.stats().dropped == {"oversize": 4, "unknown_client": 1}


def test_a_frame_over_the_receive_limit_cuts_only_its_own_connection() -> None:
    tracker = BaseProgressTracker(max_update_rate=None)
    events = RecordingCallback()
    tracker.add_callback(events)
    with Aggregator(tracker) as aggregator:
        hostile = RawClient(aggregator.address)
        try:
            hostile.sock.send(os.urandom(MAX_RECEIVE + 1))
            start_one_phase(aggregator.address)
        finally:
            hostile.close()
        assert wait_for(lambda: events.of_type("operation_finished"))
    assert [(e.data["current"], e.data["success"]) for e in events.of_type("phase_finished")] == [(1, True)]
