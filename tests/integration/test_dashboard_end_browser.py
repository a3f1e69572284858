"""How the page tells that workers and the run ended, in headless Chromium (as
``test_dashboard_browser``): exited and lost workers, the last push of a session, no reconnecting."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from typing import Any

import pytest

import mpprogress
from tests.integration.conftest import START_METHODS, wait_for
from tests.integration.dashboard_workers import cancellable, hang, steady
from tests.integration.test_dashboard_browser import CHROMIUM, browser, chromium, page_of  # noqa: F401 (fixtures)

pytest.importorskip("aiohttp")

pytestmark = [
    pytest.mark.processes,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]

WORKERS = """() => Object.fromEntries([...document.querySelectorAll('#workers tbody tr')].map(
  r => [r.cells[1].textContent, r.cells[2].textContent]))"""


def _status(page: Any) -> str:
    return str(page.locator("#status").inner_text())


@pytest.mark.parametrize("start_method", START_METHODS)
def test_workers_that_ended_their_work_are_exited_a_killed_one_lost(browser: Any, start_method: str) -> None:  # noqa: F811
    ctx = multiprocessing.get_context(start_method)
    hold = ctx.Event()
    with mpprogress.session(dashboard="127.0.0.1:0", console=False) as tracker:
        page = page_of(browser, mpprogress.dashboard_url() or "")
        tracker.start_operation("op", "Run")
        done = [ctx.Process(target=steady, args=("op", hold, 1, 20, 0.001)) for _ in range(2)]
        doomed = ctx.Process(target=hang, args=("op",))
        for worker in [*done, doomed]:
            worker.start()
        pids = [str(worker.pid) for worker in done]
        page.wait_for_function("() => document.querySelectorAll('#workers tbody tr').length === 3")
        assert wait_for(lambda: page.evaluate(WORKERS) == {pids[0]: "alive", pids[1]: "alive",
                                                           str(doomed.pid): "alive"}, timeout=30)
        hold.set()  # the two end their work, then exit
        for worker in done:
            worker.join(30)
        os.kill(doomed.pid or 0, signal.SIGKILL)
        doomed.join(30)
        assert wait_for(lambda: page.evaluate(WORKERS) == {pids[0]: "exited", pids[1]: "exited",
                                                           str(doomed.pid): "lost"}, timeout=30), page.evaluate(WORKERS)
        assert "3 workers (1 lost, 2 exited)" in page.locator("#summary").inner_text()
        tracker.finish_operation("op", success=False)
    assert [worker.exitcode for worker in done] == [0, 0]


def test_a_cancelled_session_that_ends_says_so_and_the_page_stops_reconnecting(browser: Any) -> None:  # noqa: F811
    ctx = multiprocessing.get_context("spawn")
    with mpprogress.session(dashboard="127.0.0.1:0", console=False) as tracker:
        page = page_of(browser, mpprogress.dashboard_url() or "")
        streams: list[float] = []
        page.on("request", lambda request: streams.append(time.monotonic()) if "/api/events" in request.url else None)
        op = tracker.start_operation("op", "Cancel me")
        workers = [ctx.Process(target=cancellable, args=("op",)) for _ in range(2)]
        for worker in workers:
            worker.start()
        assert wait_for(lambda: page.locator(".phase").count() == 2, timeout=60)
        page.locator('.op[data-operation-id="op"] button.cancel').click()
        for worker in workers:
            worker.join(30)
        assert op.cancelled and not op.finished  # the session ends with it open, as a script cut short would
    ended = time.monotonic()
    page.wait_for_function("() => document.getElementById('status').textContent === 'finished'")
    assert "the session ended: interrupted" in page.locator("#summary").inner_text()
    block = page.locator('.op[data-operation-id="op"]')
    assert block.locator(".op-head .chip").inner_text() == "cancelled, unfinished"
    assert "ETA" not in block.locator(".op-facts").inner_text()
    assert not block.locator("button.cancel").is_visible()
    more = block.locator("button.more")
    assert not more.is_visible() and more.text_content() == ""  # no "show -98 more of -98 running"
    assert all("ETA" not in text for text in block.locator(".phase .eta").all_inner_texts())
    time.sleep(4)  # two of the page's retry periods: it must not have tried again
    assert _status(page) == "finished" and not [at for at in streams if at > ended]


def test_a_session_that_ends_well_shows_its_final_state(browser: Any) -> None:  # noqa: F811
    with mpprogress.session(dashboard="127.0.0.1:0", console=False) as tracker:
        page = page_of(browser, mpprogress.dashboard_url() or "")
        with tracker.operation("Quick") as op, op.phase("last", total=5) as phase:
            phase.update(5)
        # the session ends at once: the final state arrives all the same
    page.wait_for_function("() => document.getElementById('status').textContent === 'finished'")
    assert "the session ended: finished" in page.locator("#summary").inner_text()
    assert "Quick" in page.locator("#history").inner_text() and "succeeded" in page.locator("#history").inner_text()
    assert page.locator("#operations .op").count() == 0


def test_the_timeline_can_show_the_latest_operation_only(browser: Any, tmp_path: Any) -> None:  # noqa: F811
    with mpprogress.session(dashboard="127.0.0.1:0", console=False, journal=tmp_path / "run.db") as tracker:
        page = page_of(browser, mpprogress.dashboard_url() or "")
        for title in ("early batch", "late batch"):
            with tracker.operation(title) as op, op.phase(f"{title} phase", total=2) as phase:
                phase.update(2)
        loaded = "() => { const img = document.getElementById('timeline'); return !img.closest('section').hidden" \
                 " && img.complete && img.naturalWidth > 500 && img.getAttribute('src').includes(%s); }"
        page.wait_for_function(loaded % "'v='")
        page.select_option("#timeline-window", "latest")
        page.wait_for_function(loaded % "'&window=latest'")
        base = (mpprogress.dashboard_url() or "").rstrip("/")

        def latest_drawn() -> str:  # the journal commits every 0.2 s: the latest may come a moment later
            src = page.locator("#timeline").get_attribute("src") or ""
            return page.request.get(base + src.replace("&window=latest", "") + "&window=latest").text()

        deadline = time.monotonic() + 30
        svg = latest_drawn()
        while "late batch phase" not in svg and time.monotonic() < deadline:
            time.sleep(0.2)
            svg = latest_drawn()
        assert "late batch phase" in svg and "early batch phase" not in svg


@pytest.mark.parametrize("width", [900, 1300, 1900])
def test_the_timeline_spans_the_width_of_the_page(browser: Any, tmp_path: Any, width: int) -> None:  # noqa: F811
    with mpprogress.session(dashboard="127.0.0.1:0", console=False, journal=tmp_path / "run.db") as tracker:
        page = page_of(browser, mpprogress.dashboard_url() or "")
        page.set_viewport_size({"width": width, "height": 900})
        with tracker.operation("batch") as op, op.phase("batch phase", total=2) as phase:
            phase.update(2)
        page.wait_for_function("() => { const img = document.getElementById('timeline');"
                               " return !img.closest('section').hidden && img.complete && img.naturalWidth > 500; }")
        box = page.evaluate("""() => { const img = document.getElementById('timeline');
            return {drawn: img.getBoundingClientRect().width, room: img.parentElement.clientWidth,
                    ratio: img.height / img.width, natural: img.naturalHeight / img.naturalWidth,
                    scrolls: img.parentElement.scrollWidth > img.parentElement.clientWidth}; }""")
    assert abs(box["drawn"] - box["room"]) <= 1 and not box["scrolls"], box  # all the room, no scroll bar
    assert box["ratio"] == pytest.approx(box["natural"], rel=0.02), box  # scaled, not stretched
