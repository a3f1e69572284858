"""Resume after a crash, in one process: stable keys, where phases resume, item keys, rate and ETA."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from mpprogress._base.metrics import RateMeter
from mpprogress._base.resume import MAX_ITEM_KEY, ResumePoint, item_key
from mpprogress._core.tracker import BaseProgressTracker
from mpprogress._report import load_run, render
from mpprogress.adapters.console import ConsoleProgressTracker
from mpprogress.adapters.console._config import ConsoleConfig
from mpprogress.adapters.journal import JournalConfig, JournalSink
from mpprogress.testing import FakeClock

from .screen import screen, terminal, wait_for

MANUAL = JournalConfig(flush_interval=3600.0)
URLS = [f"https://example.org/{n}" for n in range(10)]


def rows(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, args).fetchall()


def crash(journal: JournalSink) -> None:
    """What SIGKILL leaves: everything flushed is in the file; the run is never closed."""
    assert journal.flush()
    journal._writer.end_run = lambda *args: None  # type: ignore[method-assign] - the run stays open
    journal.close()


def scrape(path: Path, stop_at: str | None, seen: list[str], *, key: bool = True) -> BaseProgressTracker:
    """One run over ``URLS``; it "crashes" at ``stop_at`` (before that item's body ran)."""
    journal = JournalSink(path, resume=True, config=MANUAL)
    tracker = BaseProgressTracker(journal=journal, max_update_rate=None)
    op = tracker.start_operation("scrape", "Scrape")
    phase = op.start_phase("download", "Download", total=len(URLS))
    for url in phase.track(URLS, key=str) if key else phase.track(URLS):
        if url == stop_at:
            crash(journal)
            return tracker
        seen.append(url)
    op.finish_phase("download")
    tracker.finish_operation("scrape")
    tracker.close()
    journal.close()
    return tracker


def test_keyed_track_resumes_after_a_crash_and_skips_the_items_done(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    first: list[str] = []
    scrape(path, URLS[4], first)
    assert first == URLS[:4]
    second: list[str] = []
    tracker = scrape(path, URLS[7], second)
    assert second == URLS[4:7]
    phase = tracker.get_phase("download")
    assert phase is not None and phase.resumed_from == 4 and phase.current == 7
    third: list[str] = []
    tracker = scrape(path, None, third)
    assert third == URLS[7:]
    phase = tracker.get_phase("download")
    assert phase is not None and phase.resumed_from == 7 and phase.current == 10
    assert rows(path, "SELECT run_id, resumed_from, ended_at IS NOT NULL FROM runs") == [
        (1, None, 0), (2, 1, 0), (3, 2, 1)
    ]
    assert rows(path, "SELECT current, success FROM phases WHERE run_id = 3") == [(10, 1)]
    # every item recorded exactly once over the three runs: none was done twice
    assert rows(path, "SELECT count(*), count(DISTINCT item_key) FROM done_items") == [(10, 10)]


def test_a_phase_finished_in_the_earlier_run_is_done_and_its_loop_skipped(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    scrape(path, None, [])
    again: list[str] = []
    tracker = scrape(path, None, again, key=False)
    assert again == []
    phase = tracker.get_phase("download")
    assert phase is not None and phase.resumed is not None and phase.resumed.finished
    assert phase.current == 10 and phase.success


def test_track_without_keys_skips_the_first_resumed_from_items(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    journal = JournalSink(path, config=MANUAL)
    tracker = BaseProgressTracker(journal=journal, max_update_rate=None)
    with tracker.operation("Scrape") as op, op.phase("Download", total=10) as phase:
        for _ in phase.track(range(6)):
            pass
        crash(journal)
    seen: list[int] = []
    with JournalSink(path, resume=True, config=MANUAL) as journal:
        tracker = BaseProgressTracker(journal=journal, max_update_rate=None)
        with tracker.operation("Scrape") as op, op.phase("Download") as phase:
            assert phase.resumed_from == 6 and phase.total == 10  # the total too, when not given
            seen.extend(phase.track(range(10)))
            assert phase.current == 10
    assert seen == [6, 7, 8, 9]


def test_without_resume_nothing_resumes_but_keys_are_recorded(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    scrape(path, URLS[3], [])
    with JournalSink(path, config=MANUAL) as journal:
        tracker = BaseProgressTracker(journal=journal, max_update_rate=None)
        with tracker.operation("Scrape") as op, op.phase("Download", total=10) as phase:
            assert phase.resumed_from is None
            assert len(list(phase.track(URLS, key=str))) == 10
    assert rows(path, "SELECT run_id, resumed_from FROM runs") == [(1, None), (2, None)]
    assert rows(path, "SELECT count(*) FROM done_items d JOIN phases p USING (phase_row) WHERE run_id = 2") == [(10,)]


def test_keys_are_titles_paths_and_duplicates_start_afresh(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with JournalSink(path, config=MANUAL) as journal:
        tracker = BaseProgressTracker(journal=journal, max_update_rate=None)
        op = tracker.start_operation("op-1", "Import")
        outer = op.start_phase("a", "Files", total=100)
        inner = outer.start_phase("b", "page/1", total=10)
        inner.update(3)
        outer.update(40)
        twins = [op.start_phase(f"twin-{n}", "chunk", total=5) for n in range(2)]
        for twin in twins:
            twin.update(2)
        crash(journal)
    with JournalSink(path, resume=True, config=MANUAL) as journal:
        tracker = BaseProgressTracker(journal=journal, max_update_rate=None)
        with tracker.operation("Import", operation_id="other-id") as op:
            assert op.start_phase("x", "Files").resumed_from is None  # another operation key
        op = tracker.start_operation("op-1", "Renamed")  # the id given is the key
        outer = op.start_phase("a2", "Files")
        assert outer.resumed_from is None  # phase ids given are keys: "a" is not "a2"
        outer = op.start_phase("a", "Files")
        assert (outer.resumed_from, outer.total) == (40, 100)
        assert outer.start_phase("c", "page/1").resumed_from is None  # key "a/page\\/1" vs "a/c"
        twin = op.start_phase("t", "chunk")
        assert twin.resumed_from is None  # two "chunk" phases in the earlier run: ambiguous


def test_only_the_first_phase_with_a_key_resumes(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    scrape(path, URLS[5], [])
    with JournalSink(path, resume=True, config=MANUAL) as journal:
        tracker = BaseProgressTracker(journal=journal, max_update_rate=None)
        op = tracker.start_operation("scrape", "Scrape")
        first = op.start_phase("download", "Download")
        op.finish_phase("download")
        with op.phase("Download") as second:
            assert first.resumed_from == 5 and second.resumed_from is None


def test_long_and_odd_item_keys_become_digests() -> None:
    assert item_key("https://example.org/1") == "https://example.org/1"
    assert item_key(42) == "42"
    long = item_key("x" * (MAX_ITEM_KEY + 1))
    assert long.startswith("sha1:") and long == item_key("x" * (MAX_ITEM_KEY + 1))
    assert item_key("a\nb").startswith("sha1:") and item_key("\ud800").startswith("sha1:")
    assert item_key("é" * (MAX_ITEM_KEY // 2)) == "é" * (MAX_ITEM_KEY // 2)


class FixedSource:
    """A resume source that resumes every phase at ``point`` and records keys."""

    resuming = True

    def __init__(self, point: ResumePoint, done: frozenset[str] = frozenset()) -> None:
        self.point = point
        self.done = done
        self.recorded: list[tuple[str, str]] = []

    def resume_point(self, operation_key: str, phase_key: str) -> ResumePoint | None:
        return self.point

    def done_keys(self, operation_key: str, phase_key: str) -> frozenset[str]:
        return self.done

    def record_done(self, phase_id: str, keys: Sequence[str]) -> None:
        self.recorded.extend((phase_id, key) for key in keys)

    def __call__(self, *, event_type: str, **data: Any) -> None:
        pass


def test_rate_and_eta_after_a_resume_come_from_progress_since(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, max_update_rate=None, auto_flush=False,
                                  journal=FixedSource(ResumePoint(400, 1000)))
    op = tracker.start_operation("op", "Op")
    phase = op.start_phase("p", "Phase")
    assert (phase.current, phase.total, phase.resumed_from) == (400, 1000, 400)
    for _ in range(10):
        clock.advance(1.0)
        phase.update(10)
    view = tracker.snapshot().operations[0].phases[0]
    assert view.resumed_from == 400 and view.current == 500
    assert view.rate == pytest.approx(10.0)  # 100 items in 10 s; not 500 in 10 s
    assert view.eta == pytest.approx(50.0)  # 500 left at 10/s
    clock.advance(5.0)
    op.finish_phase("p")
    view = tracker.snapshot().operations[0].phases[0]
    assert view.rate == pytest.approx(100 / 15)  # the average since the resume


def test_rate_meter_baseline() -> None:
    meter = RateMeter(0.0, baseline=400)
    assert meter.average(10.0, 500) == pytest.approx(10.0)
    speed = meter.sample(10.0, 500, 1000)
    assert speed.rate == pytest.approx(10.0) and speed.eta == pytest.approx(50.0)


def test_keyed_track_skips_done_keys_and_records_the_others() -> None:
    source = FixedSource(ResumePoint(2, 5, done_keys=2), frozenset({"a", "c"}))
    tracker = BaseProgressTracker(max_update_rate=None, journal=source)
    with tracker.operation("Op") as op, op.phase("Phase") as phase:
        assert list(phase.track("abcde", key=str)) == ["b", "d", "e"]
        assert phase.current == 5
        assert [key for _, key in source.recorded] == ["b", "d", "e"]


def test_the_console_says_where_a_phase_resumed() -> None:
    console = terminal(width=120)
    source = FixedSource(ResumePoint(400, 1000))
    config = ConsoleConfig(show_summary=False, refresh_rate=50)
    with ConsoleProgressTracker(console, config=config, journal=source) as tracker:
        op = tracker.start_operation("op", "Scrape")
        phase = op.start_phase("p", "Download")
        phase.update(5)

        def shown() -> bool:
            return any("Download" in line and "resumed at 400/1,000" in line and "405/1,000" in line
                       for line in screen(console))

        wait_for(shown)


def test_the_report_says_which_run_a_run_resumed(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    scrape(path, URLS[4], [])
    scrape(path, None, [])
    assert "resumed         run 1" in render(load_run(path), "text", width=140)
    assert "run 1 (phases continued" in render(load_run(path), "html")
    assert json.loads(render(load_run(path), "json"))["run"]["resumed_from"] == 1
    assert json.loads(render(load_run(path, 1), "json"))["run"]["resumed_from"] is None
