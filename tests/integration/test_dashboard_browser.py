"""The live dashboard as a person sees it: headless Chromium (Debian's ``/usr/bin/chromium``,
driven by Playwright, which downloads no browser here) watching real worker processes."""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mpprogress
from mpprogress._base.events import Worker
from tests.integration.conftest import end_processes, finished_phases, wait_for
from tests.integration.dashboard_workers import HOSTILE, cancellable, hang, steady
from tests.integration.test_relay import Relay, _free_port, _worker
from tests.integration.test_report_browser import CHROMIUM, FLAGS
from tests.unit.test_dashboard_server import non_loopback_address

pytest.importorskip("aiohttp")

pytestmark = [
    pytest.mark.processes,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed "
                       "(.ci/run installs it: apt-get install chromium)"),
]

LAG = 2.5  # how far behind the tracker the page may be: slack for a loaded 2-core machine
LIVE = "() => document.getElementById('status').textContent === 'live'"
ROWS = """() => Object.fromEntries([...document.querySelectorAll('.phase')].map(row => [row.dataset.phaseId,
  [row.querySelector('.count').textContent, row.querySelector('.chip').textContent]]))"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser(chromium: Any) -> Iterator[Any]:
    """A fresh browser context (its own cookies); ``browser.new_page()`` opens tabs."""
    context = chromium.new_context(viewport={"width": 1300, "height": 900})
    context.set_default_timeout(30_000)
    try:
        yield context
    finally:
        context.close()


def spawn() -> Any:
    return multiprocessing.get_context("spawn")


def numbers(text: str) -> tuple[float, float | None]:
    current, _, total = text.partition("/")
    return float(current.replace(",", "")), None if total == "?" else float(total.replace(",", ""))


class Sampler:
    """The tracker's snapshot every 20 ms, to say what it held at any moment of the test."""

    def __init__(self, tracker: mpprogress.BaseProgressTracker) -> None:
        self.tracker = tracker
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            snap = self.tracker.snapshot()
            self.samples.append((time.monotonic(), {p.phase_id: p.current for op in snap.operations
                                                    for p in op.all_phases()}))

    def now(self) -> dict[str, float]:
        return {p.phase_id: p.current for op in self.tracker.snapshot().operations for p in op.all_phases()}

    def at(self, moment: float) -> dict[str, float]:
        before = [values for at, values in self.samples if at <= moment]
        return before[-1] if before else {}

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def page_of(browser: Any, url: str) -> Any:
    page = browser.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url)
    page.wait_for_function(LIVE)
    return page


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_the_page_shows_the_trackers_numbers_within_a_second_and_hostile_text_as_text(
    browser: Any, tmp_path: Path, start_method: str
) -> None:
    ctx = multiprocessing.get_context(start_method)
    hold = ctx.Event()
    with mpprogress.session(dashboard="127.0.0.1:0", console=False, forward_logs=True) as tracker:
        url = mpprogress.dashboard_url()
        assert url is not None and url.startswith("http://127.0.0.1:")
        origin = url.rstrip("/")
        page = page_of(browser, url)
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        op = tracker.start_operation("crawl", "Crawl")
        workers = [ctx.Process(target=steady, args=("crawl" if n < 3 else None, hold, 2, 300)) for n in range(4)]
        for worker in workers:
            worker.start()
        sampler = Sampler(tracker)
        try:
            checked = 0
            deadline = time.monotonic() + 60
            while finished_phases(tracker) < 8 and time.monotonic() < deadline:
                time.sleep(0.3)
                before = time.monotonic()
                shown = page.evaluate(ROWS)
                earliest, latest = sampler.at(before - 1.0), sampler.now()
                moving = [pid for pid in shown if earliest.get(pid) != latest.get(pid) and pid in earliest]
                # Live, not a speed check: at least what the tracker held LAG seconds before.
                lagged = sampler.at(before - LAG)
                for pid, (count, _) in shown.items():
                    if pid in lagged:
                        assert lagged[pid] <= numbers(count)[0] <= latest[pid], (pid, count, lagged[pid])
                checked += bool(moving)
            assert checked >= 5, "the workers' phases were seen moving on the page"
            # every phase done: the page shows exactly what the tracker holds
            assert wait_for(lambda: finished_phases(tracker) == 8, timeout=60)
            final = {p.phase_id: p for o in tracker.snapshot().operations for p in o.all_phases()}
            expected = {pid: [f"{p.current:,}/{p.total:,}", "succeeded"] for pid, p in final.items()}

            def page_has_it() -> bool:
                shown = page.evaluate("""() => { for (const f of document.querySelectorAll('details.finished'))
                  if (!f.open) f.open = true; return 0; }""")
                del shown
                return page.evaluate(ROWS) == expected

            assert wait_for(page_has_it, timeout=10, interval=0.05), (page.evaluate(ROWS), expected)
            pids = {str(worker.pid) for worker in workers}
            cells = page.locator("#workers tbody tr").evaluate_all(
                "rows => rows.map(r => [r.cells[1].textContent, r.cells[2].textContent])")
            assert sorted(cells) == sorted([pid, "alive"] for pid in pids)
            logs = page.locator("#logs").inner_text()
            assert sum(f"worker {pid} started <b>bold</b>" in logs for pid in pids) == 4
            # hostile text is shown as text: nothing ran, no element was made of it
            assert HOSTILE in page.locator("#operations").inner_text()
            assert "[31mred[0m" in page.locator("#operations").inner_text()  # the escape byte is gone
            assert page.evaluate("window.__xss") is None and page.dialogs == []
            assert page.locator("#operations img, #history img, #logs img").count() == 0
            assert all(request.startswith(origin) for request in requests), requests  # nothing from elsewhere
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        finally:
            sampler.close()
            hold.set()
            end_processes(workers)
        tracker.finish_operation(op.operation_id)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]


def test_a_killed_worker_shows_as_lost(browser: Any) -> None:
    ctx = spawn()
    with mpprogress.session(dashboard="127.0.0.1:0", console=False) as tracker:
        page = page_of(browser, mpprogress.dashboard_url() or "")
        tracker.start_operation("op", "Doomed")
        worker = ctx.Process(target=hang, args=("op",))
        worker.start()
        row = page.locator(f'#workers tr[data-worker$=":{worker.pid}"]')
        row.wait_for()
        assert row.locator("td").nth(2).inner_text() == "alive"
        os.kill(worker.pid or 0, signal.SIGKILL)
        worker.join()
        page.wait_for_function(f"""() => {{
            const row = document.querySelector('#workers tr[data-worker$=":{worker.pid}"]');
            return row && row.cells[2].textContent === 'lost' && row.className === 'lost'; }}""")
        page.locator("details.finished > summary").first.click()
        phase = page.locator('.phase:has-text("hang")')
        assert phase.locator(".chip").inner_text() == "lost"
        assert "1 workers (1 lost)" in page.locator("#summary").inner_text()
        tracker.finish_operation("op", success=False)


def test_stalled_resumed_and_incomplete_phases_say_so(browser: Any) -> None:
    # No process: the tracker's phases are flagged as the aggregator's applier and a resuming
    # tracker flag them, and the page is read as a person reads it.
    with mpprogress.session(dashboard="127.0.0.1:0", console=False) as tracker:
        page = page_of(browser, mpprogress.dashboard_url() or "")
        op = tracker.start_operation("op", "Mixed")
        silent = op.start_phase("silent", "silent", total=100, worker=Worker("box", 11))
        silent.update(10)
        busy = op.start_phase("busy", "busy", total=100, worker=Worker("box", 12))
        busy.update(10)
        resumed = op.start_phase("resumed", "resumed", total=1000)
        resumed.resumed_from = 400
        resumed.update(1)
        parent = op.start_phase("parent", "parent", total=1)
        parent.start_phase("child", "child", total=50).update(20)
        op.finish_phase("parent")  # closes its child short of its total
        silent.stalled = True  # its worker went silent (the next snapshot, within a second, shows it)
        page.wait_for_function("""() => {
            const row = document.querySelector('.phase[data-phase-id="silent"]');
            return row && row.querySelector('.chip').textContent === 'stalled'; }""")
        silent_row = page.locator('.phase[data-phase-id="silent"]')
        assert silent_row.locator(".eta").inner_text() == ""
        assert "no news from its worker" in silent_row.locator(".msg").inner_text()
        assert page.locator('.phase[data-phase-id="busy"] .chip').inner_text() == "running"
        assert page.locator('.phase[data-phase-id="resumed"] .msg').inner_text() == "resumed at 400/1,000"
        workers = page.locator("#workers tbody tr").evaluate_all(
            "rows => rows.map(r => [r.cells[1].textContent, r.cells[2].textContent, r.className])")
        assert workers == [["12", "alive", ""], ["11", "stalled", "stalled"]]  # in doubt: after the alive
        assert "2 workers (1 stalled)" in page.locator("#summary").inner_text()
        assert "1 stalled" in page.locator(".op-facts").inner_text()
        page.locator("details.finished > summary").first.click()
        child = page.locator('.phase[data-phase-id="child"]')
        assert child.locator(".chip").inner_text() == "incomplete" and child.locator(".count").inner_text() == "20/50"
        silent.stalled = False  # heard from again
        page.wait_for_function("""() => document.querySelector('.phase[data-phase-id="silent"] .chip')
            .textContent === 'running' && document.querySelector('#workers tr[data-worker="box:11"]')
            .cells[2].textContent === 'alive'""")
        tracker.finish_operation("op", success=False)


def test_the_cancel_button_cancels_the_workers(browser: Any) -> None:
    ctx = spawn()
    with mpprogress.session(dashboard="127.0.0.1:0", console=False) as tracker:
        page = page_of(browser, mpprogress.dashboard_url() or "")
        op = tracker.start_operation("op", "Cancel me")
        workers = [ctx.Process(target=cancellable, args=("op",)) for _ in range(4)]
        for worker in workers:
            worker.start()
        assert wait_for(lambda: page.locator(".phase").count() == 4, timeout=60)
        assert not op.cancelled
        page.locator('.op[data-operation-id="op"] button.cancel').click()
        for worker in workers:
            worker.join(30)
        assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]  # each saw ProgressCancelled
        assert op.cancelled
        assert page.locator('.op[data-operation-id="op"] button.cancel').inner_text() == "cancel requested"
        tracker.finish_operation("op", success=False)
        page.wait_for_function("""() => [...document.querySelectorAll('#history tr')].some(
            r => r.textContent.includes('Cancel me') && r.textContent.includes('cancelled'))""")


def test_a_non_loopback_dashboard_refuses_without_its_token_and_works_with_it(browser: Any) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no address but loopback to bind the dashboard on")
    with mpprogress.session(dashboard=f"{address}:0", console=False) as tracker:
        url = mpprogress.dashboard_url() or ""
        match = re.fullmatch(rf"http://{re.escape(address)}:(\d+)/\?token=([\w-]+)", url)
        assert match is not None, url
        with tracker.operation("Guarded") as op, op.phase("secret phase", total=10) as phase:
            phase.update(3)
            page = browser.new_page()
            response = page.goto(f"http://{address}:{match.group(1)}/")
            assert response.status == 403 and "token is required" in page.content()
            assert page.goto(f"http://{address}:{match.group(1)}/api/state").status == 403
            page.goto(url)
            assert page.url == f"http://{address}:{match.group(1)}/"  # the token left the address bar
            page.wait_for_function(LIVE)
            assert page.locator(".phase .count").inner_text() == "3/10"


def test_twenty_viewers_see_the_same_run(chromium: Any) -> None:
    # Twenty browsers, as twenty people would be: one browser profile keeps at most six
    # connections to a host, so its seventh tab's event stream would wait (HTTP/1.1).
    ctx = spawn()
    hold = ctx.Event()
    contexts = [chromium.new_context(viewport={"width": 1000, "height": 600}) for _ in range(20)]
    with mpprogress.session(dashboard="127.0.0.1:0", console=False) as tracker:
        url = mpprogress.dashboard_url() or ""
        pages = [page_of(context, url) for context in contexts]
        tracker.start_operation("op", "Shared")
        workers = [ctx.Process(target=steady, args=("op", hold, 1, 100, 0.01)) for _ in range(2)]
        for worker in workers:
            worker.start()
        try:
            assert wait_for(lambda: finished_phases(tracker) == 2, timeout=60)
            from mpprogress._wiring.dashboard import _OPEN

            assert _OPEN[tracker].stats().viewers == 20

            def everyone_sees_it() -> bool:
                return all(page.locator(".op .op-facts").first.inner_text().startswith("0 running · 2 finished")
                           for page in pages)

            assert wait_for(everyone_sees_it, timeout=10)
        finally:
            hold.set()
            for worker in workers:
                worker.join(30)
            for context in contexts:
                context.close()


def test_a_restarted_relay_is_picked_up_without_a_reload(browser: Any, tmp_path: Path) -> None:
    http, zmq_port = _free_port(), _free_port()
    args = ("--bind", f"tcp://127.0.0.1:{zmq_port}", "--format", "json", "--http", f"127.0.0.1:{http}")
    relays = [Relay(*args)]
    try:
        address = relays[0].wait_listening()
        assert wait_for(lambda: any("mpprogress dashboard: http://" in line for line in relays[0].err))
        page = page_of(browser, f"http://127.0.0.1:{http}/")
        page.evaluate("window.__sameDocument = true")
        assert _worker(address, "before", "--items", "20").wait(60) == 0
        page.wait_for_function("() => document.querySelector('#history').textContent.includes('before')")
        assert relays[0].stop(signal.SIGTERM) == 0
        # the relay said it stopped: its page keeps the last state, not a red "reconnecting…"
        page.wait_for_function("() => document.getElementById('status').textContent"
                               " === 'stopped: waiting for it to start again'")
        assert "the relay stopped" in page.locator("#summary").inner_text()
        assert "before" in page.locator("#history").inner_text()
        relays.append(Relay(*args))
        relays[1].wait_listening()
        page.wait_for_function(LIVE, timeout=30_000)
        assert _worker(address, "after", "--items", "20").wait(60) == 0
        page.wait_for_function("() => document.querySelector('#history').textContent.includes('after')")
        assert page.evaluate("window.__sameDocument") is True  # the same page, never reloaded
    finally:
        for relay in relays:
            relay.kill()


def test_the_dashboard_of_a_journal_being_written_by_another_process(browser: Any, tmp_path: Path) -> None:
    http, zmq_port = _free_port(), _free_port()
    journal = tmp_path / "run.db"
    relay = Relay("--bind", f"tcp://127.0.0.1:{zmq_port}", "--format", "json", "--journal", str(journal))
    viewer = None
    try:
        address = relay.wait_listening()
        viewer = _dashboard_process(journal, http)
        page = page_of(browser, f"http://127.0.0.1:{http}/")
        assert re.search(r"run 1 of run\.db", page.locator("#title").inner_text())
        # Started once the page is up, so the page sees the counts move however slow the start.
        worker = _worker(address, "journaled", "--phases", "2", "--items", "200", "--sleep", "0.01")
        seen: list[float] = []

        def moving() -> bool:
            rows = page.evaluate(ROWS)
            seen.extend(numbers(count)[0] for count, _ in rows.values())
            return len(set(seen)) >= 3

        assert wait_for(moving, timeout=30), seen  # re-read while the other process writes
        assert worker.wait(60) == 0
        page.wait_for_function("() => document.querySelector('#history').textContent.includes('journaled')")
        page.wait_for_function("() => { const img = document.getElementById('timeline');"
                               " return !img.closest('section').hidden && img.complete && img.naturalWidth > 500; }")
        assert page.locator(".op button.cancel").count() == 0
    finally:
        relay.kill()
        if viewer is not None:
            viewer.kill()


def _dashboard_process(journal: Path, http: int) -> Any:
    """``python -m mpprogress dashboard JOURNAL --http 127.0.0.1:PORT``, listening."""
    import sys

    from tests.integration.test_relay import ROOT, _env

    proc = subprocess.Popen([sys.executable, "-m", "mpprogress", "dashboard", str(journal), "--http",
                             f"127.0.0.1:{http}"], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline() if proc.stderr else ""
    assert line.startswith(f"mpprogress dashboard: http://127.0.0.1:{http}/"), line
    return _Killable(proc)


class _Killable:
    def __init__(self, proc: Any) -> None:
        self.proc = proc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

