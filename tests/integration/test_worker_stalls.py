"""A worker that goes silent is stalled (in doubt), not lost, and heals when it is heard again.

A fault report: a worker judged by heartbeats was marked lost after a ~3 s stall (a long
GIL-holding call, SIGSTOP); when it resumed, its resync was rejected as a duplicate phase
(``phase_rejected``, ``unknown_phase``) and the display ended with ``500/800 failed lost`` for
work that finished 800/800.  The aggregator's protocol clock is a fake one here: silence is
made by moving it, never by sleeping (but for the SIGSTOP test, which is about real sockets).
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.synchronize
import os
import signal
import time

import pytest

import mpprogress
from mpprogress._core.tracker import BaseProgressTracker
from mpprogress._remote import wire
from mpprogress._remote.aggregator import Aggregator, AggregatorConfig
from mpprogress._remote.transport import host_identity
from mpprogress.testing import FakeClock, RecordingCallback
from tests.integration.conftest import wait_for
from tests.integration.test_multiprocess_aggregator import RawClient

HELLO = wire.Hello(1, "worker", 1, "elsewhere")  # a worker on another host: judged by silence alone


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def events() -> RecordingCallback:
    return RecordingCallback()


@pytest.fixture
def tracker(events: RecordingCallback) -> BaseProgressTracker:
    tracker = BaseProgressTracker(max_update_rate=None)
    tracker.add_callback(events)
    return tracker


def start_work(client: RawClient, tracker: BaseProgressTracker) -> None:
    """The worker's own operation "op" with phase "p" at 500/800, all applied (so no frame of
    it arrives after the test moves the clock: that would be news from the worker)."""
    client.send(HELLO, wire.OperationStart(2, "op", "work", None),
                wire.PhaseStart(3, 1, "p", "op", None, "p", None, 800),
                wire.State(4, (wire.PhaseState(1, 500, 800, None),)))
    client.wait_acked(1, 2, 3)
    assert wait_for(lambda: getattr(tracker.get_phase("p"), "current", 0) == 500)


def stalled(tracker: BaseProgressTracker) -> bool:
    return tracker.snapshot().operations[0].phases[0].stalled


def outcomes(events: RecordingCallback) -> list[tuple[str, object, object]]:
    return [(e.type, e.data.get("current"), e.data.get("reason")) for e in events.events
            if e.type in ("phase_finished", "operation_finished")]


HEALED = [("phase_finished", 800, None), ("operation_finished", None, None)]  # 800/800, both succeeded


def finish_work(client: RawClient, events: RecordingCallback, seq: int) -> None:
    """The worker finishes "p" at 800/800 and "op", with frames ``seq`` and ``seq + 1``."""
    client.send(wire.PhaseFinish(seq, 1, 800, 800, None, True, None), wire.OperationFinish(seq + 1, "op", True))
    client.wait_acked(seq, seq + 1)
    assert wait_for(lambda: len(outcomes(events)) == 2)


def test_a_silent_worker_is_stalled_not_lost_and_heals_when_it_speaks_again(
    tracker: BaseProgressTracker, events: RecordingCallback, clock: FakeClock
) -> None:
    with Aggregator(tracker, config=AggregatorConfig(liveness_interval=0.01), get_time=clock) as aggregator:
        client = RawClient(aggregator.address)
        try:
            start_work(client, tracker)
            assert not stalled(tracker)
            clock.advance(10.0)  # a 10 s GIL-holding call, or SIGSTOP: no heartbeat
            assert wait_for(lambda: stalled(tracker))
            clock.advance(20.0)
            time.sleep(0.1)  # liveness checks run meanwhile: still in doubt, nothing finished
            assert outcomes(events) == [] and stalled(tracker)
            client.send(wire.State(5, (wire.PhaseState(1, 800, 800, None),)))
            assert wait_for(lambda: not stalled(tracker))
            finish_work(client, events, 6)
        finally:
            client.close()
        stats = aggregator.stats()
    assert outcomes(events) == HEALED
    assert events.of_type("operation_finished")[0].data["success"] is True
    assert (stats.lost, stats.dropped) == (0, {})


def test_a_stalled_worker_that_reconnects_resyncs_onto_its_phases(
    tracker: BaseProgressTracker, events: RecordingCallback, clock: FakeClock
) -> None:
    """ZeroMQ's heartbeats drop a stopped worker's connection after 3 s: it comes back under a
    new routing id, is asked to resync, and resends its hello, operation and phase starts."""
    with Aggregator(tracker, config=AggregatorConfig(liveness_interval=0.01), get_time=clock) as aggregator:
        old = RawClient(aggregator.address)
        start_work(old, tracker)
        clock.advance(10.0)
        assert wait_for(lambda: stalled(tracker))
        old.close()
        client = RawClient(aggregator.address)
        try:
            client.send(wire.State(8, (wire.PhaseState(1, 700, 800, None),)))
            assert isinstance(client.receive(), wire.Resync)
            resync = (wire.Hello(9, "worker", 1, "elsewhere"), wire.OperationStart(10, "op", "work", None),
                      wire.PhaseStart(11, 1, "p", "op", None, "p", None, 800))
            # Until the old connection is seen to be gone, taking its id over is refused (hijack):
            # the real client resends its hello every 0.5 s.
            assert wait_for(lambda: client.send(resync[0]) or _acked(client, 9))
            client.send(*resync[1:], wire.State(12, (wire.PhaseState(1, 800, 800, None),)))
            client.wait_acked(10, 11)
            assert wait_for(lambda: tracker.get_phase("p").current == 800)  # type: ignore[union-attr]
            assert not stalled(tracker)
            finish_work(client, events, 13)
        finally:
            client.close()
        stats = aggregator.stats()
    assert outcomes(events) == HEALED
    assert stats.lost == 0
    assert set(stats.dropped) <= {"unknown_client", "hijack"}  # the first state, and hellos while in doubt


def _acked(client: RawClient, seq: int) -> bool:
    """Whether a reply acknowledging ``seq`` comes within 0.2 s."""
    while client.sock.poll(200):
        reply = wire.decode(client.sock.recv())
        if isinstance(reply, wire.Ack) and seq in reply.acked:
            return True
    return False


def test_a_worker_elsewhere_silent_past_the_lost_timeout_is_lost_and_a_return_is_counted(
    tracker: BaseProgressTracker, events: RecordingCallback, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    config = AggregatorConfig(liveness_interval=0.01, stall_timeout=5.0, lost_timeout=60.0)
    with caplog.at_level(logging.INFO, logger="mpprogress.remote"), Aggregator(
        tracker, config=config, get_time=clock
    ) as aggregator:
        client = RawClient(aggregator.address)
        try:
            start_work(client, tracker)
            clock.advance(59.0)
            assert wait_for(lambda: stalled(tracker))
            assert outcomes(events) == []
            clock.advance(2.0)
            assert wait_for(lambda: len(outcomes(events)) == 2)
            client.send(wire.State(5, (wire.PhaseState(1, 800, 800, None),)))  # it comes back after all
            assert isinstance(client.receive(), wire.Resync)
            client.send(wire.Hello(6, "worker", 1, "elsewhere"), wire.OperationStart(7, "op", "work", None),
                        wire.PhaseStart(8, 1, "p", "op", None, "p", None, 800),
                        wire.PhaseFinish(9, 1, 800, 800, None, True, None))
            client.wait_acked(6, 7, 8, 9)
        finally:
            client.close()
        stats = aggregator.stats()
    assert outcomes(events) == [("phase_finished", 500, "lost"), ("operation_finished", None, "failed")]
    assert stats.lost == 1
    assert stats.dropped == {"unknown_client": 1, "after_lost": 3}  # its operation, phase start and finish
    logged = [r.getMessage() for r in caplog.records if r.name == "mpprogress.remote"]
    assert logged == [
        "mpprogress: worker pid 1 on elsewhere silent for 59.0 s: stalled",
        "mpprogress: worker pid 1 on elsewhere is lost (silent for 61.0 s); its open phases end as lost",
        "mpprogress: worker pid 1 on elsewhere came back after it was marked lost; its earlier phases stay lost "
        "(raise AggregatorConfig.lost_timeout)",
    ]


def test_a_worker_on_this_host_is_stalled_while_its_process_lives_and_lost_when_it_dies(
    tracker: BaseProgressTracker, events: RecordingCallback, clock: FakeClock
) -> None:
    alive = {os.getpid()}  # over ipc:// the kernel proves the pid a hello claims: the sender's own
    config = AggregatorConfig(liveness_interval=0.01)
    with Aggregator(
        tracker, config=config, get_time=clock, process_alive=lambda pid, started: pid in alive
    ) as aggregator:
        client = RawClient(aggregator.address)
        try:
            client.send(wire.Hello(1, "near", os.getpid(), host_identity()), wire.OperationStart(2, "op", "work", None),
                        wire.PhaseStart(3, 1, "p", "op", None, "p", None, 800),
                        wire.State(4, (wire.PhaseState(1, 500, 800, None),)))
            client.wait_acked(1, 2, 3)
            assert wait_for(lambda: getattr(tracker.get_phase("p"), "current", 0) == 500)
            clock.advance(600.0)  # far past any timeout: a stopped process is still there
            assert wait_for(lambda: stalled(tracker))
            time.sleep(0.1)
            assert outcomes(events) == []
            alive.clear()  # now it is gone: lost at the next check
            clock.advance(0.1)
            assert wait_for(lambda: len(outcomes(events)) == 2)
        finally:
            client.close()
        assert aggregator.stats().lost == 1
    assert outcomes(events) == [("phase_finished", 500, "lost"), ("operation_finished", None, "failed")]
    assert not tracker.snapshot().operations[0].phases[0].stalled  # finished: no longer in doubt


def stopped_worker(address: str, reached: multiprocessing.synchronize.Event,
                   go: multiprocessing.synchronize.Event) -> None:
    """Counts 500 of 800, says so, waits to be stopped and continued, and counts the rest."""
    with mpprogress.connect(address) as client, client.operation("op", "work") as op, \
            op.phase("p", total=800) as phase:
        phase.update(500)
        time.sleep(0.3)  # a flush or more: the parent has 500
        reached.set()
        go.wait(60)
        phase.update(300)


@pytest.mark.processes
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_a_worker_stopped_past_the_stall_timeout_heals_when_continued(method: str) -> None:
    tracker = BaseProgressTracker(max_update_rate=None)
    events = RecordingCallback()
    tracker.add_callback(events)
    context = multiprocessing.get_context(method)
    reached, go = context.Event(), context.Event()
    with Aggregator(tracker, config=AggregatorConfig(stall_timeout=1.0, liveness_interval=0.05)) as aggregator:
        worker = context.Process(target=stopped_worker, args=(aggregator.address, reached, go))
        worker.start()
        try:
            assert reached.wait(60)
            assert worker.pid is not None
            os.kill(worker.pid, signal.SIGSTOP)
            stopped_at = time.monotonic()
            assert wait_for(lambda: stalled(tracker), timeout=30)
            # Past ZeroMQ's heartbeat timeout (3 s): the connection is dropped, and resynced after.
            time.sleep(max(0.0, 4.5 - (time.monotonic() - stopped_at)))
            assert outcomes(events) == []
            os.kill(worker.pid, signal.SIGCONT)
            go.set()
            worker.join(60)
            assert worker.exitcode == 0
            assert wait_for(lambda: len(outcomes(events)) == 2, timeout=30)
        finally:
            if worker.is_alive() and worker.pid is not None:
                os.kill(worker.pid, signal.SIGCONT)
                go.set()
                worker.join(10)
        stats = aggregator.stats()
    assert outcomes(events) == HEALED
    assert events.of_type("operation_finished")[0].data["success"] is True
    assert stats.lost == 0
    assert not tracker.snapshot().operations[0].phases[0].stalled
