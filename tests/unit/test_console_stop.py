"""What the screen shows after the live display stops: Ctrl-C, closing, the last frame."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator

import pytest
from rich.console import Console

from mpprogress import BaseProgressTracker, track
from mpprogress.adapters.console import ConsoleConfig, ConsoleProgressTracker, ConsoleSink

from .screen import Screen, output, screen, terminal, wait_for

SHOW_CURSOR = "\x1b[?25h"
# One frame when the display starts, then none for 100 s: the test decides what is drawn when.
ONE_FRAME = ConsoleConfig(refresh_rate=0.01)


@pytest.fixture(autouse=True)
def streams_restored() -> Iterator[None]:
    stdout, stderr = sys.stdout, sys.stderr
    yield
    assert sys.stdout is stdout and sys.stderr is stderr
    wait_for(lambda: not [t for t in threading.enumerate() if t.name == "mpprogress-console"])


def interrupt(tracker: BaseProgressTracker) -> None:
    """What the demo does after Ctrl-C: open phases end "interrupted", their operations failed."""
    for op in tracker.operations:
        for phase_id in list(op.phases):
            op.finish_phase(phase_id, success=False, reason="interrupted")
        tracker.finish_operation(op.operation_id, success=False)


def test_ctrl_c_leaves_no_stray_line_above_the_summaries() -> None:
    console = terminal()
    tracker = BaseProgressTracker(auto_flush=False)
    for n in range(2):
        op = tracker.start_operation(f"op{n}", f"Researching {n}", "4-phase research")
        op.start_phase(f"p{n}", "Analysis", 4).update(3, "Found the company facts")
    sink = ConsoleSink(tracker, console=console, config=ONE_FRAME)
    wait_for(lambda: "Found the company facts" in output(console))
    # The terminal echoes the key where the cursor is: after a frame's last row, which fills
    # the width, so the echo wraps to a new line that Live's cursor moves do not know about.
    console.file.write("^C")
    interrupt(tracker)
    sink.close()
    lines = screen(console)
    assert not [line for line in lines if line.startswith("●") or "Analysis •" in line], lines
    assert lines[0].startswith("╭─") and sum("Researching" in line for line in lines) == 2


SPINNER = set("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")


def downloaded(console: Console) -> ConsoleProgressTracker:
    """The README's simple form, all ten items counted, the phase never finished."""
    tracker = ConsoleProgressTracker(console, config=ONE_FRAME)
    tracker.start_phase("Downloading", total=10)
    for _ in range(10):
        tracker.update(1)
    return tracker


def test_a_phase_at_its_total_shows_complete_before_it_is_finished() -> None:
    tracker = downloaded(terminal())
    probe = terminal()
    probe.print(tracker.sink.frame())
    row = next(line for line in screen(probe) if "Downloading" in line)
    assert row.startswith("  ✔ Downloading") and "10/10" in row and "eta" not in row
    tracker.close()


def test_the_simple_form_ends_drawn_complete_and_later_prints_land_below() -> None:
    console = terminal()
    tracker = downloaded(console)
    tracker.close()
    console.print("done")
    lines = screen(console)
    assert lines[-1] == "done"
    row = next(line for line in lines if "Downloading" in line)
    assert row.startswith("  ✔ Downloading") and "10/10" in row
    assert not SPINNER & set("".join(lines))


def test_closing_draws_unfinished_phases_stopped() -> None:
    console = terminal()
    tracker = ConsoleProgressTracker(console, config=ONE_FRAME)
    tracker.start_phase("Downloading", total=10).update(4)
    tracker.start_phase("Scanning").update(7)  # the simple form finishes the previous phase
    tracker.close()
    lines = screen(console)
    assert next(line for line in lines if "Downloading" in line).startswith("  ◐ Downloading  incomplete")  # 4/10
    scanning = next(line for line in lines if "Scanning" in line)
    assert scanning.startswith("  ■ Scanning  stopped") and "7" in scanning.split() and "eta" not in scanning
    assert not SPINNER & set("".join(lines))


@pytest.mark.processes
def test_a_tracker_never_closed_is_drawn_final_at_exit() -> None:
    code = textwrap.dedent(
        """
        import sys
        from rich.console import Console
        import mpprogress

        console = Console(file=sys.stdout, force_terminal=True, color_system=None, width=80, height=20)
        tracker = mpprogress.ConsoleProgressTracker(console, refresh_rate=50)
        tracker.start_phase("Downloading", total=5)
        for _ in range(5):
            tracker.update(1)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = Screen(80).feed(done.stdout).lines()
    # At exit the simple form's operation completes (its phase reached its total): its summary.
    assert any("✔ Succeeded Progress" in line for line in lines)
    row = next(line for line in lines if "Downloading" in line)
    assert row.startswith("│ ✔ Downloading") and "5/5" in row
    assert not SPINNER & set("".join(lines))
    assert done.stdout.endswith(SHOW_CURSOR + "\n") or done.stdout.rindex(SHOW_CURSOR) > done.stdout.rindex("Downl")


def test_without_summaries_a_finished_operation_stays_on_screen() -> None:
    console = terminal()
    tracker = ConsoleProgressTracker(console, config=ConsoleConfig(show_summary=False, refresh_rate=50))
    assert list(track(range(10), "Working...", tracker=tracker)) == list(range(10))
    tracker.close()
    console.print("after")
    lines = screen(console)
    assert lines[-1] == "after"
    assert lines[0].startswith("● Working...")
    assert lines[1].startswith("  ✔ Working...") and "10/10" in lines[1] and "100%" in lines[1]
    assert len(lines) == 3


def test_transient_display_erases_finished_operations() -> None:
    console = terminal()
    tracker = ConsoleProgressTracker(console, config=ConsoleConfig(show_summary=False, transient=True, refresh_rate=50))
    list(track(range(10), "Working...", tracker=tracker))
    tracker.start_phase("Unfinished", 10).update(3)
    tracker.close()
    assert screen(console) == []
