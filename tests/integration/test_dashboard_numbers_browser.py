"""The dashboard's numbers as a person reads them in headless Chromium (as ``test_dashboard_browser``):
a count past its total is visibly over, an ETA under a second is not ``0:00:00``, a time under
a second reads ``0.4s``, and the ETA column holds its widest values whole (issue 25)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from mpprogress import BaseProgressTracker
from mpprogress._base.formats import format_elapsed, format_eta
from mpprogress._wiring.dashboard import open_dashboard
from mpprogress.testing import FakeClock
from tests.integration.test_dashboard_browser import CHROMIUM, browser, chromium, page_of  # noqa: F401 (fixtures)

pytest.importorskip("aiohttp")

pytestmark = [
    pytest.mark.processes,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]

CELLS = """() => Object.fromEntries([...document.querySelectorAll('.phase')].map(row => [row.dataset.phaseId,
  Object.fromEntries(['count', 'pct', 'eta'].map(name => {
    const cell = row.querySelector('.' + name);
    return [name, [cell.textContent, cell.scrollWidth <= cell.clientWidth]];  // [text, shown whole]
  }))]))"""


def steady(clock: FakeClock, phase: Any, items: int, per_second: float) -> None:
    for _ in range(items):
        clock.advance(1 / per_second)
        phase.update(1)


@pytest.fixture
def tracker() -> Any:
    """A tracker on a fake clock, whose phases hold the numbers the page must show."""
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False, max_update_rate=None)
    op = tracker.start_operation("op", "Numbers")
    over = op.start_phase("over", "over its total", 10)
    fast = op.start_phase("fast", "fast, nearly done", 120)  # the 56/120 at 226/s: 0.28 s left
    slow = op.start_phase("slow", "eight seconds left", 100)
    long = op.start_phase("long", "days left", 360_010)
    mins = op.start_phase("mins", "minutes left", 8_760)  # ~874 s: two significant digits would say 0:14:30
    blink = op.start_phase("blink", "took 0.4 s", 3)
    clock.advance(0.4)
    blink.update(3)
    op.finish_phase("blink")
    over.update(25)
    steady(clock, slow, 13, 1)  # 87 left at 10/s below
    for _ in range(20):
        clock.advance(0.1)
        slow.update(1)
        long.update(0.1)  # 1/s: 360,000 s left
        mins.update(1)
    steady(clock, fast, 56, 226)  # last: a silent phase's rate decays
    yield tracker
    tracker.close()


@pytest.mark.parametrize("width", [1300, 1100])
def test_the_page_shows_over_counts_sub_second_times_and_whole_etas(browser: Any, tracker: Any,  # noqa: F811
                                                                    width: int) -> None:
    phases = {p.phase_id: p for p in tracker.snapshot().operations[0].all_phases()}
    assert format_eta(phases["fast"].eta) == "<0:00:01"
    # the page writes each ETA exactly as the console does
    shown = {name: "ETA " + format_eta(phases[name].eta) for name in ("slow", "long", "mins")}
    assert re.fullmatch(r"ETA 0:00:0\d", shown["slow"]) and shown["long"] == "ETA 4d 04h", shown
    assert re.fullmatch(r"ETA 0:14:[0-5]\d", shown["mins"]) and not shown["mins"].endswith("0"), shown
    dashboard = open_dashboard(tracker, "127.0.0.1:0", out=io.StringIO())
    try:
        page = browser.new_page()
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(dashboard.url)
        page.wait_for_function("() => document.getElementById('status').textContent === 'live' "
                               "&& document.querySelectorAll('.phase').length === 5")
        page.locator('.op[data-operation-id="op"] details.finished > summary').click()  # the finished phase's fold
        page.wait_for_function("() => document.querySelectorAll('.phase').length === 6")
        cells = page.evaluate(CELLS)
    finally:
        dashboard.close()
    assert cells["over"] == {"count": ["25/10 (+15 over)", True], "pct": ["250%", True], "eta": ["", True]}
    assert cells["fast"] == {"count": ["56/120", True], "pct": ["47%", True], "eta": ["ETA <0:00:01", True]}
    assert cells["slow"]["eta"] == [shown["slow"], True]
    assert cells["long"]["eta"] == [shown["long"], True]
    assert cells["mins"]["eta"] == [shown["mins"], True]
    assert cells["blink"]["eta"] == [format_elapsed(0.4), True] == ["0.4s", True]  # as the console writes it
