"""Plain mode's heartbeat: a quiet phase gets "still running" lines, a busy one gets no extra lines."""

from __future__ import annotations

import io
import threading
import time

from rich.console import Console

from mpprogress import BaseProgressTracker
from mpprogress.adapters.console import ConsoleConfig, ConsoleSink
from mpprogress.adapters.console._plain import PlainLines
from mpprogress.testing import FakeClock
from tests.unit.test_console_sink import output, wait_for

QUIET = ConsoleConfig(plain_interval=0.2, show_summary=False)


def plain_console() -> Console:
    return Console(file=io.StringIO(), force_terminal=False, width=120)


def heartbeat_threads(ignore: frozenset[threading.Thread] = frozenset()) -> list[threading.Thread]:
    """The live heartbeat threads, but those in ``ignore`` (other tests' sinks may still run)."""
    return [t for t in threading.enumerate() if t.name == "mpprogress-console-heartbeat" and t not in ignore]


def still_running(console: Console, path: str) -> list[str]:
    return [line for line in output(console).splitlines() if f"· {path}: still running" in line]


def test_a_silent_phase_gets_a_still_running_line_per_interval() -> None:
    console = plain_console()
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    with ConsoleSink(tracker, console=console, config=QUIET, get_time=clock):
        phase = tracker.start_operation("op", "Op").start_phase("p", "Crawl [b]x[/b]\x1b[2J", 10)
        phase.update(3)  # at once after the start line: throttled away, no line
        clock.advance(0.5)
        path = "Op › Crawl [b]x[/b][2J"  # noqa: RUF001
        wait_for(lambda: len(still_running(console, path)) == 1)
        time.sleep(0.3)  # several ticks; the clock has not moved, so no second line
        assert [line[9:] for line in still_running(console, path)] == [f"· {path}: still running at 3/10 after 0.5s"]
        clock.advance(0.5)
        wait_for(lambda: len(still_running(console, path)) == 2)
        assert still_running(console, path)[1].endswith("still running at 3/10 after 1.0s")
        tracker.finish_operation("op")
    assert "\x1b" not in output(console)


def test_with_the_real_clock_still_running_lines_come_at_most_once_per_interval() -> None:
    console = plain_console()
    tracker = BaseProgressTracker(auto_flush=False)
    sink = ConsoleSink(tracker, console=console, config=QUIET)
    started = time.monotonic()
    tracker.start_operation("op", "Op").start_phase("p", "Silent", None)
    wait_for(lambda: len(still_running(console, "Op › Silent")) >= 3)  # noqa: RUF001
    lines = still_running(console, "Op › Silent")  # noqa: RUF001
    assert len(lines) <= (time.monotonic() - started) / 0.2 + 2
    assert lines[0][9:].startswith("· Op › Silent: still running at 0 after ")  # noqa: RUF001
    sink.close()


def test_the_heartbeat_runs_only_while_an_operation_does() -> None:
    others = frozenset(heartbeat_threads())
    tracker = BaseProgressTracker(auto_flush=False)
    sink = ConsoleSink(tracker, console=plain_console(), config=QUIET)
    assert not heartbeat_threads(others)
    tracker.start_operation("op", "Op")
    assert len(heartbeat_threads(others)) == 1
    tracker.start_operation("op2", "Op 2")
    assert len(heartbeat_threads(others)) == 1
    tracker.finish_operation("op")
    assert len(heartbeat_threads(others)) == 1
    tracker.finish_operation("op2")
    wait_for(lambda: not heartbeat_threads(others))
    tracker.start_operation("op3", "Op 3")
    assert len(heartbeat_threads(others)) == 1
    sink.close()
    wait_for(lambda: not heartbeat_threads(others))
    tracker.start_operation("op4", "Op 4")  # a closed sink starts nothing
    assert not heartbeat_threads(others)


def test_no_heartbeat_when_every_update_prints_or_on_a_terminal() -> None:
    others = frozenset(heartbeat_threads())
    tracker = BaseProgressTracker(auto_flush=False)
    sink = ConsoleSink(tracker, console=plain_console(), config=ConsoleConfig(plain_interval=0))
    terminal = Console(file=io.StringIO(), force_terminal=True, width=120, height=30)
    live = ConsoleSink(tracker, console=terminal, config=ConsoleConfig(refresh_rate=50))
    tracker.start_operation("op", "Op")
    assert live.is_live and not heartbeat_threads(others)
    sink.close()
    live.close()


def test_a_quiet_sub_phase_speaks_for_its_parent() -> None:
    console = plain_console()
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    with ConsoleSink(tracker, console=console, config=QUIET, get_time=clock):
        op = tracker.start_operation("op", "Op")
        op.start_phase("p", "Parent", 2).start_phase("s", "Child", 5)
        clock.advance(0.25)
        wait_for(lambda: len(still_running(console, "Op › Parent › Child")) == 1)  # noqa: RUF001
        time.sleep(0.2)
        assert still_running(console, "Op › Parent") == []  # noqa: RUF001
        tracker.finish_operation("op")


def lines_of_a_busy_phase(*, heartbeat: bool) -> list[str]:
    """A phase updated every quarter second for 10 s (plain_interval 1 s), heartbeats in between."""
    console = plain_console()
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False, max_update_rate=None)
    plain = PlainLines(console, 1.0, get_time=clock)
    tracker.add_callback(plain)
    phase = tracker.start_operation("op", "Op").start_phase("p", "Busy", 40)
    for _ in range(40):
        clock.advance(0.25)
        if heartbeat:  # the worst moment: the clock has moved, the update has not come yet
            plain.heartbeat(tracker.snapshot())
        phase.update(1)
        if heartbeat:
            plain.heartbeat(tracker.snapshot())
    tracker.close()
    return [line[9:] for line in output(console).splitlines() if "· Op › Busy:" in line]  # noqa: RUF001


def test_the_heartbeat_adds_no_line_to_a_phase_that_prints_progress() -> None:
    without = lines_of_a_busy_phase(heartbeat=False)
    with_heartbeat = lines_of_a_busy_phase(heartbeat=True)
    assert len(without) == 10
    assert len(with_heartbeat) == len(without)


def test_a_phase_printing_progress_under_the_real_clock_gets_no_extra_lines() -> None:
    console = plain_console()
    tracker = BaseProgressTracker(auto_flush=False, max_update_rate=None)
    sink = ConsoleSink(tracker, console=console, config=QUIET)
    phase = tracker.start_operation("op", "Op").start_phase("p", "Busy", None)
    started = time.monotonic()
    while time.monotonic() - started < 1.0:
        phase.update(1)
        time.sleep(0.005)
    elapsed = time.monotonic() - started
    tracker.finish_operation("op")
    sink.close()
    lines = [line for line in output(console).splitlines() if "· Op › Busy:" in line]  # noqa: RUF001
    # One line per interval at most, whichever of progress or heartbeat prints it.
    assert 1 <= len(lines) <= elapsed / 0.2 + 1
