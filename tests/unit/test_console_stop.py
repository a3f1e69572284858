"""What the screen shows after the live display stops: Ctrl-C, closing, the last frame."""

from __future__ import annotations

import io
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from rich.console import Console

from mpprogress import BaseProgressTracker
from mpprogress.adapters.console import ConsoleConfig, ConsoleSink

from .screen import Screen

# One frame when the display starts, then none for 100 s: the test decides what is drawn when.
ONE_FRAME = ConsoleConfig(refresh_rate=0.01)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.01)


def terminal(width: int = 100, height: int = 30) -> Console:
    return Console(file=io.StringIO(), force_terminal=True, color_system=None, width=width, height=height)


def output(console: Console) -> str:
    return console.file.getvalue()  # type: ignore[attr-defined]


def screen(console: Console) -> list[str]:
    return Screen(console.width).feed(output(console)).lines()


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
