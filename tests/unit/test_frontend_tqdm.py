"""The tqdm front end keeps tqdm's semantics while its bars are phases of a local tracker."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import pickle
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import mpprogress
from mpprogress._base.snapshot import PhaseSnapshot
from mpprogress._frontends import placement
from mpprogress._frontends.placement import OPERATION_ENV, shared_operation
from mpprogress._frontends.tqdm import tqdm, trange
from mpprogress.testing import FakeClock


def phases(tracker: mpprogress.BaseProgressTracker) -> list[PhaseSnapshot]:
    return [p for op in tracker.snapshot().operations for p in op.all_phases()]


def only_phase(tracker: mpprogress.BaseProgressTracker) -> PhaseSnapshot:
    (phase,) = phases(tracker)
    return phase


def wait_for(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


# --- iteration and counting ---------------------------------------------------------------------


def test_iterating_counts_every_item_and_takes_the_total_from_len(frontend_tracker: Any) -> None:
    items = list(tqdm(range(2500), desc="loading"))
    assert items == list(range(2500))
    phase = only_phase(frontend_tracker)
    assert (phase.title, phase.current, phase.total) == ("loading", 2500, 2500)
    assert phase.finished and phase.success
    (op,) = frontend_tracker.snapshot().operations
    assert op.title == "loading" and op.finished and op.success


def test_an_iterator_without_len_has_no_total(frontend_tracker: Any) -> None:
    bar = tqdm(iter(range(7)))
    assert bar.total is None
    assert sum(bar) == 21
    assert (only_phase(frontend_tracker).current, only_phase(frontend_tracker).total) == (7, None)


def test_update_counts_exactly_and_close_is_idempotent(frontend_tracker: Any) -> None:
    bar = tqdm(total=100_000, desc="bytes")
    for _ in range(100_000):
        bar.update(1)
    bar.update(0.5)
    assert bar.n == 100_000.5
    bar.close()
    bar.close()
    assert only_phase(frontend_tracker).current == 100_000.5
    assert bar.update(5) is None and bar.n == 100_000.5  # as tqdm: a closed bar ignores updates


def test_update_returns_true_when_it_handed_over_after_mininterval(frontend_tracker: Any) -> None:
    clock = FakeClock()

    class Timed(tqdm[Any]):
        _time = staticmethod(clock)

    bar = Timed(total=10, miniters=1, mininterval=0.5)
    assert bar.update(1) is None  # handed over, but mininterval has not passed
    clock.advance(0.6)
    assert bar.update(1) is True
    assert bar.update(1) is None
    bar.close()


def test_negative_and_odd_updates_never_raise(frontend_tracker: Any) -> None:
    with tqdm(total=10, miniters=1, mininterval=0) as bar:
        bar.update(5)
        bar.update(-2)  # counted back; handed over by the watcher (tqdm, too, draws it later)
        assert wait_for(lambda: only_phase(frontend_tracker).current == 3)
        bar.update(float("nan"))  # tqdm takes it; the phase keeps its last good count
        bar.n = 4
    assert only_phase(frontend_tracker).current == 4


def test_the_watcher_hands_over_a_count_the_loop_did_not(frontend_tracker: Any) -> None:
    bar = tqdm(total=10**9)
    for _ in range(20):  # a fast start makes the bar hand over only every many items
        bar.update(1000)
    bar.n = 123_456  # set directly, as some code does
    assert wait_for(lambda: only_phase(frontend_tracker).current == 123_456)
    bar.close()


def test_initial_total_settable_and_reset(frontend_tracker: Any) -> None:
    bar = tqdm(total=50, initial=10)
    assert bar.n == 10 and only_phase(frontend_tracker).current == 10
    bar.total = 80.5  # tqdm takes floats; the phase's total is whole
    assert bar.total == 80.5 and only_phase(frontend_tracker).total == 81
    bar.update(5)
    bar.reset(total=20)
    assert (bar.n, bar.total) == (0, 20)
    assert (only_phase(frontend_tracker).current, only_phase(frontend_tracker).total) == (0, 20)
    bar.close()


def test_description_and_postfix_are_the_phases_message(frontend_tracker: Any) -> None:
    bar = tqdm(total=3, desc="train", postfix={"lr": 0.001})
    assert bar.postfix == "lr=0.001"
    bar.set_postfix(loss=0.123456, epoch=2)
    assert bar.postfix == "epoch=2, loss=0.123"
    assert only_phase(frontend_tracker).message == "epoch=2, loss=0.123"
    bar.set_description("train 2/3")
    assert bar.desc == "train 2/3: "
    assert only_phase(frontend_tracker).message == "train 2/3, epoch=2, loss=0.123"
    bar.set_postfix_str("fast", refresh=False)
    bar.set_description_str("train")  # back to the title: only the postfix is left
    assert only_phase(frontend_tracker).message == "fast"
    bar.set_postfix_str("")
    assert only_phase(frontend_tracker).message == ""
    bar.close()
    assert only_phase(frontend_tracker).title == "train"


def test_drawing_calls_and_arguments_are_accepted(frontend_tracker: Any) -> None:
    bar = tqdm(
        total=5, file=io.StringIO(), ncols=80, nrows=10, ascii=True, unit="B", unit_scale=True, unit_divisor=1024,
        dynamic_ncols=True, smoothing=0.1, bar_format="{l_bar}", position=3, colour="green", delay=0.5,
        maxinterval=1.0, lock_args=(False,), write_bytes=True, gui=False, leave=False,
    )
    assert bar.refresh() is True
    assert bar.display() is True
    bar.clear()
    bar.unpause()
    bar.moveto(2)
    assert (bar.unit, bar.unit_scale, bar.leave, bar.pos) == ("B", True, False, 3)
    bar.close()


def test_format_dict_has_tqdms_keys(frontend_tracker: Any) -> None:
    real = pytest.importorskip("tqdm").tqdm

    with open(os.devnull, "w") as devnull, real(total=3, file=devnull) as theirs:
        expected = set(theirs.format_dict)
    with tqdm(total=3, desc="x") as bar:
        bar.update(2)
        ours = bar.format_dict
    assert expected <= set(ours)
    assert (ours["n"], ours["total"], ours["prefix"]) == (2, 3, "x")


def test_len_bool_contains_and_text_as_tqdm(frontend_tracker: Any) -> None:
    bar = tqdm([1, 2, 3], desc="d")
    assert len(bar) == 3 and bool(bar) and 2 in bar
    assert str(bar) == "d: 0/3 it"
    bar.close()
    assert not tqdm(total=0)
    with pytest.raises(TypeError):
        bool(tqdm(disable=True))


def test_reversed_iterates_backwards(frontend_tracker: Any) -> None:
    assert list(reversed(tqdm([1, 2, 3]))) == [3, 2, 1]


def test_trange_and_disable(frontend_tracker: Any) -> None:
    assert list(trange(2, 8, 2)) == [2, 4, 6]
    bar = tqdm(range(4), disable=True)
    assert list(bar) == [0, 1, 2, 3]
    assert bar.update(3) is None and bar.n == 0  # tqdm: a disabled bar does not count
    assert [p.title for p in phases(frontend_tracker)] == [""]  # only the trange


def test_context_manager_marks_failure(frontend_tracker: Any) -> None:
    with pytest.raises(KeyError), tqdm(total=3, desc="failing") as bar:
        bar.update(1)
        raise KeyError("x")
    phase = only_phase(frontend_tracker)
    assert (phase.finished, phase.success, phase.reason, phase.current) == (True, False, "KeyError: 'x'", 1)


def test_an_iterable_that_raises_fails_the_bar_and_break_does_not(frontend_tracker: Any) -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise OSError("disk")

    with pytest.raises(OSError):
        for _ in tqdm(broken(), desc="broken"):
            pass
    for item in tqdm(range(10), desc="early"):
        if item == 3:
            break
    by_title = {p.title: p for p in phases(frontend_tracker)}
    assert (by_title["broken"].success, by_title["broken"].reason) == (False, "OSError: disk")
    assert (by_title["early"].success, by_title["early"].current) == (True, 3)


# --- nesting and grouping -------------------------------------------------------------------------


def test_a_bar_opened_inside_another_is_its_sub_phase(frontend_tracker: Any) -> None:
    for _ in trange(3, desc="epochs"):
        for _ in tqdm(range(5), desc="batches", leave=False):
            pass
    (op,) = frontend_tracker.snapshot().operations
    (outer,) = op.phases
    assert (outer.title, outer.current) == ("epochs", 3)
    assert [(p.title, p.current, p.finished) for p in outer.phases] == [("batches", 5, True)] * 3


def test_bars_of_other_threads_do_not_nest(frontend_tracker: Any) -> None:
    with tqdm(total=1, desc="main"):
        thread = threading.Thread(target=lambda: list(tqdm(range(2), desc="other")))
        thread.start()
        thread.join()
    assert sorted(op.title for op in frontend_tracker.snapshot().operations) == ["main", "other"]


def test_asyncio_tasks_nest_under_the_bar_open_where_they_were_created(frontend_tracker: Any) -> None:
    async def work(index: int) -> int:
        async for _ in tqdm(_arange(4), desc=f"task {index}", total=4):
            await asyncio.sleep(0)
        return index

    async def main() -> list[int]:
        with tqdm(total=3, desc="all"):
            return await tqdm.gather(*(work(i) for i in range(3)), desc="gathered")

    assert asyncio.run(main()) == [0, 1, 2]
    (op,) = frontend_tracker.snapshot().operations
    (outer,) = op.phases
    (gathered,) = outer.phases
    assert (gathered.title, gathered.current) == ("gathered", 3)
    assert sorted((p.title, p.current) for p in gathered.phases) == [(f"task {i}", 4) for i in range(3)]


async def _arange(n: int) -> Any:
    for i in range(n):
        yield i


def test_operation_argument_and_environment_name_the_operation(frontend_tracker: Any, monkeypatch: Any) -> None:
    with frontend_tracker.operation("pipeline") as op:
        tqdm(range(2), desc="a", operation=op.operation_id).close()
        monkeypatch.setenv(OPERATION_ENV, op.operation_id)
        list(tqdm(range(2), desc="b"))
    assert [op.title for op in frontend_tracker.snapshot().operations] == ["pipeline"]
    assert [p.title for p in op.phases.values()] == ["a", "b"]


def test_shared_operation_groups_bars_and_exports_its_id(frontend_tracker: Any) -> None:
    with shared_operation("group") as op:
        assert os.environ[OPERATION_ENV] == op.operation_id
        list(tqdm(range(2), desc="one"))
        list(tqdm(range(3), desc="two"))
    assert OPERATION_ENV not in os.environ
    (snapshot,) = frontend_tracker.snapshot().operations
    assert [(p.title, p.current) for p in snapshot.phases] == [("one", 2), ("two", 3)]


def test_a_bar_whose_tracker_fails_still_counts() -> None:
    class Broken(mpprogress.BaseProgressTracker):
        def start_operation(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("no")

    bar = tqdm(range(3), tracker=Broken())
    assert list(bar) == [0, 1, 2] and bar.n == 3


def test_with_nothing_to_show_them_bars_get_a_display_of_their_own() -> None:
    mpprogress.set_tracker(None)
    assert placement.active_display() is None
    with tqdm(total=2, desc="alone") as bar:
        display = placement.active_display()
        assert display is not None
        inner = tqdm(total=1, desc="inner")
        assert placement.active_display() is display
        inner.close()
        bar.update(2)
    assert placement.active_display() is None
    mpprogress.set_tracker(None)


# --- writing and locks -----------------------------------------------------------------------------


def test_write_prints_like_tqdm_outside_a_worker(frontend_tracker: Any, capsys: Any) -> None:
    tqdm.write("hello")
    buffer = io.StringIO()
    tqdm.write("to a file", file=buffer, end="!")
    with tqdm.external_write_mode():
        print("plain print")
    assert capsys.readouterr().out == "hello\nplain print\n"
    assert buffer.getvalue() == "to a file!"


def test_write_aimed_at_the_real_stderr_goes_through_the_current_stderr(frontend_tracker: Any) -> None:
    redirected = io.StringIO()
    with contextlib.redirect_stderr(redirected):
        tqdm.write("above the display", file=sys.__stderr__)
    assert redirected.getvalue() == "above the display\n"


def test_get_lock_and_set_lock_are_accepted_and_picklable() -> None:
    class Own(tqdm[Any]):
        pass

    lock = Own.get_lock()
    with lock:
        assert lock.acquire() is True
        lock.release()
    assert pickle.loads(pickle.dumps(lock.mp_lock)) is not None
    marker = threading.RLock()
    Own.set_lock(marker)
    assert Own.get_lock() is marker
    assert tqdm.format_sizeof(12345) == "12.3k" and tqdm.format_interval(3725) == "1:02:05"
    assert tqdm.format_num(0.000123456) == "0.000123"


def test_logging_redirect_tqdm_prints_through_write(frontend_tracker: Any, capsys: Any) -> None:
    import logging

    pytest.importorskip("tqdm")
    from tqdm.contrib.logging import logging_redirect_tqdm

    logger = logging.getLogger("frontend-test")
    handler = logging.StreamHandler(sys.stdout)
    logger.addHandler(handler)
    try:
        with logging_redirect_tqdm(loggers=[logger], tqdm_class=tqdm):
            logger.warning("through tqdm.write")
    finally:
        logger.removeHandler(handler)
    assert "through tqdm.write" in capsys.readouterr().out


def test_thread_map_from_tqdm_contrib_counts_exactly(frontend_tracker: Any) -> None:
    pytest.importorskip("tqdm")
    from tqdm.contrib.concurrent import thread_map

    assert thread_map(lambda x: x * 2, range(300), max_workers=4, tqdm_class=tqdm, desc="doubling") == [
        x * 2 for x in range(300)
    ]
    phase = only_phase(frontend_tracker)
    assert (phase.title, phase.current, phase.total, phase.success) == ("doubling", 300, 300, True)
