"""How the live frame fits a terminal's width: which columns give way first, so titles stay readable."""

from __future__ import annotations

import io

import pytest
from rich.cells import cell_len
from rich.console import Console

from mpprogress import BaseProgressTracker
from mpprogress.adapters.console._render import ConsoleConfig, render_frame
from mpprogress.adapters.console._text import format_rate
from mpprogress.testing import FakeClock


def frame_lines(tracker: BaseProgressTracker, width: int, **options: object) -> list[str]:
    config = ConsoleConfig(**options)  # type: ignore[arg-type]
    console = Console(file=io.StringIO(), record=True, width=width, force_terminal=True, color_system="standard")
    console.print(render_frame(tracker.snapshot(), config, width=width, height=40, now=0.0))
    return console.export_text().splitlines()


def row(lines: list[str], prefix: str) -> str:
    return next(line for line in lines if prefix in line)


@pytest.fixture
def demo_like() -> BaseProgressTracker:
    """The demo's rows: a finished phase, a running one with a message, one of unknown size."""
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    op = tracker.start_operation("op", "Researching Acme Robotics", "4-phase research of http://127.0.0.1:5555/acme")
    links = op.start_phase("l", "Link Discovery", 12)
    clock.advance(0.25)
    links.update(12)
    op.finish_phase("l")
    extraction = op.start_phase("e", "Content Extraction", 300)
    clock.advance(3.0)
    extraction.update(100, "page /products/widget-42.html")
    op.start_phase("c", "Crawling (size unknown)").update(57)
    clock.advance(0.5)
    return tracker


@pytest.mark.parametrize("width", [120, 80, 60, 40])
def test_titles_stay_readable_at_every_width(demo_like: BaseProgressTracker, width: int) -> None:
    lines = frame_lines(demo_like, width)
    assert all(cell_len(line) <= width for line in lines)
    assert lines[0].startswith("● Researching Acme Robotics")
    operation = demo_like.snapshot().operations[0]
    kept = {120: 3, 80: 3, 60: 3, 40: 1}[width]  # its rate, then its ETA give way to the title
    tail = "  ".join(["0:00:03", "eta -:--:--", format_rate(operation.rate)][:kept])
    assert lines[0].rstrip().endswith(tail)  # the operation's elapsed time outlives its description
    for title in ("Link Discovery", "Content Extraction", "Crawling (size unknown)"):
        shown = row(lines, title[:12])  # at least a readable prefix of every title
        assert title[: min(len(title), 17)] in shown, (width, shown)
    assert "12/12" in row(lines, "Link") and "100/300" in row(lines, "Content") and "57" in row(lines, "Crawl")
    assert "━" in row(lines, "Content")  # some bar is always left


def test_columns_give_way_rate_first_then_eta_then_elapsed(demo_like: BaseProgressTracker) -> None:
    def columns(width: int) -> set[str]:
        line = row(frame_lines(demo_like, width), "Content")
        found = {"rate": "/s" in line, "eta": "eta " in line, "elapsed": "0:00:03" in line, "pct": "33%" in line}
        return {name for name, present in found.items() if present}

    assert columns(120) == {"rate", "eta", "elapsed", "pct"}
    assert columns(80) == {"rate", "eta", "elapsed", "pct"}
    assert columns(70) == {"eta", "elapsed", "pct"}
    assert columns(60) == {"elapsed", "pct"}
    assert columns(50) == {"pct"}
    assert columns(40) == {"pct"}


def test_no_blank_column_is_kept_when_no_row_has_a_value(demo_like: BaseProgressTracker) -> None:
    op = demo_like.get_operation("op")
    assert op is not None
    op.phases["e"].update(200)  # done: a phase finished short of its total would say "incomplete"
    op.finish_phase("e")
    op.finish_phase("c")
    demo_like.start_operation("other", "Other")  # keeps the frame up: op is still running
    lines = frame_lines(demo_like, 70)
    link = row(lines, "Link")
    # No eta is shown on any row: the column takes no room, and the title and the rate keep theirs.
    assert "Link Discovery" in link and link.rstrip().endswith("/s")
    assert " " * 6 not in link.split("━")[-1].rstrip()


def test_a_wide_screen_keeps_the_full_message_and_bar(demo_like: BaseProgressTracker) -> None:
    line = row(frame_lines(demo_like, 200), "Content")
    assert "Content Extraction • page /products/widget-42.html" in line
    assert line.count("━") + line.count("╸") == 40  # bar_width's default


def test_a_title_followed_by_a_message_is_not_cut_by_its_ellipsis() -> None:
    tracker = BaseProgressTracker(get_time=FakeClock(), auto_flush=False)
    op = tracker.start_operation("op", "Researching Acme Robotics")
    op.start_phase("l", "Link Discovery", 12).update(3, "found /about")
    op.start_phase("p", "Page Selection", 310).update(100, "scoring /products")
    for width in (37, 39):  # the percentage column is 4 cells ("100%") at any value
        lines = frame_lines(tracker, width)
        assert "Link Discovery…" in row(lines, "Link") and "Page Selection…" in row(lines, "Page")
