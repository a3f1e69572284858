"""Narrow terminals (issue 25 item 11): columns give way before titles are cut, and widths stay
put from frame to frame.

At 120, 80 and 60 columns, on a fake clock: the whole title of every phase and operation stays
while the rate, then the ETA (then the elapsed time) give way; the columns have fixed widths,
and the frames of one display (``LayoutMemory``) keep one layout while rows come and go and
values grow.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from mpprogress import BaseProgressTracker
from mpprogress.adapters.console._render import ConsoleConfig, LayoutMemory, render_frame
from mpprogress.testing import FakeClock


def frame(tracker: BaseProgressTracker, width: int, memory: LayoutMemory | None = None) -> list[str]:
    console = Console(file=io.StringIO(), record=True, width=width, force_terminal=True, color_system=None)
    drawn = render_frame(tracker.snapshot(), ConsoleConfig(), width=width, height=40, now=0.0, memory=memory)
    console.print(drawn)
    return [line.rstrip() for line in console.export_text().splitlines()]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def research(clock: FakeClock) -> BaseProgressTracker:
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False, max_update_rate=None)
    op = tracker.start_operation("op", "Researching Globex Logistics", "4-phase research")
    links = op.start_phase("l", "Link Discovery", 12)
    clock.advance(1.0)
    links.update(12)
    op.finish_phase("l")
    pages = op.start_phase("e", "Content Extraction of pages", 300)
    for _ in range(4):
        clock.advance(0.5)
        pages.update(30)
    return tracker


EXPECTED = {
    120: [
        '● Researching Globex Logistics  4-phase research  0:00:03  eta 0:00:03  60.0/s',
        '  ✔ Link Discovery                                     ━━━━━━━━━━━━━━━━━━━━━━━━   12/12 100% 0:00:01              12.0/s',  # noqa: E501
        '  ⠋ Content Extraction of pages                        ━━━━━━━━━╸━━━━━━━━━━━━━━ 120/300  40% 0:00:02 eta 0:00:03  60.0/s',  # noqa: E501
    ],
    80: [
        '● Researching Globex Logistics  4-phase research  0:00:03  eta 0:00:03  60.0/s',
        '  ✔ Link Discovery               ━━━━━━━━━━━━━━   12/12 100% 0:00:01',
        '  ⠋ Content Extraction of pages  ━━━━━╸━━━━━━━━ 120/300  40% 0:00:02 eta 0:00:03',
    ],
    60: [
        '● Researching Globex Logistics  4-pha…  0:00:03  eta 0:00:03',
        '  ✔ Link Discovery               ━━━━━━━━━━━━━━   12/12 100%',
        '  ⠋ Content Extraction of pages  ━━━━━╸━━━━━━━━ 120/300  40%',
    ],
}


@pytest.mark.parametrize("width", [120, 80, 60])
def test_titles_stay_whole_while_columns_give_way(research: BaseProgressTracker, width: int) -> None:
    lines = frame(research, width)
    assert lines == EXPECTED.get(width)


def _bar_span(line: str) -> tuple[int, int]:
    start = min(line.index(glyph) for glyph in "━─╸" if glyph in line)
    end = max(line.rindex(glyph) for glyph in "━─╸" if glyph in line)
    return start, end


def test_a_display_keeps_its_layout_while_rows_come_and_go(clock: FakeClock) -> None:
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False, max_update_rate=None, max_finished_phases=0)
    op = tracker.start_operation("op", "Researching Globex Logistics")
    pages = op.start_phase("e", "Content Extraction of pages", 300)
    clock.advance(10.0)
    pages.update(99)  # 9.9/s
    memory = LayoutMemory()
    first = frame(tracker, 80, memory)
    op.finish_phase("e")  # let go at once (max_finished_phases=0): only the short title is left
    analysis = op.start_phase("a", "Analysis", 900)  # a count no wider: 240/900
    clock.advance(1.0)
    analysis.update(240)  # 240.0/s: a wider rate
    second = frame(tracker, 80, memory)
    fresh = frame(tracker, 80)  # the same state, drawn by a display with no earlier frames

    assert first[1] == "  ⠋ Content Extraction of pages  ━━━━╸━━━━━━━━━  99/300  33% 0:00:10 eta 0:00:20"
    assert second[1] == "  ⠋ Analysis                     ━━━╸━━━━━━━━━━ 240/900  27% 0:00:01 eta 0:00:02"
    assert _bar_span(first[1]) == _bar_span(second[1])  # the bar did not move or change width
    assert "240.0/s" in fresh[1] and _bar_span(fresh[1]) != _bar_span(second[1])  # what memory prevents


def test_a_new_width_lays_out_afresh(research: BaseProgressTracker) -> None:
    memory = LayoutMemory()
    assert frame(research, 60, memory) == EXPECTED[60]
    assert frame(research, 120, memory) == EXPECTED[120]
