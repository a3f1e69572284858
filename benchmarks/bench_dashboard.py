"""The live web dashboard's numbers: latency to the page, server CPU, bytes per viewer.

Run: ``python benchmarks/bench_dashboard.py`` (about a minute; needs ``mpprogress[web]``, and
Playwright with Debian's ``/usr/bin/chromium`` for the latency).  Prints:

1. latency from a worker's update to the browser's DOM showing it, p50/p99, measured in the
   page: 4 worker processes put their wall-clock time in each update's message, and a
   ``MutationObserver`` in the page takes ``Date.now()`` minus that time for every message
   drawn (same machine, same clock);
2. the server thread's CPU seconds per wall second (``time.thread_time`` on its own thread:
   diffing, encoding and writing), with 1 and with 20 viewers reading the event stream;
3. bytes per second each viewer receives with 32 worker processes updating as fast as they can.

``--screenshot docs/dashboard.png`` instead runs the demo (4 companies in worker processes)
in a session with the dashboard and a journal, and saves the page midway.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import mpprogress
from mpprogress._wiring.dashboard import _OPEN

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def timed_worker(operation_id: str, stop: Any, pause: float) -> None:
    """Update one phase until ``stop``, each update carrying its wall-clock time as the message."""
    op = mpprogress.get_tracker().get_operation(operation_id)
    with op.phase("timed", total=None) as phase:
        while not stop.is_set():
            phase.update(1, message=f"{time.time():.6f}")
            if pause:
                time.sleep(pause)


class Reader(threading.Thread):
    """One viewer reading the event stream and counting its bytes."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.bytes = 0
        self.ready = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", "/api/events")
        response = conn.getresponse()
        self.ready.set()
        try:
            while not self.stop.is_set():
                chunk = response.read1(65536)
                if not chunk:
                    break
                self.bytes += len(chunk)
        except (OSError, http.client.HTTPException):
            pass  # the server closed the stream at the end of the session
        conn.close()


def _start(ctx: Any, workers: int, pause: float) -> tuple[Any, list[Any]]:
    stop = ctx.Event()
    procs = [ctx.Process(target=timed_worker, args=("bench", stop, pause)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    return stop, procs


def _running(tracker: mpprogress.BaseProgressTracker, phases: int) -> bool:
    op = tracker.snapshot().get("bench")
    return op is not None and sum(1 for p in op.phases if p.current > 0) >= phases


def server_load(viewers: int, workers: int, seconds: float) -> tuple[float, float]:
    """(server CPU seconds per wall second, bytes per second per viewer)."""
    ctx = mp.get_context("fork")
    with mpprogress.session(dashboard="127.0.0.1:0", console=False) as tracker:
        board = _OPEN[tracker]
        tracker.start_operation("bench", "Bench")
        stop, procs = _start(ctx, workers, 0.0)
        try:
            deadline = time.monotonic() + 60
            while not _running(tracker, workers) and time.monotonic() < deadline:
                time.sleep(0.1)
            readers = [Reader(board.server.port) for _ in range(viewers)]
            for reader in readers:
                reader.start()
                reader.ready.wait(10)
            time.sleep(1.0)  # past the first snapshots
            cpu0, bytes0, t0 = board.stats().cpu_seconds, [r.bytes for r in readers], time.monotonic()
            time.sleep(seconds)
            cpu1, bytes1, t1 = board.stats().cpu_seconds, [r.bytes for r in readers], time.monotonic()
            for reader in readers:
                reader.stop.set()
        finally:
            stop.set()
            for proc in procs:
                proc.join(30)
        tracker.finish_operation("bench")
    per_viewer = statistics.mean(b1 - b0 for b0, b1 in zip(bytes0, bytes1, strict=True)) / (t1 - t0)
    return (cpu1 - cpu0) / (t1 - t0), per_viewer


OBSERVE = """() => {
  window.latencies = [];
  new MutationObserver((changes) => {
    const now = Date.now() / 1000;
    for (const change of changes) {
      const node = change.type === 'characterData' ? change.target.parentElement : change.target;
      if (!node || !node.classList || !node.classList.contains('msg')) continue;
      const sent = parseFloat(node.textContent);
      if (sent > 0) window.latencies.push(now - sent);
    }
  }).observe(document.getElementById('operations'), {subtree: true, childList: true, characterData: true});
}"""


def page_latency(workers: int, seconds: float) -> list[float]:
    """Seconds from a worker's update to the page's DOM showing it, every message drawn."""
    from playwright.sync_api import sync_playwright

    ctx = mp.get_context("spawn")
    with mpprogress.session(dashboard="127.0.0.1:0", console=False) as tracker, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page()
        page.goto(mpprogress.dashboard_url() or "")
        page.wait_for_function("() => document.getElementById('status').textContent === 'live'")
        tracker.start_operation("bench", "Bench")
        stop, procs = _start(ctx, workers, 0.005)
        try:
            page.wait_for_function("() => document.querySelectorAll('.phase .msg').length > 0", timeout=60_000)
            page.evaluate(OBSERVE)
            time.sleep(seconds)
            found: list[float] = page.evaluate("() => window.latencies")
        finally:
            stop.set()
            for proc in procs:
                proc.join(30)
            browser.close()
        tracker.finish_operation("bench")
    return found


def screenshot(path: Path) -> None:
    """Run the demo in a session with the dashboard and a journal; save the page midway."""
    from playwright.sync_api import sync_playwright

    from mpprogress._demo.run import DemoConfig, _research_companies
    from mpprogress._demo.server import SiteServer
    from mpprogress._demo.site import generate_site

    config = DemoConfig(workers=4, companies=6, pages=400)
    site = generate_site(config.seed, config.companies, config.pages)
    with tempfile.TemporaryDirectory() as tmp, SiteServer(site) as server, mpprogress.session(
        dashboard="127.0.0.1:0", console=False, journal=Path(tmp) / "demo.db", forward_logs=True
    ) as tracker, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 960})
        page.goto(mpprogress.dashboard_url() or "")
        demo = threading.Thread(target=_research_companies, args=(config, site, server.base_url, tracker))
        demo.start()
        page.wait_for_function("() => document.querySelectorAll('#history tbody tr').length >= 2", timeout=120_000)
        page.wait_for_function("() => !document.getElementById('timeline-section').hidden", timeout=30_000)
        time.sleep(1.0)
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=False)
        demo.join()
        browser.close()
    print(f"saved {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measurement (default: 10)")
    parser.add_argument("--screenshot", type=Path, default=None, metavar="PNG", help="save the demo's page there")
    args = parser.parse_args()
    if args.screenshot is not None:
        screenshot(args.screenshot)
        return
    latencies = sorted(page_latency(4, args.seconds))
    if latencies:
        p50 = latencies[len(latencies) // 2]
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"update -> page DOM, 4 workers: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms "
              f"({len(latencies)} messages drawn)")
    for viewers in (1, 20):
        cpu, per_viewer = server_load(viewers, 4, args.seconds)
        print(f"server thread CPU with {viewers:2d} viewer(s), 4 workers: {cpu:.3f} s per wall s "
              f"({per_viewer / 1000:.1f} kB/s per viewer)")
    cpu, per_viewer = server_load(1, 32, args.seconds)
    print(f"32 workers, 1 viewer: {per_viewer / 1000:.1f} kB/s per viewer, server thread CPU {cpu:.3f} s per wall s")


if __name__ == "__main__":
    main()
