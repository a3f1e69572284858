"""Huge counts, totals, rates and durations are drawn compactly: a title is never squeezed out."""

from __future__ import annotations

import dataclasses
import io

import pytest
from rich.cells import cell_len
from rich.console import Console

from mpprogress import BaseProgressTracker
from mpprogress._base.snapshot import OperationSnapshot, TrackerSnapshot
from mpprogress.adapters.console import ConsoleSink
from mpprogress.adapters.console._render import ConsoleConfig, render_frame
from mpprogress.adapters.console._text import format_count, format_duration, format_rate
from mpprogress.testing import FakeClock


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (12, "12"),
        (2.5, "2.5"),
        (9_999_999, "9,999,999"),  # exact up to seven digits, grouped as everywhere
        (12_345_678, "12.3M"),
        (999_960_000, "1.0G"),  # never "1000.0M"
        (4.2e12, "4.2T"),
        (2**63 - 1, "9.2E"),
        (1.7e308, "1.7e308"),  # 1.8e308 is already inf as a float
        (-(2**63), "-9.2E"),
        (float("inf"), "inf"),
    ],
)
def test_counts_are_exact_up_to_seven_digits_then_compact(value: float, text: str) -> None:
    assert format_count(value) == text


def test_rates_and_durations_stay_short() -> None:
    assert (format_rate(999.0), format_rate(4500), format_rate(2.5e6), format_rate(9.2e18)) == (
        "999.0/s",
        "4.5k/s",
        "2.5M/s",
        "9.2E/s",
    )
    assert format_rate(1e300) == "1.0e300/s"
    assert format_duration(359_999) == "99:59:59"
    assert format_duration(360_000) == "4d 04h"
    assert format_duration(1e300) == ">9999d"


def test_huge_numbers_leave_the_title_readable() -> None:
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    op = tracker.start_operation("op", "Op")
    op.start_phase("a", "Largest total", 2**63 - 1)
    clock.advance(1.0)
    op.phases["a"].update(2**62)
    op.start_phase("b", "Largest count", None)
    snapshot = tracker.snapshot()
    operation = snapshot.operations[0]
    huge = dataclasses.replace(operation.phases[1], current=1.7e308, rollup_current=1.7e308, rate=1.7e308)
    snapshot = TrackerSnapshot((dataclasses.replace(operation, phases=(operation.phases[0], huge)),))
    assert isinstance(snapshot.operations[0], OperationSnapshot)
    console = Console(file=io.StringIO(), record=True, width=80, force_terminal=True, color_system=None)
    console.print(render_frame(snapshot, ConsoleConfig(), width=80, height=20, now=0.0))
    lines = console.export_text().splitlines()
    assert all(cell_len(line) <= 80 for line in lines)
    total_row = next(line for line in lines if "Largest total" in line)
    count_row = next(line for line in lines if "Largest count" in line)
    assert "4.6E/9.2E" in total_row and "50%" in total_row
    assert "1.7e308" in count_row and "1.7e308/s" in count_row


def test_plain_lines_write_huge_totals_compactly() -> None:
    console = Console(file=io.StringIO(), force_terminal=False, width=200)
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    with ConsoleSink(tracker, console=console, config=ConsoleConfig(plain_interval=0)):
        op = tracker.start_operation("op", "Op")
        op.start_phase("a", "Largest total", 2**63 - 1).update(2**62)
        op.finish_phase("a")
        tracker.finish_operation("op")
    lines = [line[9:] for line in console.file.getvalue().splitlines()]  # type: ignore[attr-defined]
    assert "▸ Op › Largest total: started (total 9.2E)" in lines  # noqa: RUF001
    assert any(line.startswith("◐ Op › Largest total: incomplete at 4.6E/9.2E") for line in lines)  # noqa: RUF001
