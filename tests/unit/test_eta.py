"""Honest speed figures: a recent rate whose window adapts, stalls that decay it, and an
operation ETA for uneven work running in parallel (issues 13 and 25; the rate after a change of
pace, against tqdm, is ``test_rate_traces.py``)."""

from __future__ import annotations

import math

import pytest

from mpprogress import BaseProgressTracker
from mpprogress._base.metrics import (
    GRACE_GAPS,
    MAX_WINDOW,
    MIN_WINDOW,
    SILENCE_SCALE,
    STALL_WINDOWS,
    WINDOW_ITEMS,
    Outlook,
    RateMeter,
    Speed,
)
from mpprogress.testing import FakeClock, Reading, ScriptedWorker, replay

# --- the rate meter ----------------------------------------------------------------------------


def steady(meter: RateMeter, start: float, every: float, steps: int, per_step: float = 1.0) -> tuple[float, float]:
    """Sample a count that moves by ``per_step`` every ``every`` seconds; return (time, count)."""
    now, count = start, 0.0
    for _ in range(steps):
        now += every
        count += per_step
        meter.sample(now, count, None)
    return now, count


def test_the_window_adapts_to_how_often_the_count_moves() -> None:
    fast = RateMeter(0.0)
    steady(fast, 0.0, 0.05, 200)
    assert fast.window == MIN_WINDOW  # 10 samples a second: a short window
    chunky = RateMeter(0.0)
    steady(chunky, 0.0, 10.0, 20, per_step=50)
    assert chunky.window == pytest.approx(30.0)  # a chunk every 10 s: three chunks
    rare = RateMeter(0.0)
    steady(rare, 0.0, 45.0, 10, per_step=50)
    assert rare.window == MAX_WINDOW  # never more than a minute back


def test_a_slow_count_is_measured_over_its_last_items() -> None:
    meter = RateMeter(0.0)
    steady(meter, 0.0, 2.0, 40)  # one item every 2 s, each reported
    assert meter.window == pytest.approx(2.0 * WINDOW_ITEMS)  # not 1.5 s: 16 items, not one


def test_the_time_before_the_first_report_is_setup() -> None:
    meter = RateMeter(0.0)
    assert meter.sample(5.0, 10, None).rate == pytest.approx(2.0)  # all there is: 10 in 5 s
    assert meter.sample(6.0, 20, None).rate == pytest.approx(10.0)  # from the first report on


def test_a_count_that_goes_back_is_measured_afresh() -> None:
    meter = RateMeter(0.0)
    now, _ = steady(meter, 0.0, 0.1, 100, per_step=10)  # 100/s
    meter.sample(now + 0.1, 5, None)  # set back to 5
    later, count = now + 0.1, 5.0
    for _ in range(30):  # then 10/s
        later += 0.1
        count += 1
        meter.sample(later, count, None)
    assert meter.speed(later, count, None).rate == pytest.approx(10.0)


def test_a_meter_keeps_a_bounded_number_of_samples() -> None:
    meter = RateMeter(0.0)
    steady(meter, 0.0, 0.1, 20_000, per_step=0.001)  # a slow fractional count, for 2,000 s
    assert len(meter._points) <= 64  # memory per phase does not grow with its run
    assert meter.speed(2000.0, 20.0, None).rate == pytest.approx(0.01)


def test_the_rate_is_recent_not_since_the_start() -> None:
    meter = RateMeter(0.0)
    now, count = steady(meter, 0.0, 0.1, 600)  # 10/s for a minute
    for _ in range(250):  # then 40/s for 25 s: five windows
        now += 0.1
        count += 4
        meter.sample(now, count, None)
    rate = meter.speed(now, count, None).rate
    assert rate == pytest.approx(40.0, rel=0.02)
    assert meter.average(now, count) == pytest.approx(1600 / 85)  # what since-start would say


def test_a_long_phase_never_loses_its_rate_or_its_eta() -> None:
    meter = RateMeter(0.0)
    now, count = 0.0, 0.0
    for _ in range(160):  # two hours, one chunk of 30 items every 45 s
        now += 45.0
        count += 30
        figures = meter.sample(now, count, 10_000)
        assert figures.rate == pytest.approx(30 / 45)
        assert figures.eta == pytest.approx((10_000 - count) * 45 / 30)
        between = meter.speed(now + 40.0, count, 10_000)  # and while waiting for the next chunk
        assert between.rate == pytest.approx(30 / 45) and between.eta is not None


def test_a_stalled_count_decays_then_loses_its_eta_and_recovers() -> None:
    meter = RateMeter(0.0)
    now, count = steady(meter, 0.0, 0.1, 300, per_step=1.0)  # 10/s, usual gap 0.1 s: the shortest window
    total = 1_000
    assert meter.speed(now, count, total).eta == pytest.approx(70.0)
    grace = GRACE_GAPS * 0.1
    assert meter.speed(now + grace, count, total).rate == pytest.approx(10.0)  # a normal gap
    etas = [meter.speed(now + grace + wait, count, total).eta for wait in (0.5, 1.0, 2.0, 4.0, 8.0)]
    assert etas == sorted(etas)  # the longer nothing happens, the later the ETA
    assert meter.speed(now + grace + SILENCE_SCALE, count, total).rate == pytest.approx(10.0 * math.exp(-1.0))
    silent = meter.speed(now + grace + STALL_WINDOWS * SILENCE_SCALE + 0.1, count, total)
    assert silent.eta is None and silent.rate is not None and silent.rate < 1.5  # stalled: unknown
    now += 30.0  # the work resumes after 30 s
    for _ in range(round(20 * MIN_WINDOW)):  # two windows of steady work
        now += 0.1
        count += 1
        meter.sample(now, count, total)
    assert meter.speed(now, count, total).rate == pytest.approx(10.0, rel=0.15)


def test_reading_a_meter_changes_nothing() -> None:
    meter = RateMeter(0.0)
    now, count = steady(meter, 0.0, 0.1, 50)
    first = meter.speed(now + 3.0, count + 5, 100)
    assert [meter.speed(now + 3.0, count + 5, 100) for _ in range(3)] == [first] * 3
    assert meter.sample(now + 3.0, count + 5, 100) == first  # a sample then agrees with the read


def test_a_count_that_does_not_move_is_no_sample() -> None:
    meter = RateMeter(0.0)
    meter.sample(1.0, 10, None)
    meter.sample(1.5, 10, None)  # a message, no progress
    assert meter.sample(2.0, 20, None).rate == pytest.approx(10.0)


# --- the outlook of parallel work ------------------------------------------------------------


def test_an_outlook_is_unknown_rather_than_wild() -> None:
    moving = Outlook.of_phase(50, 100, Speed(10.0, 10.0, 5.0))
    assert Outlook.combine([moving]).eta == pytest.approx(5.0)
    assert Outlook.combine([moving, Outlook.of_phase(0, None, Speed(None, None, None))]).eta is None
    assert Outlook.combine([Outlook.of_phase(0, 100, Speed(0.0, None, None))]).eta is None  # no rate yet
    stalled = Outlook.of_phase(50, 100, Speed(0.1, 10.0, None))
    assert Outlook.combine([moving, stalled]).eta is None
    assert Outlook.combine([]).eta is None and Outlook.combine([]).total_rate is None
    assert Outlook.combine([Outlook.of_phase(100, 100, Speed(5.0, 5.0, 0.0))]).eta == 0.0


def test_an_outlook_waits_for_its_slowest_phase() -> None:
    fast = Outlook.of_phase(0, 100, Speed(10.0, 10.0, 10.0))
    slow = Outlook.of_phase(0, 100, Speed(2.0, 2.0, 50.0))
    both = Outlook.combine([fast, slow])
    assert both.total_rate == pytest.approx(12.0)
    assert both.eta == pytest.approx(50.0)  # 200 / 12 = 16.7 s if the work could move; it cannot
    shared = Outlook.combine([Outlook.of_phase(0, 100, Speed(10.0, 10.0, 10.0))] * 3)
    assert shared.eta == pytest.approx(10.0)


def test_an_operation_snapshot_carries_the_rate_and_eta_of_its_running_phases() -> None:
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False, max_update_rate=None)
    op = tracker.start_operation("op", "Op")
    a = op.start_phase("a", "A", total=100)
    parent = op.start_phase("parent", "Parent")  # rolls up its sub-phases
    b = parent.start_phase("b", "B", total=100)
    own = op.start_phase("own", "Own", total=10)  # a total of its own: its sub-phase is inside it
    own.start_phase("inner", "Inner", total=1000)
    for _ in range(10):
        clock.advance(1.0)
        a.update(5)
        b.update(2)
        own.update(0.5)
    view = tracker.snapshot().get("op")
    assert view is not None
    assert view.rate == pytest.approx(5 + 2 + 0.5)
    assert view.eta == pytest.approx(80 / 2)  # b is the slowest: 80 left at 2/s
    (_, parent_row, _) = view.phases
    assert parent_row.eta == pytest.approx(40.0)
    op.start_phase("unknown", "Unknown")  # no total, no sub-phases: nobody can tell
    assert tracker.snapshot().operations[0].eta is None
    tracker.finish_operation("op")
    finished = tracker.snapshot().operations[0]
    assert (finished.eta, finished.rate) == (None, None)


# --- a scripted uneven workload --------------------------------------------------------------

UNEVEN = (
    ScriptedWorker("fast", 600, 0.1, jitter=0.5),
    ScriptedWorker("fast too", 600, 0.1, jitter=0.5),
    ScriptedWorker("5x slower", 600, 0.5, jitter=0.5),
    ScriptedWorker("stalls 20 s", 600, 0.1, jitter=0.5, stall_at=100, stall_for=20.0),
)


def eta_table(readings: list[Reading]) -> str:
    lines = ["done    at      actual    predicted  error"]
    for reading in readings:
        eta = reading.operation.eta
        predicted = "-:--:--" if eta is None else f"{eta:7.1f} s"
        error = "" if reading.error is None else f"{reading.error:+.0%}"
        lines.append(f"{reading.mark:4.0%} {reading.at:6.1f} s {reading.remaining:7.1f} s  {predicted:>9}  {error}")
    return "\n".join(lines)


def test_the_operation_eta_of_uneven_parallel_work_is_honest() -> None:
    readings = replay(UNEVEN)
    table = eta_table(readings)
    by_mark = {reading.mark: reading for reading in readings}
    for mark in (0.5, 0.75):
        error = by_mark[mark].error
        assert error is not None and abs(error) <= 0.25, table


def test_the_operation_eta_is_unknown_while_a_worker_stalls() -> None:
    workers = (ScriptedWorker("steady", 400, 0.1), ScriptedWorker("stalls", 400, 0.1, stall_at=50, stall_for=60.0))
    (during,) = replay(workers, marks=(0.4,))
    assert 5.0 < during.at < 65.0  # read during the stall
    assert during.operation.eta is None
