"""Threaded mode under stress: exact counts from many threads, asyncio, forked children."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
import threading
import time
from typing import Any

import pytest

from mpprogress import BaseProgressTracker
from mpprogress.testing import RecordingCallback
from tests.integration.conftest import wait_for


def test_sixteen_threads_on_one_phase_end_exact() -> None:
    tracker = BaseProgressTracker()
    events = RecordingCallback()
    tracker.add_callback(events)
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads as often as possible
    try:
        with tracker.operation("Stress") as op, op.phase("Shared", total=800_000) as phase:
            start = threading.Barrier(16)

            def work() -> None:
                update = phase.update
                start.wait()
                for _ in range(50_000):
                    update(1)

            threads = [threading.Thread(target=work) for _ in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        sys.setswitchinterval(old)
    assert phase.current == 800_000
    # The flusher thread may still be delivering: events arrive in order, but not necessarily
    # before the finishing thread returns (no thread waits for another's callbacks).
    assert wait_for(lambda: events.of_type("phase_finished"))
    final = events.of_type("progress_update")[-1].data
    assert (final["current"], final["percentage"]) == (800_000, 100.0)
    assert events.of_type("phase_finished")[0].data["current"] == 800_000
    tracker.close()


def test_threads_mixing_update_set_total_and_messages_stay_consistent() -> None:
    tracker = BaseProgressTracker(update_burst=2)
    with tracker.operation("Mixed") as op, op.phase("Shared") as phase:

        def work(n: int) -> None:
            for i in range(20_000):
                phase.update(1, f"thread {n} item {i}", **({"n": n} if i % 1000 == 0 else {}))

        def resize() -> None:
            for total in range(100):
                phase.set_total(160_000 + total)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        threads.append(threading.Thread(target=resize))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert phase.current == 160_000
    assert phase.total == 160_099
    assert phase.last_message is not None and phase.last_message.startswith("thread ")


def test_callbacks_see_a_monotonic_count_under_contention() -> None:
    tracker = BaseProgressTracker(max_update_rate=1000.0)
    seen: list[int] = []
    tracker.add_callback(lambda event_type, **data: seen.append(data["current"])
                         if event_type == "progress_update" else None)
    with tracker.operation("Op") as op, op.phase("P") as phase:
        threads = [threading.Thread(target=lambda: [phase.update(1) for _ in range(20_000)]) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert seen == sorted(seen)
    assert seen[-1] == 80_000


def test_asyncio_tasks_and_to_thread_work_update_one_phase() -> None:
    tracker = BaseProgressTracker()
    events = RecordingCallback()
    tracker.add_callback(events)

    async def main() -> None:
        semaphore = asyncio.Semaphore(10)
        with tracker.operation("Async") as op, op.phase("Content Extraction", total=200) as phase:

            async def extract(i: int) -> None:
                async with semaphore:
                    await asyncio.sleep(0)
                    if i % 2:
                        await asyncio.to_thread(phase.update, 1, f"thread {i}")
                    else:
                        phase.update(1, f"coroutine {i}")

            await asyncio.gather(*(extract(i) for i in range(200)))

    asyncio.run(main())
    assert wait_for(lambda: events.of_type("phase_finished"))  # the flusher may still be delivering
    assert events.of_type("phase_finished")[0].data["current"] == 200
    assert events.of_type("progress_update")[-1].data["current"] == 200


def exit_code_of_child(pid: int, timeout: float = 30.0) -> int:
    """The exit code of forked child ``pid``; a child still running after ``timeout`` is killed
    and the test fails (it hung on a lock a parent thread held at the fork)."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung on a lock a parent thread held at the fork")
        time.sleep(0.05)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_a_working_tracker_even_if_a_thread_held_the_lock() -> None:
    tracker = BaseProgressTracker(update_burst=1, max_update_rate=50.0)
    op = tracker.start_operation("op", "Op")
    phase = op.start_phase("p", "P")
    for _ in range(100):
        phase.update(1)  # the flusher thread is now running in the parent
    holding = threading.Event()
    release = threading.Event()

    def hold_lock() -> None:
        with tracker._lock:
            holding.set()
            release.wait(5)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    holding.wait(5)
    pid = os.fork()
    if pid == 0:  # child: the lock was held by a thread that does not exist here
        code = 1
        try:
            child_events: list[Any] = []
            tracker.add_callback(lambda event_type, **data: child_events.append(event_type))
            phase.update(5)
            op.finish_phase("p")
            code = 0 if phase.current == 105 and child_events[-1] == "phase_finished" else 2
        finally:
            os._exit(code)
    release.set()
    holder.join()
    assert exit_code_of_child(pid) == 0
    tracker.close()


def test_finishing_waits_for_events_another_thread_is_still_delivering(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("mpprogress._core.phases", "mpprogress._core.tracker"):  # a loaded machine: no early give-up
        monkeypatch.setattr(f"{module}.SETTLE_TIMEOUT", 60.0)
    tracker = BaseProgressTracker()
    events = RecordingCallback()
    inside = threading.Event()

    def slow(*, event_type: str, **data: Any) -> None:
        if event_type == "progress_update" and threading.current_thread().name == "updater":
            inside.set()
            time.sleep(0.3)  # a slow sink, delivering on the updating thread

    tracker.add_callback(slow)
    tracker.add_callback(events)
    op = tracker.start_operation("op", "Op")
    phase = op.start_phase("p", "P", total=1)
    updater = threading.Thread(target=phase.update, args=(1,), name="updater")
    updater.start()
    assert inside.wait(10)
    op.finish_phase("p")  # the updater is still delivering its progress_update
    assert [e.type for e in events.events][-2:] == ["progress_update", "phase_finished"]
    updater.join()
    tracker.close()


def test_a_callback_may_finish_a_phase_without_waiting_for_itself() -> None:
    tracker = BaseProgressTracker()
    events = RecordingCallback()
    op = tracker.start_operation("op", "Op")

    def finisher(*, event_type: str, **data: Any) -> None:
        if event_type == "progress_update" and data["current"] == 5:
            op.finish_phase("p")  # re-entrant: this thread is the one delivering

    tracker.add_callback(finisher)
    tracker.add_callback(events)
    phase = op.start_phase("p", "P", total=5)
    phase.update(5)
    assert events.of_type("phase_finished")[0].data["current"] == 5
    tracker.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_makes_bars_even_if_a_parent_thread_was_making_one() -> None:
    import mpprogress
    from mpprogress._frontends import patch, placement, tqdm_compat

    holding, release = threading.Event(), threading.Event()

    def inside_bar_making() -> None:  # where a parent thread is while it opens or closes a bar
        with tqdm_compat._registry.current(), placement._tree_lock.current(), patch._lock.current():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=inside_bar_making)
    holder.start()
    assert holding.wait(5)
    pid = os.fork()
    if pid == 0:  # child: those locks were held by a thread that does not exist here
        code = 1
        try:
            out = io.StringIO()
            with mpprogress.patch_tqdm(), mpprogress.tqdm(total=2, desc="outer", file=out) as outer:
                for _ in mpprogress.tqdm(range(5), desc="inner", file=out):
                    pass
                outer.update(2)
            code = 0 if outer.n == 2 else 2
        finally:
            os._exit(code)
    release.set()
    holder.join()
    assert exit_code_of_child(pid) == 0
