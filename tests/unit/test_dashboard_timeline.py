"""The dashboard's timeline over a part of the run: the latest operation, or the last minutes."""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("aiohttp")

import mpprogress
from mpprogress._dashboard.timeline import timeline_svg, window_start
from mpprogress._report.reader import load_run
from mpprogress._report.svg import LABEL_W
from tests.integration.conftest import wait_for


def _run(tracker: mpprogress.BaseProgressTracker) -> None:
    early = tracker.start_operation("early", "early batch")
    early.start_phase("old", "old phase", total=3).update(3)
    early.finish_phase("old")
    long = early.start_phase("long", "long phase", total=2)
    time.sleep(0.3)
    with tracker.operation("late batch") as late, late.phase("new phase", total=3) as phase:
        phase.update(3)
    long.update(2)
    early.finish_phase("long")
    tracker.finish_operation("early")


BAR = re.compile(rb'<rect class="bar[^"]*" x="([\d.]+)"[^>]*data-phase-id="([^"]+)"')


def _bars(svg: bytes) -> dict[bytes, float]:
    return {phase: float(x) for x, phase in BAR.findall(svg)}


def test_the_latest_operation_leaves_out_what_ended_before_it_and_cuts_what_began_before(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    with mpprogress.session(console=False, journal=path) as tracker:
        _run(tracker)
    figures = load_run(path)
    whole, latest = timeline_svg(figures), timeline_svg(figures, window_start(figures, "latest", time.time()))
    assert b"old phase" in whole and b"old phase" not in latest
    assert b"new phase" in latest and b"long phase" in latest
    assert all(x >= LABEL_W for x in _bars(latest).values()) and len(_bars(latest)) == 2
    # the last 5 minutes hold the whole of this run; a window that begins after it ends is empty
    assert _bars(timeline_svg(figures, window_start(figures, "5m", time.time()))) == _bars(whole)
    assert _bars(timeline_svg(figures, figures.run.end + 60)) == {}


def test_the_page_asks_the_server_for_a_window(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    with mpprogress.session(console=False, journal=path, dashboard="127.0.0.1:0") as tracker:
        _run(tracker)
        url = mpprogress.dashboard_url() or ""

        def svg(query: str) -> bytes:
            with urllib.request.urlopen(f"{url}api/timeline.svg{query}", timeout=10) as response:
                return response.read()  # type: ignore[no-any-return]

        assert wait_for(lambda: b"new phase" in svg("") and b"old phase" in svg(""), timeout=30)
        assert b"old phase" not in svg("?window=latest") and b"new phase" in svg("?window=latest")
        assert b"old phase" in svg("?window=bogus")  # not a window: the whole run


def test_a_finished_phase_is_drawn_finished_as_soon_as_the_journal_has_it(tmp_path: Path) -> None:
    from mpprogress._dashboard.live import TrackerSource
    from mpprogress._dashboard.timeline import JournalTimeline
    from mpprogress.adapters.web import EventStream

    path = tmp_path / "run.db"
    with mpprogress.session(console=False, journal=path) as tracker:
        op = tracker.start_operation("op", "Run")
        phase = op.start_phase("p", "slow phase", total=2)
        phase.update(1)
        assert wait_for(lambda: b'data-phase-id="p"' in (JournalTimeline(path)() or (0, b""))[1], timeout=30)
        timeline = JournalTimeline(path, every=3600)  # after its first drawing, none for an hour
        stream = EventStream()
        tracker.add_callback(stream)
        source = TrackerSource(tracker, stream, timeline=timeline)
        source.collect(force=True)
        first = timeline()
        assert first is not None and b'data-outcome="unfinished"' in first[1]
        phase.update(1)
        op.finish_phase("p")
        assert timeline() == first  # the file changed, but a drawing is not due for an hour
        # the dashboard's source sees the phase finish and has the timeline drawn again promptly
        assert wait_for(lambda: [source.collect()] and b'data-outcome="succeeded"' in (timeline() or (0, b""))[1],
                        timeout=30)
        source.close()
        tracker.remove_callback(stream)
        tracker.finish_operation("op")


def test_a_journals_dashboard_draws_a_finished_phase_as_soon_as_it_reads_it(tmp_path: Path) -> None:
    from mpprogress._dashboard.journal import JournalSource
    from mpprogress._dashboard.timeline import JournalTimeline

    path = tmp_path / "run.db"
    with mpprogress.session(console=False, journal=path) as tracker:
        op = tracker.start_operation("op", "Run")
        phase = op.start_phase("p", "slow phase", total=2)
        phase.update(1)
        assert wait_for(lambda: b'data-phase-id="p"' in (JournalTimeline(path)() or (0, b""))[1], timeout=30)
        source = JournalSource(path)
        source._timeline = JournalTimeline(path, every=3600)  # after its first drawing, none for an hour
        first = source.collect(force=True)
        assert first is not None and b'data-outcome="unfinished"' in (source.timeline_svg() or b"")
        op.finish_phase("p")

        def drawn_finished() -> bool:
            state = source.collect(force=True)
            return state is not None and b'data-outcome="incomplete"' in (source.timeline_svg() or b"")  # 1 of 2

        assert wait_for(drawn_finished, timeout=30)
        source.close()
        tracker.finish_operation("op")
