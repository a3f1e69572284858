"""Plain mode's lines for a worker's phase that stalls and recovers, and for a resumed phase."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from mpprogress import BaseProgressTracker
from mpprogress._base.events import Worker
from mpprogress.adapters.console import ConsoleConfig, ConsoleSink
from mpprogress.adapters.journal import JournalSink
from mpprogress.testing import FakeClock
from tests.unit.test_console_plain_timer import plain_console
from tests.unit.test_console_sink import output, wait_for
from tests.unit.test_resume import MANUAL, crash

QUIET = ConsoleConfig(plain_interval=10.0, show_summary=False)


def lines_of(console: Console, words: str) -> list[str]:
    return [line[9:] for line in output(console).splitlines() if words in line]  # past the timestamp


def test_a_stalled_phase_gets_one_line_when_it_stalls_and_one_when_it_recovers() -> None:
    console = plain_console()
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    with ConsoleSink(tracker, console=console, config=QUIET, get_time=clock):
        op = tracker.start_operation("op", "Op")
        phase = op.start_phase("p", "Remote", total=100, worker=Worker("box", 11))
        phase.update(40)
        local = op.start_phase("q", "Local", total=10)  # quiet, never stalled: its "still running" lines go on
        phase.stalled = True  # as the aggregator's applier flags it while its worker is silent
        clock.advance(2.0)
        wait_for(lambda: len(lines_of(console, "stalled")) == 1)
        time.sleep(0.3)  # several heartbeat ticks: no second line
        clock.advance(30.0)  # past the plain interval: the local phase is still running, the stalled one is not said so
        wait_for(lambda: len(lines_of(console, "Local: still running")) == 1)
        time.sleep(0.3)
        stalled = "? Op › Remote: stalled — no news from its worker (at 40/100 after 2.0s)"  # noqa: RUF001
        assert lines_of(console, "stalled") == [stalled]
        assert lines_of(console, "Remote: still running") == []
        phase.stalled = False  # heard from again
        wait_for(lambda: len(lines_of(console, "heard from again")) == 1)
        time.sleep(0.3)
        assert lines_of(console, "heard from again") == ["· Op › Remote: its worker is heard from again (at 40/100)"]  # noqa: RUF001
        assert len(lines_of(console, "stalled")) == 1
        local.update(10)
        tracker.finish_operation("op")
    assert len(lines_of(console, "heard from again")) == 1 and len(lines_of(console, "stalled")) == 1


def test_a_resumed_phase_says_where_on_its_start_line(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    journal = JournalSink(path, resume=True, config=MANUAL)
    tracker = BaseProgressTracker(journal=journal, max_update_rate=None)
    tracker.start_operation("job", "Job").start_phase("download", "Download", total=1000).update(400)
    crash(journal)
    console = plain_console()
    journal = JournalSink(path, resume=True, config=MANUAL)
    tracker = BaseProgressTracker(journal=journal, max_update_rate=None)
    with ConsoleSink(tracker, console=console, config=QUIET):
        op = tracker.start_operation("job", "Job")
        op.start_phase("download", "Download", total=1000)
        op.start_phase("fresh", "Fresh", total=5)
        tracker.finish_operation("job")
    journal.close()
    started = lines_of(console, "started (total")
    assert started == ["▸ Job › Download: started (total 1,000), resumed at 400/1,000",  # noqa: RUF001
                       "▸ Job › Fresh: started (total 5)"]  # noqa: RUF001
