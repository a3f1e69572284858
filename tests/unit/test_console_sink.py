"""ConsoleSink on a (recorded) terminal: the live display's lifecycle, output above it, restoring."""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from rich.console import Console

from mpprogress import BaseProgressTracker
from mpprogress.adapters.console import ConsoleConfig, ConsoleProgressTracker, ConsoleSink
from mpprogress.testing import FakeClock

from .screen import output, terminal, wait_for

SHOW_CURSOR = "\x1b[?25h"
HIDE_CURSOR = "\x1b[?25l"


def refresh_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "mpprogress-console"]


@pytest.fixture(autouse=True)
def streams_restored() -> Iterator[None]:
    stdout, stderr = sys.stdout, sys.stderr
    yield
    assert sys.stdout is stdout and sys.stderr is stderr
    wait_for(lambda: not refresh_threads())


FAST = ConsoleConfig(refresh_rate=50)


def test_live_display_follows_the_operations() -> None:
    console = terminal()
    tracker = BaseProgressTracker(auto_flush=False)
    sink = ConsoleSink(tracker, console=console, config=FAST)
    assert not sink.is_live and output(console) == ""
    with contextlib.redirect_stdout(console.file):  # standard output on the same screen
        op = tracker.start_operation("op", "Researching Stripe")
        assert sink.is_live
        assert sys.stdout.__class__.__name__ == "FileProxy"  # prints go above the display
        phase = op.start_phase("p", "Link Discovery", 10)
        phase.update(3, "Found link 3")
        wait_for(lambda: "Found link 3" in output(console))
        phase.update(7)
        op.finish_phase("p")
        tracker.finish_operation("op")
        assert not sink.is_live
        assert sys.stdout is console.file
    text = output(console)
    assert HIDE_CURSOR in text and text.rindex(SHOW_CURSOR) > text.rindex(HIDE_CURSOR)
    assert "Operation Succeeded" in text and "✔ Succeeded Researching Stripe" in text
    assert "✔ Link Discovery" in text.split("Operation Succeeded")[1]
    sink.close()
    sink.close()
    assert sink not in tracker.callbacks


def test_display_restarts_for_a_later_operation() -> None:
    console = terminal()
    tracker = BaseProgressTracker(auto_flush=False)
    with ConsoleSink(tracker, console=console, config=FAST) as sink:
        for n in range(3):
            with tracker.operation(f"Op {n}") as op, op.phase("work", total=1) as phase:
                assert sink.is_live
                phase.update(1)
            assert not sink.is_live
    assert output(console).count("Operation Succeeded") == 3


def test_sink_attached_to_a_running_tracker_goes_live_at_once() -> None:
    tracker = BaseProgressTracker(auto_flush=False)
    tracker.start_operation("op", "Already running").start_phase("p", "remote phase", 5)
    console = terminal()
    sink = ConsoleSink(tracker, console=console, config=FAST)
    assert sink.is_live
    wait_for(lambda: "remote phase" in output(console))
    sink.close()
    assert not sink.is_live


def test_prints_and_log_records_appear_above_the_display() -> None:
    console = terminal()
    tracker = BaseProgressTracker(auto_flush=False)
    sink = ConsoleSink(tracker, console=console, config=FAST)
    logger = logging.getLogger("test.console.above")
    logger.propagate = False
    handler = sink.logging_handler()
    logger.addHandler(handler)
    with contextlib.redirect_stdout(console.file):  # standard output on the same screen
        try:
            op = tracker.start_operation("op", "Op")
            op.start_phase("p", "Phase one", 10)
            wait_for(lambda: "Phase one" in output(console))
            print("hello from print")
            logger.warning("worker said [bold]hi[/bold]\x1b[2J")
            text = output(console)
            printed = text.index("hello from print")
            # Live erases its frame (cursor up + erase line) before the print, then redraws below it.
            assert "\x1b[2K" in text[:printed]
            assert "Phase one" in text[printed:]
            assert "worker said [bold]hi[/bold][2J" in text
            assert "\x1b[2J" not in text
        finally:
            logger.removeHandler(handler)
            sink.close()


def test_standard_output_to_a_file_is_left_to_the_program_while_live() -> None:
    """``script.py > out.csv`` with the display on the terminal: rows go to the file untouched."""
    console = terminal()
    data = io.StringIO()  # standard output redirected to a file: not the display's screen
    with contextlib.redirect_stdout(data), ConsoleSink(BaseProgressTracker(auto_flush=False), console=console,
                                                        config=FAST) as sink:
        op = sink.tracker.start_operation("op", "Op")
        op.start_phase("p", "Phase one", 10)
        assert sink.is_live and sys.stdout is data  # not routed through the display
        wait_for(lambda: "Phase one" in output(console))
        print("a,b,c")
        print("1,2,3")
        sink.tracker.finish_operation("op")
    assert data.getvalue() == "a,b,c\n1,2,3\n"
    assert "a,b,c" not in output(console)


def test_keyboard_interrupt_restores_the_terminal() -> None:
    console = terminal()
    with pytest.raises(KeyboardInterrupt):
        with ConsoleProgressTracker(console, refresh_rate=50) as tracker:
            with tracker.operation("Interrupted op") as op, op.phase("Phase", total=10) as phase:
                phase.update(4)
                raise KeyboardInterrupt
    assert not tracker.sink.is_live
    text = output(console)
    assert text.endswith(SHOW_CURSOR) or text.rindex(SHOW_CURSOR) > text.rindex(HIDE_CURSOR)
    summary = text.split("Operation Interrupted")[1]
    assert "⊗ Interrupted Interrupted op" in summary
    assert "⊗ Phase  interrupted" in summary


def test_closing_with_work_running_leaves_the_last_frame() -> None:
    console = terminal()
    tracker = ConsoleProgressTracker(console, refresh_rate=50)
    tracker.start_operation("op", "Unfinished").start_phase("p", "half done", 10).update(5)
    tracker.close()
    tracker.close()
    text = output(console)
    tail = text[text.rindex(HIDE_CURSOR) :]
    assert "half done" in tail and "5/10" in tail
    assert tail.rindex(SHOW_CURSOR) > tail.rindex("half done")


def test_concurrent_operations_from_threads_restore_the_terminal() -> None:
    console = terminal(height=40)
    tracker = ConsoleProgressTracker(console, refresh_rate=50)

    def run(name: str, phases: int) -> None:
        with tracker.operation(f"Operation {name}") as op:
            for n in range(phases):
                with op.phase(f"Phase {n + 1}", total=10) as phase:
                    for i in range(10):
                        phase.update(1, f"Step {i + 1}")
                        time.sleep(0.001)

    with ThreadPoolExecutor(max_workers=3) as pool:
        for future in [pool.submit(run, name, n) for name, n in (("Alpha", 3), ("Beta", 2), ("Gamma", 4))]:
            future.result()
    assert not tracker.sink.is_live
    text = output(console)
    assert text.count("Operation Succeeded") == 3
    assert text.rindex(SHOW_CURSOR) > text.rindex(HIDE_CURSOR)
    tracker.close()


def test_a_failing_snapshot_does_not_kill_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    class BrokenTracker(BaseProgressTracker):
        broken = False

        def snapshot(self):  # type: ignore[no-untyped-def]
            if self.broken:
                raise RuntimeError("boom")
            return super().snapshot()

    console = terminal()
    tracker = BrokenTracker(auto_flush=False)
    sink = ConsoleSink(tracker, console=console, config=FAST)
    tracker.start_operation("op", "Op")
    tracker.broken = True
    wait_for(lambda: "failed to draw a frame" in caplog.text)
    tracker.broken = False
    sink.close()
    assert not sink.is_live


def test_not_a_terminal_writes_plain_timestamped_lines() -> None:
    console = Console(file=io.StringIO(), force_terminal=False, width=200)
    clock = FakeClock()
    tracker = ConsoleProgressTracker(console, get_time=clock, auto_flush=False)
    op = tracker.start_operation("op", "Researching Stripe", "4 phases")
    links = op.start_phase("p", "Links", 100)
    clock.advance(3.0)
    links.update(10, "early")  # less than plain_interval since the start line: no line
    clock.advance(10.0)
    links.update(10, "Found link [/b]\x1b[2J")
    sub = links.start_phase("s", "sub", None)
    sub.update(2)
    links.finish_phase("s", success=False, reason="lost")
    op.finish_phase("p")
    tracker.finish_operation("op")
    tracker.close()
    assert not tracker.sink.is_live
    text = output(console)
    assert "\x1b" not in text
    lines = text.splitlines()
    stamps = [line[:9] for line in lines[:7]]
    assert all(len(s) == 9 and s[2] == ":" and s[5] == ":" for s in stamps)
    assert (
        [line[9:] for line in lines[:7]]
        == [
            "▶ Researching Stripe: started — 4 phases",
            "▸ Researching Stripe › Links: started (total 100)",  # noqa: RUF001
            lines[2][9:],
            "▸ Researching Stripe › Links › sub: started (total unknown)",  # noqa: RUF001
            "⚠ Researching Stripe › Links › sub: lost — worker died at 2 after <0.1s",  # noqa: RUF001
            "◐ Researching Stripe › Links: incomplete at 20/100 after 13.0s",  # noqa: RUF001
            "✘ Researching Stripe: failed after 13.0s — 0 of 2 phases succeeded (1 incomplete, 1 lost)",
        ]
    )
    assert lines[2][9:].startswith("· Researching Stripe › Links: 20/100 20% ")  # noqa: RUF001
    assert lines[2].endswith(" — Found link [/b][2J")
    assert "Operation Failed" in lines[7]


def test_plain_lines_and_log_records_drop_bidi_overrides() -> None:
    console = Console(file=io.StringIO(), force_terminal=False, width=200)
    tracker = ConsoleProgressTracker(console, auto_flush=False)
    handler = tracker.logging_handler()
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "log \u202eevil\u2066", None, None)
    with tracker.operation("Op \u202eevil", "desc \u2067x") as op, op.phase("Title \u202egnp.exe", 10) as phase:
        phase.update(10, "msg \u202b")
        handler.emit(record)
    tracker.close()
    text = output(console)
    assert "Title gnp.exe" in text and "log evil" in text
    assert not {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2069"} & set(text)


def test_plain_lines_repeat_at_the_interval_for_long_phases() -> None:
    console = Console(file=io.StringIO(), force_terminal=False, width=200)
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False, max_update_rate=None)
    sink = ConsoleSink(tracker, console=console, config=ConsoleConfig(plain_interval=5.0, show_summary=False))
    phase = tracker.start_operation("op", "Op").start_phase("p", "Long", None)
    for _ in range(60):
        clock.advance(0.5)
        phase.update(1)
    progress = [line for line in output(console).splitlines() if "· Op › Long:" in line]  # noqa: RUF001
    assert [line.split(": ")[1].split()[0] for line in progress] == ["10", "20", "30", "40", "50", "60"]
    sink.close()


def test_dumb_terminal_counts_as_plain() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100, _environ={"TERM": "dumb"})
    tracker = BaseProgressTracker(auto_flush=False)
    sink = ConsoleSink(tracker, console=console, config=ConsoleConfig(show_summary=False))
    tracker.start_operation("op", "Op")
    assert not sink.is_live
    assert output(console).endswith("▶ Op: started\n")
    sink.close()


def _child_reports_streams(queue: object) -> None:
    from rich.file_proxy import FileProxy

    print("hello from a child process")
    queue.put((isinstance(sys.stdout, FileProxy), isinstance(sys.stderr, FileProxy)))  # type: ignore[attr-defined]


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_child_processes_do_not_draw_the_parents_display(method: str) -> None:
    import multiprocessing

    context = multiprocessing.get_context(method)
    console = terminal()
    tracker = BaseProgressTracker(auto_flush=False)
    sink = ConsoleSink(tracker, console=console, config=FAST)
    tracker.start_operation("op", "Op").start_phase("p", "parent phase", 3)
    queue = context.Queue()
    child = context.Process(target=_child_reports_streams, args=(queue,))
    child.start()
    try:
        assert queue.get(timeout=60) == (False, False)
        child.join(timeout=60)
        assert child.exitcode == 0
        assert "hello from a child process" not in output(console)
        assert sink.is_live  # the parent's display goes on
    finally:
        sink.close()
