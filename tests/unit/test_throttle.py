"""Throttling of progress_update events, driven by a fake clock (no real waiting)."""

from __future__ import annotations

import threading
import time

import pytest

from mpprogress import BaseProgressTracker, PhaseFinishedError
from mpprogress._core.throttle import Throttle
from mpprogress.testing import FakeClock, RecordingCallback


def make(rate: float = 10.0, burst: int = 3) -> tuple[BaseProgressTracker, RecordingCallback, FakeClock]:
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, max_update_rate=rate, update_burst=burst, auto_flush=False)
    events = RecordingCallback()
    tracker.add_callback(events)
    return tracker, events, clock


def currents(events: RecordingCallback) -> list[int]:
    return [e.data["current"] for e in events.of_type("progress_update")]


def test_a_burst_goes_out_then_updates_are_coalesced_and_state_stays_exact() -> None:
    tracker, events, clock = make(rate=10.0, burst=3)
    op = tracker.start_operation("op", "Op")
    phase = op.start_phase("p", "P", total=1000)
    for i in range(100):
        phase.update(1, f"item {i}")
    assert currents(events) == [1, 2, 3]
    assert phase.current == 100
    assert phase.last_message == "item 99"
    tracker.flush()  # no time has passed: no token yet
    assert currents(events) == [1, 2, 3]
    clock.advance(0.1)  # one token at 10/s
    tracker.flush()
    assert currents(events) == [1, 2, 3, 100]
    assert events.of_type("progress_update")[-1].data["message"] == "item 99"
    clock.advance(0.1)
    tracker.flush()  # nothing changed since: nothing to send
    assert currents(events) == [1, 2, 3, 100]


def test_the_rate_is_bounded_over_a_long_run() -> None:
    tracker, events, clock = make(rate=10.0, burst=3)
    op = tracker.start_operation("op", "Op")
    phase = op.start_phase("p", "P")
    for _ in range(200):  # 20 simulated seconds, 1,000 updates per 0.1 s
        for _ in range(1000):
            phase.update(1)
        clock.advance(0.1)
        tracker.flush()
    sent = len(events.of_type("progress_update"))
    assert 200 <= sent <= 3 + 200  # about one per tick at 10/s, plus the initial burst
    assert currents(events)[-1] == 200_000


def test_the_final_state_is_delivered_before_phase_finished() -> None:
    tracker, events, _ = make(rate=10.0, burst=2)
    with tracker.operation("Op") as op, op.phase("P", total=50) as phase:
        for _ in range(50):
            phase.update(1, "last message wins")
    types = events.types
    last_update = max(i for i, t in enumerate(types) if t == "progress_update")
    assert types[last_update + 1] == "phase_finished"
    final = events.of_type("progress_update")[-1].data
    assert (final["current"], final["percentage"], final["message"]) == (50, 100.0, "last message wins")
    assert currents(events) == [1, 2, 50]


def test_no_extra_update_when_the_last_one_was_already_sent() -> None:
    tracker, events, _ = make(rate=10.0, burst=5)
    with tracker.operation("Op") as op, op.phase("P", total=3) as phase:
        for _ in range(3):
            phase.update(1)
    assert currents(events) == [1, 2, 3]


def test_buckets_refill_up_to_the_burst_after_a_pause() -> None:
    tracker, events, clock = make(rate=10.0, burst=3)
    op = tracker.start_operation("op", "Op")
    phase = op.start_phase("p", "P")
    for _ in range(10):
        phase.update(1)
    clock.advance(10.0)
    tracker.flush()  # refills the bucket (capped at the burst: 3), then spends one on the pending 10
    assert currents(events)[-1] == 10
    events.events.clear()
    for _ in range(10):
        phase.update(1)
    assert currents(events) == [11, 12]


def test_throttling_is_per_phase() -> None:
    tracker, events, _ = make(rate=10.0, burst=2)
    op = tracker.start_operation("op", "Op")
    busy = op.start_phase("busy", "Busy")
    quiet = op.start_phase("quiet", "Quiet")
    for _ in range(20):
        busy.update(1)
    quiet.update(1)
    quiet.update(1)
    by_phase = [e.data["phase_id"] for e in events.of_type("progress_update")]
    assert by_phase == ["busy", "busy", "quiet", "quiet"]


def test_unthrottled_tracker_sends_every_update() -> None:
    tracker, events, _ = make(rate=0)
    op = tracker.start_operation("op", "Op")
    phase = op.start_phase("p", "P")
    for _ in range(500):
        phase.update(1)
    assert currents(events) == list(range(1, 501))


def test_metadata_forces_delivery_through_the_lock_but_stays_throttled() -> None:
    tracker, events, clock = make(rate=10.0, burst=1)
    op = tracker.start_operation("op", "Op")
    phase = op.start_phase("p", "P")
    phase.update(1, size=1)
    phase.update(1, size=2)
    phase.update(1, kind="x")
    assert currents(events) == [1]
    clock.advance(0.1)
    tracker.flush()
    last = events.of_type("progress_update")[-1].data
    assert (last["current"], last["size"], last["kind"]) == (3, 2, "x")  # merged, latest wins


def test_the_flusher_thread_delivers_pending_state_without_further_updates() -> None:
    tracker = BaseProgressTracker(max_update_rate=50.0, update_burst=1)
    events = RecordingCallback()
    tracker.add_callback(events)
    op = tracker.start_operation("op", "Op")
    phase = op.start_phase("p", "P")
    for _ in range(1000):
        phase.update(1)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and currents(events)[-1] != 1000:
        time.sleep(0.01)
    assert currents(events)[-1] == 1000
    # once idle and refilled, the flusher thread goes away on its own
    while time.monotonic() < deadline and tracker._core.throttle.running:
        time.sleep(0.01)
    assert not tracker._core.throttle.running
    tracker.close()


def test_close_delivers_pending_state() -> None:
    tracker, events, _ = make(rate=10.0, burst=1)
    op = tracker.start_operation("op", "Op")
    phase = op.start_phase("p", "P")
    for _ in range(7):
        phase.update(1)
    tracker.close()
    assert currents(events) == [1, 7]


@pytest.mark.parametrize("rate", [1.0, 20.0])
def test_set_progress_is_throttled_too(rate: float) -> None:
    tracker, events, _ = make(rate=rate, burst=1)
    op = tracker.start_operation("op", "Op")
    phase = op.start_phase("p", "P")
    for i in range(10):
        phase.set_progress(i + 1)
    op.finish_phase("p")
    assert currents(events) == [1, 10]


def test_a_finished_phase_refuses_updates_even_while_its_bucket_was_empty() -> None:
    tracker, events, _ = make(rate=10.0, burst=1)
    op = tracker.start_operation("op", "Op")
    phase = op.start_phase("p", "P")
    for _ in range(5):
        phase.update(1)  # the bucket is empty now: these were counted without the lock
    op.finish_phase("p")
    with pytest.raises(PhaseFinishedError):
        phase.update(1)
    with pytest.raises(PhaseFinishedError):
        phase.update(1, "with a message")
    assert phase.current == 5
    assert currents(events) == [1, 5]


class Phase:
    """What a bucket's owner gives it: whether it has unreported state, and a way to report it."""

    def __init__(self) -> None:
        self.changed = False
        self.emitted = 0

    def pending(self) -> bool:
        return self.changed

    def emit(self) -> None:
        self.changed = False
        self.emitted += 1


def make_throttle(rate: float | None = 10.0, burst: int = 2) -> tuple[Throttle, FakeClock, list[str]]:
    clock = FakeClock()
    delivered: list[str] = []
    throttle = Throttle(
        rate, burst, lock=threading.RLock(), get_time=clock, deliver=lambda: delivered.append("drain"),
        auto_flush=False,
    )
    return throttle, clock, delivered


def test_a_bucket_spends_its_burst_then_refills_at_the_rate() -> None:
    throttle, clock, delivered = make_throttle(rate=8.0, burst=2)
    phase = Phase()
    bucket = throttle.bucket(phase.pending, phase.emit)
    assert [throttle.take(bucket) for _ in range(3)] == [True, True, False]
    phase.changed = True
    clock.advance(0.0625)
    throttle.flush()  # half a token: nothing yet
    assert (phase.emitted, delivered) == (0, ["drain"])
    clock.advance(0.0625)
    throttle.flush()  # one token: the pending state goes out and spends it
    assert phase.emitted == 1 and bucket.tokens == 0.0
    clock.advance(10.0)
    throttle.flush()  # refilled up to the burst, nothing pending: the bucket stops waiting
    assert bucket.tokens == 2.0
    clock.advance(10.0)
    throttle.flush()
    assert bucket.tokens == 2.0 and phase.emitted == 1


def test_close_emits_what_is_pending_and_a_released_bucket_never_runs_dry() -> None:
    throttle, _, _ = make_throttle(rate=10.0, burst=1)
    waiting, released = Phase(), Phase()
    first = throttle.bucket(waiting.pending, waiting.emit)
    second = throttle.bucket(released.pending, released.emit)
    assert throttle.take(first) and throttle.take(second)
    waiting.changed = released.changed = True
    throttle.release(second)
    assert all(throttle.take(second) for _ in range(100))
    throttle.close_locked()
    assert (waiting.emitted, released.emitted) == (1, 0)
    assert not throttle.running


def test_an_unthrottled_bucket_always_has_a_token_and_no_flusher_starts() -> None:
    throttle, _, _ = make_throttle(rate=None)
    phase = Phase()
    bucket = throttle.bucket(phase.pending, phase.emit)
    assert all(throttle.take(bucket) for _ in range(1000))
    assert not throttle.running


def test_the_flusher_thread_starts_only_while_a_bucket_waits_and_ends_on_close() -> None:
    lock = threading.RLock()
    throttle = Throttle(100.0, 1, lock=lock, get_time=time.monotonic, deliver=lambda: None)
    phase = Phase()
    bucket = throttle.bucket(phase.pending, phase.emit)
    before = set(threading.enumerate())
    assert not throttle.running
    with lock:
        assert throttle.take(bucket)
    assert throttle.running
    (flusher,) = set(threading.enumerate()) - before
    assert flusher.name == "mpprogress-flusher" and flusher.daemon
    with lock:
        throttle.close_locked()
    assert not throttle.running
    flusher.join(10.0)
    assert not flusher.is_alive()
