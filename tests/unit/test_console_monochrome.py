"""Bars without colour (``--no-color``, ``NO_COLOR=1``, a terminal with no colours, ASCII only).

With colour the done part and the rest of a bar are the same glyph in two colours; without
colour they must differ in the glyph itself, or every bar looks full.
"""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from mpprogress import BaseProgressTracker
from mpprogress.adapters.console import ConsoleConfig, ConsoleSink
from mpprogress.testing import FakeClock

WIDTH = 20
# No spinner, no columns after the count: the bar is the text between the title and the count.
CONFIG = ConsoleConfig(
    bar_width=WIDTH,
    show_spinner=False,
    show_percentage=False,
    show_time_remaining=False,
    show_rate=False,
    plain_interval=0,
)


def bars(console: Console) -> dict[str, str]:
    """Each phase's bar as the sink draws it on ``console``: title -> bar text."""
    tracker = BaseProgressTracker(get_time=FakeClock(), auto_flush=False, max_update_rate=None)
    op = tracker.start_operation("op", "Op")
    op.start_phase("zero", "Zero", 10)
    op.start_phase("third", "Third", 10).update(3)
    op.start_phase("full", "Full", 10).update(10)
    op.start_phase("done", "Done", 10).update(10)
    op.finish_phase("done")
    with ConsoleSink(tracker, console=console, config=CONFIG) as sink:
        screen = Console(file=io.StringIO(), record=True, width=120, color_system=None)
        screen.print(sink.frame())
    found = {}
    for line in screen.export_text().splitlines()[1:]:
        match = re.search(rf"(\S{{{WIDTH}}}) +\d+/10 ", line)
        assert match, line
        found[line.split()[1]] = match.group(1)
    return found


def no_color_console(**options: object) -> Console:
    return Console(file=io.StringIO(), width=120, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [
        {"no_color": True},  # --no-color and NO_COLOR=1
        {"no_color": True, "force_terminal": True, "color_system": "truecolor"},
        {"color_system": None, "force_terminal": True},  # a terminal without colours
    ],
)
def test_a_bar_without_colour_shows_how_far_it_got(options: dict[str, object]) -> None:
    found = bars(no_color_console(**options))
    assert found["Zero"] == "─" * WIDTH
    assert found["Third"] == "━" * 6 + "─" * 14
    assert found["Full"] == "━" * WIDTH
    assert found["Done"] == "━" * WIDTH


def test_an_ascii_console_draws_bars_with_equals_and_dashes() -> None:
    for options in ({"no_color": True}, {"force_terminal": True, "color_system": "standard"}):
        # errors="replace": the rest of the display (marks, spinners) is not ASCII yet.
        stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="replace")
        found = bars(Console(file=stream, width=120, **options))  # type: ignore[arg-type]
        assert found["Zero"] == "-" * WIDTH
        assert found["Third"] == "=" * 6 + "-" * 14
        assert found["Full"] == "=" * WIDTH


def test_with_colour_the_rest_of_a_bar_is_the_same_glyph_dimmed() -> None:
    found = bars(no_color_console(force_terminal=True, color_system="standard"))
    assert found["Third"] == "━" * WIDTH  # told apart by colour alone, as Rich's own bars
