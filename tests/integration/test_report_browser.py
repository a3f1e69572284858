"""The HTML report as a person sees it: drawn by headless Chromium (Debian's ``/usr/bin/chromium``,
driven by Playwright, which downloads no browser here), with a screenshot kept in the test's
temporary directory."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mpprogress._report import write_report
from mpprogress._report.units import OUTCOME_COLOURS
from tests.unit.journal_runs import CRAWL, Planned, write_run

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.processes,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed "
                       "(.ci/run installs it: apt-get install chromium)"),
]


def rgb(colour: str) -> str:
    """``#2f9e44`` as the browser's computed style writes it: ``rgb(47, 158, 68)``."""
    red, green, blue = (int(colour[index:index + 2], 16) for index in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        # Playwright adds --headless and --user-data-dir (this one) to the flags.
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=FLAGS,
            viewport={"width": 1250, "height": 900}, offline=True,
        )
        try:
            page = context.new_page()
            page.set_default_timeout(30_000)
            yield page
        finally:
            context.close()


def test_a_person_sees_a_bar_per_phase_in_its_outcome_colour(browser: Any, tmp_path: Path) -> None:
    journal, page_file = tmp_path / "crawl.db", tmp_path / "report.html"
    write_run(journal, CRAWL)
    write_report(journal, fmt="html", output=page_file)
    browser.goto(page_file.as_uri())

    outcome = {"p1": "succeeded", "p2": "succeeded", "p3": "failed", "p4": "lost", "p5": "cancelled", "p6": "succeeded"}
    for phase in CRAWL:
        bar = browser.locator(f'rect.bar[data-phase-id="{phase.phase_id}"]')
        assert bar.count() == 1, phase.phase_id
        assert bar.is_visible()
        box = bar.bounding_box()
        assert box is not None and box["width"] > 20 and box["height"] > 10  # drawn, not a sliver
        fill = bar.evaluate("element => getComputedStyle(element).fill")
        assert fill == rgb(OUTCOME_COLOURS[outcome[phase.phase_id]]), phase.phase_id
    # hovering shows the numbers (the bar's <title>)
    lost = browser.locator('rect.bar[data-phase-id="p4"] > title').text_content()
    assert lost.startswith("index\nlost\nduration 2.5 s, items 10/30")
    # bars of one worker share a lane: fetch 1 and fetch 2 are on one line, parse below them
    y = {pid: browser.locator(f'rect.bar[data-phase-id="{pid}"]').bounding_box()["y"] for pid in ("p1", "p2", "p3")}
    assert y["p1"] == y["p2"] < y["p3"]

    summary = browser.locator("#summary").inner_text()
    assert re.search(r"closed cleanly\s+yes", summary)
    assert re.search(r"phases\s+6\s+1 failed\s+1 lost\s+1 cancelled\s+3 succeeded", summary)
    assert "207 (20.7/s while phases ran)" in summary
    assert browser.locator(".legend .c-failed").evaluate("e => getComputedStyle(e).backgroundColor") == rgb(
        OUTCOME_COLOURS["failed"])
    assert browser.locator("svg.throughput rect.flow").count() == 120
    assert "fetch 1" in browser.locator("#slowest").inner_text()

    shot = tmp_path / "report.png"
    browser.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_a_big_group_is_folded_until_opened(browser: Any, tmp_path: Path) -> None:
    journal, page_file = tmp_path / "many.db", tmp_path / "many.html"
    phases = [Planned(f"w{n}.{k}", f"task {k}", k * 1.0 + n * 0.01, k * 1.0 + 0.9, 10, 10,
                      reason="error" if (n, k) == (7, 3) else None, worker=("farm", 1000 + n))
              for n in range(40) for k in range(5)]
    write_run(journal, phases, length=6.0)
    write_report(journal, fmt="html", output=page_file)
    browser.goto(page_file.as_uri())

    group = browser.locator("details.group")
    assert group.count() == 1 and group.get_attribute("open") is None
    summary = group.locator("summary")
    assert "host farm: 40 lanes, 200 phases (1 failed, 199 succeeded)" in summary.inner_text()
    overview = summary.locator("rect.bar")  # the folded group shows all its phases in one lane
    assert overview.count() >= 1 and overview.first.is_visible()
    marker = summary.locator("rect.marker.o-failed")  # ... with a mark where one failed
    assert marker.count() == 1 and marker.is_visible()
    assert marker.evaluate("e => getComputedStyle(e).fill") == rgb(OUTCOME_COLOURS["failed"])
    failed = browser.locator('details.group > svg.lanes rect.bar[data-phase-id="w7.3"]')
    assert failed.is_hidden()
    summary.click()
    assert failed.is_visible()
    assert failed.evaluate("e => getComputedStyle(e).fill") == rgb(OUTCOME_COLOURS["failed"])
    assert browser.locator("details.group svg.lanes").last.locator("text.lane-label").count() == 40
    browser.screenshot(path=str(tmp_path / "many.png"), full_page=True)


@pytest.mark.parametrize("width", [1250, 1600, 1920])
def test_the_timeline_spans_the_width_of_the_page(browser: Any, tmp_path: Path, width: int) -> None:
    """Issue 25: the timeline drew at a fixed 1,150 px, ~75% of a 1,600 px window; it now spans
    its container, and the run's last moment is drawn at the right of the container."""
    journal, page_file = tmp_path / "crawl.db", tmp_path / "report.html"
    write_run(journal, CRAWL)
    write_report(journal, fmt="html", output=page_file)
    browser.set_viewport_size({"width": width, "height": 900})
    browser.goto(page_file.as_uri())
    container = browser.locator("#timeline").bounding_box()
    assert container is not None and container["width"] > width * 0.9
    for drawing in ("#timeline svg.axis", "#timeline svg.lanes", "svg.throughput"):
        box = browser.locator(drawing).first.bounding_box()
        assert box is not None and box["width"] >= 0.95 * container["width"], (drawing, box, container)
    # the bar that ends last (fetch 6, at the run's end) reaches the plot's right edge: the
    # drawing's width less its right margin (20 of 1,150 units)
    right = max(bar["x"] + bar["width"] for bar in (browser.locator(f'rect.bar[data-phase-id="{phase.phase_id}"]')
                                                    .bounding_box() for phase in CRAWL) if bar)
    assert right >= container["x"] + container["width"] * (1 - 25 / 1150), (right, container)
    # every drawing is scaled alike: the axis, lanes and throughput chart still line up
    boxes = [browser.locator(drawing).first.bounding_box() for drawing in ("svg.axis", "svg.lanes", "svg.throughput")]
    assert len({round(box["width"]) for box in boxes if box}) == 1
