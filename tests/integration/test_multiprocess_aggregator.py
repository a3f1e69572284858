"""The aggregator driven frame by frame over a real socket: resends, stale state, silent clients.

Its protocol clock is a fake one: liveness is decided by moving it, never by sleeping.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import msgpack
import pytest
import zmq

import mpprogress
from mpprogress._base.events import Worker
from mpprogress._core.phases import BaseProgressOperation
from mpprogress._core.tracker import BaseProgressTracker
from mpprogress._remote import wire
from mpprogress._remote.aggregator import Aggregator, AggregatorConfig
from mpprogress._remote.transport import host_identity
from mpprogress.testing import FakeClock, RecordingCallback
from tests.integration.conftest import wait_for


class RawClient:
    """A hand-driven DEALER speaking the wire, to send exactly the frames a test needs."""

    def __init__(self, address: str) -> None:
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(address)

    def send(self, *messages: wire.Message) -> None:
        for message in messages:
            self.sock.send(wire.encode(message))

    def receive(self, timeout: float = 5.0) -> wire.Message:
        assert self.sock.poll(int(timeout * 1000)), "no reply"
        return wire.decode(self.sock.recv())

    def wait_acked(self, *seqs: int) -> None:
        """Receive until every seq in ``seqs`` was acknowledged (nothing else may come)."""
        acked: set[int] = set()
        while not acked >= set(seqs):
            reply = self.receive()
            assert isinstance(reply, wire.Ack), reply
            acked.update(reply.acked)

    def close(self) -> None:
        self.sock.close()


Setup = tuple[BaseProgressTracker, RecordingCallback, Aggregator, RawClient]


@pytest.fixture
def clock() -> FakeClock:
    """The aggregator's protocol clock (liveness, silence, resync rate); frozen until advanced."""
    return FakeClock()


@pytest.fixture
def setup(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Setup]:
    """A tracker with operation "op", its aggregator, and a raw client; an indirect parameter
    is the aggregator's config (the default otherwise)."""
    tracker = BaseProgressTracker(max_update_rate=None)
    events = RecordingCallback()
    tracker.add_callback(events)
    tracker.start_operation("op", "parent operation")
    config = getattr(request, "param", None)
    with Aggregator(tracker, config=config, get_time=clock) as aggregator:
        client = RawClient(aggregator.address)
        yield tracker, events, aggregator, client
        client.close()


def test_resent_starts_and_finishes_apply_once_and_are_acked(setup: Setup) -> None:
    tracker, events, aggregator, client = setup
    hello = wire.Hello(1, "client-a", 1, "elsewhere")
    start = wire.PhaseStart(2, 7, "p7", "op", None, "resent", None, 10)
    finish = wire.PhaseFinish(5, 7, 10, 10, "done", True, None)
    client.send(hello, start, start, wire.State(3, (wire.PhaseState(7, 4, 10, "four"),)),
                wire.State(4, (wire.PhaseState(7, 9, 10, "nine"),)),
                wire.State(3, (wire.PhaseState(7, 2, 10, "stale"),)), finish, finish)
    acked = set()
    while len(acked) < 3:
        reply = client.receive()
        assert isinstance(reply, wire.Ack)
        acked.update(reply.acked)
    assert acked == {1, 2, 5}
    assert wait_for(lambda: events.of_type("phase_finished"))
    assert [e.type for e in events.events if e.data.get("phase_id") == "p7"] == [
        "phase_started", "progress_update", "progress_update", "progress_update", "phase_finished",
    ]
    assert [e.data["current"] for e in events.of_type("progress_update")] == [4, 9, 10]
    stats = aggregator.stats()
    assert stats.dropped == {"stale": 1}
    assert tracker.get_phase("p7").current == 10  # type: ignore[union-attr]


def test_a_phase_start_after_the_first_is_acknowledged_with_the_next_acknowledgement(setup: Setup) -> None:
    """Only a client's first phase start is waited for (its introduction): a later one is held
    for its finish, one ACK frame for both; one with no finish to ride on goes on its own,
    well before the client's 0.5 s resend."""
    _, _, _, client = setup
    client.send(wire.Hello(1, "client-l", 1, "elsewhere"), wire.PhaseStart(2, 1, "l1", "op", None, "first", None, 5))
    client.wait_acked(1, 2)  # the introduction: at once
    client.send(wire.PhaseFinish(3, 1, 5, 5, None, True, None))
    assert client.receive() == wire.Ack(0, (3,))
    client.send(wire.PhaseStart(4, 2, "l2", "op", None, "second", None, 5))
    assert not client.sock.poll(30), "a later phase start is not acknowledged on its own at once"
    client.send(wire.PhaseFinish(5, 2, 5, 5, None, True, None))
    assert client.receive() == wire.Ack(0, (4, 5))  # one frame for the start and the finish
    client.send(wire.PhaseStart(6, 3, "l3", "op", None, "long", None, 5))
    started = time.monotonic()
    assert client.receive() == wire.Ack(0, (6,))  # held, then sent alone
    assert time.monotonic() - started >= 0.05


@pytest.mark.parametrize(
    "setup", [AggregatorConfig(stall_timeout=0.2, lost_timeout=0.5, liveness_interval=0.05)], indirect=True
)
def test_silent_remote_client_is_lost(setup: Setup, clock: FakeClock) -> None:
    tracker, events, aggregator, client = setup
    client.send(wire.Hello(1, "client-b", 1, "elsewhere"), wire.PhaseStart(2, 1, "p1", "op", None, "quiet", None, 5),
                wire.State(3, (wire.PhaseState(1, 3, 5, None),)))
    assert wait_for(lambda: getattr(tracker.get_phase("p1"), "current", 0) == 3)
    clock.advance(0.6)  # the rule itself (silence past lost_timeout) is tested in test_registry.py
    assert wait_for(lambda: events.of_type("phase_finished"))
    done = events.of_type("phase_finished")[0].data
    assert (done["success"], done["reason"], done["current"]) == (False, "lost", 3)
    assert aggregator.stats().lost == 1


def test_unknown_sender_is_asked_to_resync(setup: Setup) -> None:
    _, _, aggregator, client = setup
    client.send(wire.State(9, (wire.PhaseState(1, 3, 5, None),)))
    assert isinstance(client.receive(), wire.Resync)
    assert aggregator.stats().dropped == {"unknown_client": 1}


def test_cancel_reaches_the_client_of_the_phase(setup: Setup) -> None:
    tracker, _, _, client = setup
    client.send(wire.Hello(1, "client-c", 1, "elsewhere"))
    client.send(wire.PhaseStart(2, 4, "p4", "op", None, "cancel me", None, 5))
    assert wait_for(lambda: tracker.get_phase("p4") is not None)
    tracker.get_phase("p4").cancel()  # type: ignore[union-attr]
    acked: set[int] = set()
    while (reply := client.receive()) != wire.Cancel(0, "op", 4):
        assert isinstance(reply, wire.Ack)
        acked.update(reply.acked)
    assert acked == {1, 2}  # the hello and the start, in one acknowledgement or two


@pytest.mark.parametrize("setup", [AggregatorConfig(max_phases_per_client=2)], indirect=True)
def test_a_client_cannot_open_unbounded_phases(setup: Setup) -> None:
    tracker, _, aggregator, client = setup
    client.send(wire.Hello(1, "client-d", 1, "elsewhere"))
    client.send(*(wire.PhaseStart(2 + n, n, f"many-{n}", "op", None, "many", None, 1) for n in range(5)))
    assert wait_for(lambda: aggregator.stats().dropped.get("too_many_phases") == 3)
    assert [tracker.get_phase(f"many-{n}") is not None for n in range(5)] == [True, True, False, False, False]


@pytest.mark.parametrize("setup", [AggregatorConfig(max_operations_per_client=2)], indirect=True)
def test_a_client_cannot_open_unbounded_operations(setup: Setup) -> None:
    tracker, _, aggregator, client = setup
    client.send(wire.Hello(1, "client-ops", 1, "elsewhere"))
    client.send(*(wire.OperationStart(2 + n, f"own-{n}", "own", None) for n in range(4)))
    client.wait_acked(*range(1, 6))  # acknowledged all the same: a resend would be dropped alike
    assert wait_for(lambda: aggregator.stats().dropped.get("too_many_operations") == 2)
    assert [tracker.get_operation(f"own-{n}") is not None for n in range(4)] == [True, True, False, False]
    client.send(wire.PhaseStart(6, 1, "in-dropped", "own-3", None, "p", None, 1),  # its phases are dropped too
                wire.OperationFinish(7, "own-0", True), wire.OperationStart(8, "own-4", "own", None))
    client.wait_acked(6, 7, 8)
    assert wait_for(lambda: tracker.get_operation("own-4") is not None)  # a finished one makes room
    assert aggregator.stats().dropped == {"too_many_operations": 2, "unknown_operation": 1}


def test_every_reliable_message_of_a_burst_is_acknowledged_once(setup: Setup) -> None:
    tracker, _, _, client = setup
    client.send(wire.Hello(1, "client-burst", 1, "elsewhere"))
    client.send(*(wire.PhaseStart(2 + n, n, f"burst-{n}", "op", None, "burst", None, 1) for n in range(150)))
    acked: list[int] = []
    while len(acked) < 151:
        reply = client.receive()
        assert isinstance(reply, wire.Ack)
        assert 1 <= len(reply.acked) <= wire.MAX_BATCH  # batched per receive pass, split to fit a frame
        acked.extend(reply.acked)
    assert sorted(acked) == list(range(1, 152))
    assert all(tracker.get_phase(f"burst-{n}") is not None for n in range(150))


@pytest.mark.parametrize("setup", [AggregatorConfig(lost_timeout=60.0, liveness_interval=0.05)], indirect=True)
def test_only_a_client_of_this_host_and_pid_namespace_is_judged_by_its_pid(setup: Setup, clock: FakeClock) -> None:
    tracker, events, aggregator, client = setup
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid now names no process here
    namesake = RawClient(aggregator.address)
    try:
        # Same bare hostname, but another machine or container: its pid means nothing here.
        namesake.send(wire.Hello(1, "namesake", gone.pid, socket.gethostname()),
                      wire.PhaseStart(2, 1, "far", "op", None, "far", None, 5))
        client.send(wire.Hello(1, "this-host", gone.pid, host_identity()),
                    wire.PhaseStart(2, 1, "near", "op", None, "near", None, 5))
        namesake.wait_acked(1, 2)
        client.wait_acked(1, 2)
        for _ in range(3):  # both known: each move of the clock is one more liveness check of both
            clock.advance(0.25)  # past the 0.2 s after which a silent client's pid is looked at
            assert wait_for(lambda: [e.data["phase_id"] for e in events.of_type("phase_finished")] == ["near"])
        assert events.of_type("phase_finished")[0].data["reason"] == "lost"
        assert not tracker.get_phase("far").finished  # type: ignore[union-attr]
    finally:
        namesake.close()


def test_host_identity_names_this_boot_and_pid_namespace() -> None:
    identity = host_identity()
    if sys.platform == "linux":
        with open("/proc/sys/kernel/random/boot_id") as boot:
            assert identity == f"{boot.read().strip()} {os.readlink('/proc/self/ns/pid')}"
    else:
        assert identity == socket.gethostname()[:wire.MAX_ID]
    assert host_identity() == identity


def test_a_slow_sink_does_not_hold_back_other_clients_acknowledgements(setup: Setup) -> None:
    tracker, _, aggregator, busy = setup
    tracker.add_callback(lambda **_: time.sleep(0.001))  # e.g. a journal writing every event
    busy.send(wire.Hello(1, "busy", 1, "elsewhere"), wire.PhaseStart(2, 1, "b", "op", None, "b", None, 10**9))
    assert isinstance(busy.receive(), wire.Ack)
    legit = RawClient(aggregator.address)
    try:
        legit.send(wire.Hello(1, "legit", 1, "elsewhere"))
        assert isinstance(legit.receive(), wire.Ack)
        busy.send(*(wire.State(3 + n, (wire.PhaseState(1, n + 1, 10**9, None),)) for n in range(2000)))
        assert wait_for(lambda: tracker.get_phase("b").current > 0)  # type: ignore[union-attr]
        legit.send(wire.PhaseStart(2, 1, "l", "op", None, "l", None, 5))
        assert legit.receive(timeout=30.0) == wire.Ack(0, (2,))
        # Acknowledged while the busy client's 2000 frames (2 s of sink work) were still being applied.
        assert tracker.get_phase("b").current < 1000  # type: ignore[union-attr]
    finally:
        legit.close()


def report_two_phases(address: str, items: int) -> None:
    """A legitimate client: operation "op-legit" with phases "first" and "second" of ``items`` each."""
    with mpprogress.connect(address) as client, client.operation("op-legit", "legit") as op:
        for name in ("first", "second"):
            with op.phase(name, total=items) as phase:
                for _ in range(items):
                    phase.update(1)


def test_a_hello_with_an_impossible_pid_cannot_stop_the_aggregator() -> None:
    """A fault report: a Hello with pid >= 2**31 and this host's identity made ``os.kill`` raise
    ``OverflowError`` in the liveness check, which ended the aggregator's thread silently."""
    tracker = BaseProgressTracker(max_update_rate=None)
    events = RecordingCallback()
    tracker.add_callback(events)
    with Aggregator(tracker, config=AggregatorConfig(liveness_interval=0.01)) as aggregator:
        hostile = RawClient(aggregator.address)
        try:
            hostile.sock.send(msgpack.packb([wire.VERSION, wire.Hello.KIND, 1, "hostile", 2**31, host_identity()]))
            assert wait_for(lambda: aggregator.stats().dropped.get("schema") == 1)
            report_two_phases(aggregator.address, 1000)
        finally:
            hostile.close()
        assert wait_for(lambda: len(events.of_type("operation_finished")) == 1)
    done = [(e.data["title"], e.data["current"], e.data["success"]) for e in events.of_type("phase_finished")]
    assert done == [("first", 1000, True), ("second", 1000, True)]
    assert aggregator.stats().dropped == {"schema": 1}


class BrittleTracker(BaseProgressTracker):
    """A tracker with a bug: starting an operation whose id begins with "brittle" raises."""

    def start_operation(
        self, operation_id: str, title: str, description: str | None = None, *, worker: Worker | None = None
    ) -> BaseProgressOperation:
        if operation_id.startswith("brittle"):
            raise RuntimeError("a bug the aggregator did not foresee")
        return super().start_operation(operation_id, title, description, worker=worker)


def test_handler_and_liveness_errors_are_contained_counted_and_logged_once(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    def process_alive(pid: int, started: int | None) -> bool:
        if pid == 4242:
            raise RuntimeError("a liveness check that fails")
        return True

    tracker = BrittleTracker(max_update_rate=None)
    events = RecordingCallback()
    tracker.add_callback(events)
    config = AggregatorConfig(liveness_interval=0.01)
    with caplog.at_level(logging.ERROR, logger="mpprogress.remote"), Aggregator(
        tracker, config=config, get_time=clock, process_alive=process_alive
    ) as aggregator:
        raw = RawClient(aggregator.address)
        try:
            raw.send(wire.Hello(1, "raw", 4242, host_identity()), wire.OperationStart(2, "brittle-1", "x", None),
                     wire.OperationStart(3, "brittle-2", "y", None))
            raw.wait_acked(1, 2, 3)  # acknowledged all the same: a resend would fail alike
            for checks in (1, 2, 3):
                clock.advance(1.0)
                assert wait_for(lambda: aggregator.stats().dropped.get("liveness_error", 0) >= checks)  # noqa: B023
            report_two_phases(aggregator.address, 500)
        finally:
            raw.close()
        assert wait_for(lambda: len(events.of_type("operation_finished")) == 1)
        stats = aggregator.stats()
    done = [(e.data["title"], e.data["current"], e.data["success"]) for e in events.of_type("phase_finished")]
    assert done == [("first", 500, True), ("second", 500, True)]
    assert stats.dropped["handler_error"] == 2 and stats.dropped["liveness_error"] >= 3
    logged = [r.getMessage().rsplit(": ", 1)[-1] for r in caplog.records if r.name == "mpprogress.remote"]
    assert sorted(logged) == ["handler_error (contained; later ones are only counted)",
                              "liveness_error (contained; later ones are only counted)"]
