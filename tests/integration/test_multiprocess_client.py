"""The client and the aggregator up close: threads in a worker, restarts, bad frames, explicit clients."""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext

import msgpack
import pytest
import zmq
from rich.console import Console

import mpprogress
from mpprogress._core.tracker import BaseProgressTracker
from mpprogress._remote.aggregator import Aggregator
from mpprogress._remote.client import ClientTracker
from mpprogress._remote.transport import ClientConfig
from mpprogress.testing import RecordingCallback
from tests.integration import workers
from tests.integration.conftest import Recorded, finished, wait_for


def test_threads_in_a_worker_count_exactly_without_a_lock(recorded_session: Recorded, mp_context: BaseContext) -> None:
    threads, items = 8, 100_000
    with recorded_session.tracker.operation("stress") as op:
        with ProcessPoolExecutor(1, mp_context=mp_context) as pool:
            count = pool.submit(workers.thread_stress, op.operation_id, threads, items).result(120)
    assert count == threads * items
    done = finished(recorded_session.events, title="stress")
    assert (done[0].data["current"], done[0].data["success"]) == (threads * items, True)


def _headless() -> tuple[BaseProgressTracker, RecordingCallback]:
    tracker = BaseProgressTracker()
    events = RecordingCallback()
    tracker.add_callback(events)
    return tracker, events


def _rebind(tracker: BaseProgressTracker, address: str) -> Aggregator:
    """Bind ``address`` again; ZeroMQ releases a closed socket's port in the background."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return Aggregator(tracker, address)
        except ValueError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_restarted_aggregator_gets_the_whole_state_again() -> None:
    first, first_events = _headless()
    aggregator = Aggregator(first, "tcp://127.0.0.1:0")
    address = aggregator.address
    with mpprogress.connect(address) as client:
        op = client.start_operation("op-restart", "survives a restart")
        phase = op.start_phase("phase-restart", "counting", total=1000)
        phase.update(400, message="before")
        assert wait_for(lambda: any(e.data.get("current") == 400 for e in first_events.of_type("progress_update")))
        aggregator.close()
        phase.update(100, message="while down")  # nobody listens: nothing blocks
        second, second_events = _headless()
        with _rebind(second, address) as restarted:
            phase.update(500, message="after")
            assert wait_for(lambda: second.get_phase("phase-restart") is not None)
            assert wait_for(lambda: second.get_phase("phase-restart").current == 1000)  # type: ignore[union-attr]
            op.finish_phase("phase-restart")
            client.finish_operation("op-restart")
            assert wait_for(lambda: second_events.of_type("operation_finished"))
            assert restarted.stats().dropped.get("unknown_client", 0) >= 1  # it asked for a resync
    done = second_events.of_type("phase_finished")
    assert [(d.data["current"], d.data["success"]) for d in done] == [(1000, True)]
    assert second_events.types[:2] == ["operation_started", "phase_started"]


def test_bad_frames_are_counted_and_a_legitimate_client_is_unaffected() -> None:
    tracker, events = _headless()
    with Aggregator(tracker) as aggregator, mpprogress.connect(aggregator.address) as client:
        attacker = zmq.Context.instance().socket(zmq.DEALER)
        attacker.setsockopt(zmq.LINGER, 0)
        attacker.connect(aggregator.address)
        op = client.start_operation("op-bad", "legit")
        with op.phase("legit phase", total=200) as phase:
            for i in range(200):
                phase.update(1)
                if i % 20 == 0:
                    attacker.send(os.urandom(64))
                    attacker.send(msgpack.packb([1, 7, 1, [[1, -1, None, None, {}]]]))
                    attacker.send_multipart([b"a", b"b"])
                    attacker.send(msgpack.packb([9, 1, 1]))
        client.finish_operation("op-bad")
        assert wait_for(lambda: events.of_type("operation_finished"))
        assert wait_for(lambda: aggregator.stats().dropped.get("multipart", 0) == 10)
        stats = aggregator.stats()
        attacker.close()
    assert stats.dropped["malformed"] + stats.dropped.get("schema", 0) + stats.dropped.get("kind", 0) >= 10
    assert stats.dropped["version"] == 10
    assert finished(events, title="legit phase")[0].data["current"] == 200


def test_connect_close_is_idempotent_and_delivers_open_phases() -> None:
    tracker, events = _headless()
    with Aggregator(tracker) as aggregator:
        client = ClientTracker(aggregator.address)
        op = client.start_operation("op-close", "closing")
        op.start_phase("p-open", "left open", total=3).update(3)
        client.close()
        client.close()
        assert [e.data["success"] for e in finished(events, title="left open")] == [True]
        assert events.of_type("operation_finished")[0].data["success"] is True
        with pytest.raises(ValueError, match="already exists"):
            client2 = ClientTracker(aggregator.address)
            client2.start_operation("x", "one")
            client2.start_operation("x", "two")
        client2.close()
        assert wait_for(lambda: aggregator.stats().clients == 0)


def test_connect_without_address_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MPPROGRESS_ADDRESS", raising=False)
    with pytest.raises(ValueError, match="MPPROGRESS_ADDRESS"):
        mpprogress.connect()


def test_client_without_a_receiver_never_hangs(tmp_path: object) -> None:
    config = ClientConfig(delivery_timeout=0.5)
    started = time.monotonic()
    with mpprogress.connect(f"ipc://{tmp_path}/nobody.sock", config=config) as client:
        op = client.get_operation("op-nobody")
        for k in range(5):
            with op.phase(f"phase {k}", total=10) as phase:
                phase.update(10)
    # One bounded wait (0.5 s), then 0.1 s at most for each later finish and for close: ~1 s,
    # never the 30 s delivery cap (the bound leaves slack for a loaded machine).
    assert time.monotonic() - started < 15.0


def test_phases_of_unknown_operations_are_dropped_and_counted() -> None:
    tracker, _ = _headless()
    with Aggregator(tracker) as aggregator, mpprogress.connect(aggregator.address) as client:
        with client.get_operation("no-such-operation").phase("orphan", total=1) as phase:
            phase.update(1)
        assert wait_for(lambda: aggregator.stats().dropped.get("unknown_operation") == 1)
    assert tracker.get_phase("orphan") is None


def test_console_shows_worker_phases(mp_context: BaseContext) -> None:
    console = Console(record=True, width=100, force_terminal=False)
    with mpprogress.session(console=console) as tracker, tracker.operation("Rendered op") as op:
        with ProcessPoolExecutor(1, mp_context=mp_context) as pool:
            pid = pool.submit(workers.report_phases, op.operation_id, 1, 5).result(60)
    text = console.export_text()
    assert "Rendered op" in text
    assert f"{pid}-0" in text


def test_reliable_messages_the_full_send_queue_refused_arrive_in_order() -> None:
    # A send queue of 4 frames and 300 nested starts in one burst: the socket refuses most of
    # them at first.  A refused start is retried before anything queued after it, so no child
    # reaches the aggregator before its parent (it would be dropped as unknown_parent).
    depth = 300
    tracker = BaseProgressTracker(max_update_rate=None, max_phase_depth=None)
    events = RecordingCallback()
    tracker.add_callback(events)
    config = ClientConfig(sndhwm=4)
    with Aggregator(tracker) as aggregator, ClientTracker(aggregator.address, config=config) as client:
        op = client.start_operation("deep", "deep")
        container = op
        for level in range(depth):
            container = container.start_phase(f"level-{level}", f"level {level}", total=2)
            container.update(1)
        op.finish_phase("level-0", success=True)
        assert wait_for(lambda: len(events.of_type("phase_finished")) == depth, timeout=60)
        assert client._link.frames_dropped > 0  # the queue did refuse frames
        assert aggregator.stats().dropped == {}
    started = [e.data["phase_id"] for e in events.of_type("phase_started")]
    assert started == [f"level-{level}" for level in range(depth)]
    done = events.of_type("phase_finished")
    assert [e.data["phase_id"] for e in done] == [f"level-{level}" for level in reversed(range(depth))]


def test_a_worker_nests_past_the_recursion_limit_and_cancels_and_finishes_innermost_first() -> None:
    depth = 1_200  # deeper than Python's default recursion limit: no walk may recurse
    tracker = BaseProgressTracker(max_update_rate=None, max_phase_depth=None)
    events = RecordingCallback()
    tracker.add_callback(events)
    with Aggregator(tracker) as aggregator, mpprogress.connect(aggregator.address) as client:
        op = client.start_operation("deep", "deep")
        container = op
        for level in range(depth):
            container = container.start_phase(f"level-{level}", f"level {level}", total=1)
        innermost = container
        op.phases["level-0"].cancel()
        assert innermost.cancelled
        op.finish_phase("level-0", success=True)
        assert innermost.finished and innermost.reason == "cancelled"
        assert wait_for(lambda: len(events.of_type("phase_finished")) == depth, timeout=60)
    done = events.of_type("phase_finished")
    assert [e.data["phase_id"] for e in done] == [f"level-{level}" for level in reversed(range(depth))]
    assert {(e.data["success"], e.data["reason"]) for e in done} == {(False, "cancelled")}
