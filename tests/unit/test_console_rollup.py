"""A parent phase without a total of its own shows its sub-phases' sums, alike in every output."""

from __future__ import annotations

import io

from rich.console import Console

from mpprogress import BaseProgressTracker
from mpprogress.adapters.console import ConsoleConfig, ConsoleSink
from mpprogress.adapters.console._render import render_summary
from mpprogress.testing import FakeClock


def extraction(tracker: BaseProgressTracker, clock: FakeClock) -> None:
    """The showcase's "Content Extraction": no total, three batches of 20 pages, 2 s in all."""
    op = tracker.start_operation("op", "Researching Stripe")
    parent = op.start_phase("x", "Content Extraction")
    for batch in range(1, 4):
        parent.start_phase(f"b{batch}", f"batch {batch}", 20)
    for batch in range(1, 4):
        clock.advance(0.5)
        parent.phases[f"b{batch}"].update(20)
        parent.finish_phase(f"b{batch}")
    clock.advance(0.5)
    op.finish_phase("x")
    tracker.finish_operation("op")


def test_the_plain_line_of_a_parent_counts_its_sub_phases() -> None:
    clock = FakeClock()
    console = Console(file=io.StringIO(), force_terminal=False, width=200)
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    sink = ConsoleSink(tracker, console=console, config=ConsoleConfig(plain_interval=0))
    extraction(tracker, clock)
    sink.close()
    lines = [line[9:] for line in console.file.getvalue().splitlines()]  # type: ignore[attr-defined]
    assert "✔ Researching Stripe › Content Extraction: succeeded 60/60 in 2.0s (30.0/s)" in lines  # noqa: RUF001
    assert "✔ Researching Stripe › Content Extraction › batch 3: succeeded 20/20 in 1.5s (13.3/s)" in lines  # noqa: RUF001


def test_the_panel_row_of_a_parent_has_the_rolled_up_rate() -> None:
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    extraction(tracker, clock)
    console = Console(file=io.StringIO(), record=True, width=100, force_terminal=True, color_system=None)
    console.print(render_summary("Researching Stripe", True, 2.0, tracker.snapshot().get("op"), ConsoleConfig()))
    row = next(line for line in console.export_text().splitlines() if "Content Extraction" in line)
    assert row.strip("│ ").split() == ["✔", "Content", "Extraction", "60/60", "2.0s", "30.0/s"]
