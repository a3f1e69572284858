"""The dashboard's state: rows from a tracker's snapshot, patches, workers, logs, viewers' queues."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from mpprogress import BaseProgressTracker
from mpprogress._base.events import OperationStarted, PhaseFinished, PhaseStarted, ProgressUpdate, Worker
from mpprogress._base.formats import format_eta
from mpprogress._dashboard.hub import RESYNC, Hub, Viewer
from mpprogress._dashboard.journal import JournalSource
from mpprogress._dashboard.live import TrackerSource, WorkerBook
from mpprogress._dashboard.model import LogBook, State, diff, eta_seconds, rounded
from mpprogress.adapters.web import EventStream
from tests.unit.journal_runs import CRAWL, write_run


def _source(tracker: BaseProgressTracker, logs: LogBook | None = None) -> TrackerSource:
    stream = EventStream()
    tracker.add_callback(stream)
    return TrackerSource(tracker, stream, logs=logs)


def test_rows_carry_what_the_page_shows_and_text_is_cleaned() -> None:
    tracker = BaseProgressTracker(max_update_rate=None)
    source = _source(tracker)
    op = tracker.start_operation("op", "Crawl \x1b[31m<b>")
    phase = op.start_phase("p", "fetch\nall", total=200)
    phase.update(50, message="page \x07 7")
    op.start_phase("q", "parse", total=None)
    state = source.collect()
    assert state is not None
    row = state.phases["p"]
    assert (row["current"], row["total"], row["pct"], row["title"], row["message"]) == (50, 200, 25.0, "fetch all",
                                                                                        "page  7")
    assert row["outcome"] is None and row["finished"] is False and row["op"] == "op"
    assert state.phases["q"]["total"] is None and state.phases["q"]["pct"] is None
    assert state.operations["op"]["title"] == "Crawl [31m<b>"  # escape removed, markup kept as text
    assert state.operations["op"]["running"] == 2
    op.finish_phase("p", success=False)
    tracker.finish_operation("op", success=False)
    state = source.collect()
    assert state is not None
    assert state.phases["p"]["outcome"] == "failed" and state.operations["op"]["outcome"] == "failed"
    json.dumps(state.document(), allow_nan=False)  # all of it is plain JSON


def test_a_patch_holds_only_what_changed_and_nothing_when_nothing_did() -> None:
    tracker = BaseProgressTracker(max_update_rate=None)
    source = _source(tracker)
    op = tracker.start_operation("op", "Op")
    first = op.start_phase("a", "A", total=10)
    op.start_phase("b", "B", total=10)
    before = source.collect()
    assert before is not None
    first.update(3)
    after = source.collect()
    assert after is not None
    patch = diff(before, after)
    assert patch is not None and set(patch["phases"]) == {"a"} and patch["phases"]["a"]["current"] == 3
    assert "b" not in patch["phases"]
    assert source.collect() is None  # no event since: nothing to read
    assert diff(after, after) is None
    op.finish_phase("b")
    op.finish_phase("a")
    tracker.max_completed_operations = 0  # finishing prunes it at once
    tracker.finish_operation("op")
    gone = source.collect()
    assert gone is not None
    patch = diff(after, gone)
    assert patch is not None and set(patch["operations_removed"]) == {"op"}
    assert set(patch["phases_removed"]) == {"a", "b"}


def test_workers_come_from_events_and_a_lost_phase_marks_its_worker_lost() -> None:
    clock = iter(range(100, 200))
    book = WorkerBook(get_time=lambda: float(next(clock)))
    one, two = Worker("box", 11), Worker("box", 12)
    book.apply([OperationStarted("op", "Op"), PhaseStarted("op", "p1", worker=one),
                PhaseStarted("op", "p2", worker=two)])
    book.apply([ProgressUpdate("op", "p1", current=3)])
    book.apply([PhaseFinished("op", "p2", success=False, reason="lost")])
    rows = book.rows()
    assert rows["box:11"] == {"host": "box", "pid": 11, "state": "alive", "last": 101.0, "phases": 1, "running": 1}
    assert rows["box:12"]["state"] == "lost" and rows["box:12"]["running"] == 0 and rows["box:12"]["last"] == 102.0
    assert book.phase_workers == {"p1": "box:11", "p2": "box:12"}
    book.retain({"p1"})
    assert book.phase_workers == {"p1": "box:11"}


def test_workers_are_bounded() -> None:
    book = WorkerBook(keep=3)
    book.apply([PhaseStarted("op", f"p{n}", worker=Worker("h", n)) for n in range(10)])
    assert len(book.rows()) == 3 and len(book.phase_workers) == 3


def test_the_log_book_keeps_the_newest_records_as_text() -> None:
    book = LogBook(keep=3)
    log = logging.getLogger("mpprogress.test.dashboard")
    log.addHandler(book)
    try:
        for n in range(5):
            log.warning("record %d <script>\x1b[2J", n)
    finally:
        log.removeHandler(book)
    entries = book.entries()
    assert [entry["seq"] for entry in entries] == [3, 4, 5]
    assert entries[-1]["message"] == "record 4 <script>[2J" and entries[-1]["level"] == "WARNING"
    old, new = State(logs=entries[:1]), State(logs=entries)
    assert [entry["seq"] for entry in (diff(old, new) or {})["logs"]] == [4, 5]


def test_an_event_buffer_that_overflows_says_so_and_the_source_resyncs() -> None:
    stream = EventStream()
    buffer = stream.watch(max_events=4)
    for n in range(10):
        stream(event_type="operation_started", operation_id=f"op{n}", title="t")
    events, overflowed = buffer.drain()
    assert overflowed and [e.operation_id for e in events] == ["op6", "op7", "op8", "op9"]  # type: ignore[union-attr]
    assert buffer.drain() == ([], False)
    buffer.close()
    stream(event_type="operation_started", operation_id="late", title="t")
    assert buffer.drain() == ([], False)


def test_a_slow_viewer_holds_a_bounded_queue_then_gets_one_snapshot() -> None:
    async def run() -> None:
        viewer = Viewer(max_queued=4)
        for seq in range(1, 100):
            viewer.offer(seq, b"x" * 1000)
        assert viewer.queue.qsize() <= 4 and viewer.resyncs >= 1
        queued = [viewer.queue.get_nowait()[0] for _ in range(viewer.queue.qsize())]
        assert RESYNC in queued

    asyncio.run(run())


def test_the_hub_pushes_one_patch_per_change_and_a_joining_viewer_starts_from_a_snapshot() -> None:
    async def run() -> None:
        tracker = BaseProgressTracker(max_update_rate=None)
        hub = Hub(_source(tracker), extra={"csrf": "secret"})
        phase = tracker.start_operation("op", "Op").start_phase("p", "P", total=10)
        viewer, seq, message = hub.join()
        text = message.decode()
        assert text.startswith("event: snapshot\nid: ") and '"csrf":"secret"' in text and '"current":0' in text
        phase.update(4)
        hub.tick()
        hub.tick()  # nothing new: no push
        assert viewer.queue.qsize() == 1
        pushed, body = viewer.queue.get_nowait()
        assert pushed == seq + 1 and body.startswith(b"event: patch\n")
        data = json.loads(body.decode().split("data: ", 1)[1])
        assert data["phases"]["p"]["current"] == 4 and data["seq"] == pushed
        hub.leave(viewer)
        tracker.close()

    asyncio.run(run())


def test_rounding_keeps_three_significant_digits() -> None:
    assert [rounded(v) for v in (0.0, 123456.0, 1.23456, 0.000123456)] == [0.0, 123000.0, 1.23, 0.000123]
    assert rounded(float("inf")) is None and rounded(None) is None


def test_an_eta_reaches_the_page_cut_to_whole_seconds_as_the_console_writes_it() -> None:
    assert [eta_seconds(v) for v in (874.9, 59.99, 1.0, 0.28, 0.0)] == [874.0, 59.0, 1.0, 0.28, 0.0]
    assert [format_eta(eta_seconds(v)) for v in (874.9, 0.28, 360_000.5)] == [
        format_eta(874.9), "<0:00:01", format_eta(360_000.5)] == ["0:14:34", "<0:00:01", "4d 04h"]
    assert eta_seconds(None) is None and eta_seconds(float("inf")) is None and eta_seconds(-1.0) is None


def test_a_journal_becomes_the_same_rows(tmp_path: Path) -> None:
    journal = tmp_path / "crawl.db"
    write_run(journal, CRAWL)
    source = JournalSource(journal)
    try:
        state = source.collect(force=True)
        assert state is not None
        outcomes = {row["title"]: row["outcome"] for row in state.phases.values()}
        assert outcomes["index"] == "lost" and list(outcomes.values()).count("failed") == 1
        lost = [w for w in state.workers.values() if w["state"] == "lost"]
        assert len(lost) == 1
        assert state.meta["source"] == "journal" and state.meta["can_cancel"] is False
        assert source.collect() is None  # read again only after the poll interval
        assert source.timeline_svg() is not None and source.timeline_svg().startswith(b"<svg xmlns=")  # type: ignore[union-attr]
        assert source.cancel("anything") is False
    finally:
        source.close()


def test_a_journal_not_written_yet_is_waited_for(tmp_path: Path) -> None:
    source = JournalSource(tmp_path / "later.db")
    state = source.collect(force=True)
    assert state is not None and "no journal" in state.meta["error"] and state.phases == {}
    source.close()


def test_a_stalled_phase_has_no_eta_and_stalls_its_worker_until_it_is_heard_again() -> None:
    tracker = BaseProgressTracker(max_update_rate=None)
    source = _source(tracker)
    op = tracker.start_operation("op", "Op", worker=Worker("box", 11))
    silent = op.start_phase("p", "P", total=100, worker=Worker("box", 11))
    busy = op.start_phase("q", "Q", total=100, worker=Worker("box", 12))
    for phase in (silent, busy):
        phase.update(10)
    silent.stalled = True  # as the aggregator's applier flags it while its worker is silent
    state = source.collect(force=True)
    assert state is not None
    row = state.phases["p"]
    assert row["stalled"] is True and row["eta"] is None and row["finished"] is False and row["outcome"] is None
    assert state.phases["q"]["stalled"] is False
    assert state.operations["op"]["stalled"] == 1 and state.operations["op"]["running"] == 2
    assert state.operations["op"]["eta"] is None
    assert state.workers["box:11"]["state"] == "stalled" and state.workers["box:12"]["state"] == "alive"
    silent.stalled = False  # heard from again
    silent.update(1)
    after = source.collect()
    assert after is not None
    assert after.phases["p"]["stalled"] is False and after.workers["box:11"]["state"] == "alive"
    assert after.operations["op"]["stalled"] == 0 and after.operations["op"]["eta"] is not None
    patch = diff(state, after)
    assert patch is not None and patch["workers"]["box:11"]["state"] == "alive"


def test_a_worker_with_one_phase_still_moving_is_not_stalled_and_a_lost_one_stays_lost() -> None:
    book = WorkerBook(get_time=lambda: 5.0)
    one, two = Worker("box", 11), Worker("box", 12)
    book.apply([PhaseStarted("op", "a", worker=one), PhaseStarted("op", "b", worker=one),
                PhaseStarted("op", "c", worker=two), PhaseFinished("op", "c", success=False, reason="lost"),
                PhaseStarted("op", "d", worker=two)])
    rows = book.rows({"a", "d"})
    assert rows["box:11"]["state"] == "alive" and rows["box:12"]["state"] == "lost"
    assert book.rows({"a", "b"})["box:11"]["state"] == "stalled"
    assert book.rows()["box:11"]["state"] == "alive"  # the book itself keeps no verdict


def test_a_resumed_phase_says_where_and_an_incomplete_one_says_so() -> None:
    tracker = BaseProgressTracker(max_update_rate=None)
    source = _source(tracker)
    op = tracker.start_operation("op", "Op")
    resumed = op.start_phase("r", "R", total=1000)
    resumed.resumed_from = 400  # as a tracker resuming an earlier run's journal sets it
    parent = op.start_phase("parent", "Parent", total=10)
    parent.start_phase("child", "Child", total=50).update(20)
    op.finish_phase("parent")  # closes the child it left open, short of its total
    state = source.collect(force=True)
    assert state is not None
    assert state.phases["r"]["resumed"] == 400 and state.phases["parent"]["resumed"] is None
    child = state.phases["child"]
    assert (child["finished"], child["outcome"], child["reason"], child["current"]) == (True, "incomplete", None, 20)
