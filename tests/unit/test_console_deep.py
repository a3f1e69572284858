"""Phases nested thousands deep: every walk in the console is iterative, deep rows fold, and the
terminal is restored even when reading the tracker's state fails."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from datetime import datetime

import pytest
from rich.cells import cell_len
from rich.console import Console

from mpprogress import BaseProgressTracker
from mpprogress._base.snapshot import OperationSnapshot, PhaseSnapshot, TrackerSnapshot
from mpprogress.adapters.console import ConsoleConfig, ConsoleSink
from mpprogress.adapters.console._plain import PlainLines
from mpprogress.adapters.console._render import plan_frame, render_frame, render_summary
from mpprogress.testing import FakeClock

DEPTH = 2_000  # well past the interpreter's recursion limit
SHOW_CURSOR = "\x1b[?25h"


def nest(depth: int, *, finished: bool) -> OperationSnapshot:
    """An operation whose one phase holds a chain of ``depth`` phases, built bottom-up by hand."""
    child: tuple[PhaseSnapshot, ...] = ()
    for level in reversed(range(depth)):
        phase = PhaseSnapshot(
            phase_id=f"p{level}",
            operation_id="op",
            parent_phase_id=f"p{level - 1}" if level else None,
            title=f"level {level}",
            description=None,
            current=1,
            total=2,
            rollup_current=1,
            rollup_total=2,
            percentage=50.0,
            message=None,
            started_at=datetime(2024, 1, 1),
            elapsed=1.0,
            rate=1.0,
            peak_rate=1.0,
            eta=1.0,
            finished=finished,
            success=True if finished else None,
            reason=None,
            cancelled=False,
            depth=level,
            phases=child,
        )
        child = (phase,)
    return OperationSnapshot(
        operation_id="op",
        title="Deep",
        description=None,
        started_at=datetime(2024, 1, 1),
        elapsed=1.0,
        finished=finished,
        success=True if finished else None,
        cancelled=False,
        phases=child,
    )


def text_of(renderable: object, width: int) -> list[str]:
    console = Console(file=io.StringIO(), record=True, width=width, force_terminal=True, color_system=None)
    console.print(renderable)
    return console.export_text().splitlines()


def test_a_frame_of_two_thousand_levels_folds_the_deep_rows() -> None:
    snapshot = TrackerSnapshot((nest(DEPTH, finished=False),))
    lines = text_of(render_frame(snapshot, ConsoleConfig(), width=100, height=40, now=0.0), 100)
    assert lines[0].startswith("● Deep")
    rows = [line for line in lines if "level " in line]
    assert [line.split()[1:3] for line in rows] == [["level", str(n)] for n in range(10)]
    assert lines[-1].strip() == f"… {DEPTH - 10} phases nested deeper than 10 levels: {DEPTH - 10} running"
    assert all(cell_len(line) <= 100 for line in lines)
    assert max(len(line) - len(line.lstrip()) for line in rows) <= 2 + 2 * 9  # indentation is bounded too


def test_the_plan_and_the_summary_of_two_thousand_levels() -> None:
    plan = plan_frame([nest(DEPTH, finished=False)], budget=5)
    assert sum(p.lines for p in plan.operations) <= 5
    lines = text_of(render_summary("Deep", True, 1.0, nest(DEPTH, finished=True), ConsoleConfig()), 100)
    assert lines[1].strip("│ ") == "✔ Succeeded Deep"
    deeper = f"… {DEPTH - 10} more phases nested deeper than 10 levels: {DEPTH - 10} incomplete"  # 1/2 each
    assert deeper in "\n".join(lines)


def test_plain_heartbeat_walks_two_thousand_levels() -> None:
    console = Console(file=io.StringIO(), force_terminal=False, width=200)
    clock = FakeClock()
    plain = PlainLines(console, interval=1.0, get_time=clock)
    plain.heartbeat(TrackerSnapshot((nest(DEPTH, finished=False),)))  # no phase seen yet: nothing due


class FailingTracker(BaseProgressTracker):
    """A tracker whose snapshots fail once told to (as a deep nest's did in the core)."""

    failing = False

    def snapshot(self) -> TrackerSnapshot:
        if self.failing:
            raise RecursionError("maximum recursion depth exceeded")
        return super().snapshot()


@pytest.fixture
def terminal() -> Iterator[Console]:
    stdout, stderr = sys.stdout, sys.stderr
    yield Console(file=io.StringIO(), force_terminal=True, color_system=None, width=100, height=30)
    assert sys.stdout is stdout and sys.stderr is stderr


def test_the_terminal_is_restored_when_finishing_cannot_read_the_state(terminal: Console) -> None:
    tracker = FailingTracker(auto_flush=False)
    sink = ConsoleSink(tracker, console=terminal, config=ConsoleConfig(refresh_rate=50))
    tracker.start_operation("op", "Deep").start_phase("p", "phase", 3)
    assert sink.is_live and sys.stderr is not sys.__stderr__
    tracker.failing = True
    tracker.finish_operation("op")
    assert not sink.is_live
    text = terminal.file.getvalue()  # type: ignore[attr-defined]
    assert text.rindex(SHOW_CURSOR) > text.rindex("\x1b[?25l")
    assert "Operation Succeeded" in text  # the summary, without its phase lines
    sink.close()


def test_the_terminal_is_restored_when_closing_cannot_read_the_state(terminal: Console) -> None:
    tracker = FailingTracker(auto_flush=False)
    sink = ConsoleSink(tracker, console=terminal, config=ConsoleConfig(refresh_rate=50))
    tracker.start_operation("op", "Deep").start_phase("p", "phase", 3)
    tracker.failing = True
    sink.close()
    assert not sink.is_live
    text = terminal.file.getvalue()  # type: ignore[attr-defined]
    assert text.rindex(SHOW_CURSOR) > text.rindex("\x1b[?25l")


def test_plain_lines_of_a_deep_phase_name_its_innermost_parents() -> None:
    console = Console(file=io.StringIO(), force_terminal=False, width=2000)
    tracker = BaseProgressTracker(auto_flush=False)
    sink = ConsoleSink(tracker, console=console, config=ConsoleConfig(plain_interval=0))
    op = tracker.start_operation("op", "Deep")
    parent = op
    for level in range(30):
        parent = parent.start_phase(f"p{level}", f"L{level}", 1)  # type: ignore[assignment]
    sink.close()
    last = console.file.getvalue().splitlines()[-1]  # type: ignore[attr-defined]
    assert last[9:] == "▸ Deep › … › " + " › ".join(f"L{n}" for n in range(10, 30)) + ": started (total 1)"  # noqa: RUF001
