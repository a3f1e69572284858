"""Draw the documentation's pictures from one real run of the demo, so they stay true.

    python docs/_scripts/screenshots.py [--out docs/images]

One run of the demo's pipeline (its generated site, one worker process per company, the
session's journal and live dashboard), with the console display drawn into a terminal of 110
columns.  Mid-run, when some companies are done and others are still at work, it saves:

- ``console.svg``: the display's frame, rendered by Rich (``Console(record=True).save_svg``);
- ``dashboard.png``: the live dashboard, screenshotted in headless Chromium (Playwright driving
  Debian's ``/usr/bin/chromium``);

and after the run ``report.png``: the HTML page of ``mpprogress report --format html`` of the
run's journal, screenshotted the same way.  Needs the ``web`` extra and Playwright (the ``docs``
extra); exits 1 with the reason when something cannot be drawn.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

import mpprogress
from mpprogress._demo.pipeline import PipelineConfig
from mpprogress._demo.run import DemoConfig, _research_companies
from mpprogress._demo.server import SiteServer
from mpprogress._demo.site import generate_site
from mpprogress.adapters.console import ConsoleSink

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
WIDTH, HEIGHT = 110, 40
# The demo's pipeline, with the stand-ins for the models slowed down so a moment with some
# companies done and others at work lasts long enough to be captured on a loaded machine.
DEMO = DemoConfig(workers=3, companies=6, pages=300, start_method="fork",
                  pipeline=replace(PipelineConfig(), think_time=1.5, analysis_time=2.5))


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        time.sleep(0.05)


def mid_run(tracker: mpprogress.BaseProgressTracker) -> bool:
    """Some companies done, others at work, one of them past its first phase."""
    operations = tracker.snapshot().operations
    done = sum(op.finished for op in operations)
    busy = [op for op in operations if not op.finished and op.phases]
    return done >= 2 and any(sum(p.finished for p in op.phases) >= 2 for op in busy)


def save_console(sink: ConsoleSink, path: Path) -> None:
    recorder = Console(record=True, width=WIDTH, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    # What the terminal shows: the summary the display printed when the last company finished,
    # above the live rows.
    finished = [op for op in sink.tracker.snapshot().operations if op.finished]
    if finished:
        recorder.print(sink._final(max(finished, key=lambda op: op.started_at.timestamp() + op.elapsed)))
    recorder.print(sink.frame())
    recorder.save_svg(str(path), title="mpprogress demo")


def browser_page(playwright: Any, width: int, height: int) -> Any:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
    return browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1).new_page()


def run(out: Path, work: Path) -> None:
    from playwright.sync_api import sync_playwright

    site = generate_site(DEMO.seed, DEMO.companies, DEMO.pages)
    terminal = Console(file=io.StringIO(), force_terminal=True, width=WIDTH, height=HEIGHT, color_system="truecolor")
    journal = work / "demo.db"
    with sync_playwright() as playwright, SiteServer(site) as server, mpprogress.session(
        console=False, journal=journal, dashboard="127.0.0.1:0"
    ) as tracker:
        sink = ConsoleSink(tracker, console=terminal)
        url = mpprogress.dashboard_url()
        assert url is not None
        page = browser_page(playwright, 1300, 1000)
        page.goto(url)
        page.wait_for_function("() => document.getElementById('status').textContent === 'live'", timeout=30_000)
        errors: list[BaseException] = []

        def research() -> None:
            try:
                _research_companies(DEMO, site, server.base_url, tracker)
            except BaseException as error:  # reported by the main thread
                errors.append(error)

        worker = threading.Thread(target=research, name="demo")
        worker.start()
        wait_for(lambda: mid_run(tracker) or not worker.is_alive(), 180, "a moment in the middle of the run")
        if not worker.is_alive():
            raise SystemExit(f"screenshots: the run ended before its middle was seen ({errors})")
        save_console(sink, out / "console.svg")
        time.sleep(0.6)  # the page is pushed at most ten times a second: let it catch up
        page.screenshot(path=str(out / "dashboard.png"))
        worker.join(300)
        sink.close()
        if errors:
            raise SystemExit(f"screenshots: the demo failed: {errors[0]!r}")
    report = work / "report.html"
    subprocess.run([sys.executable, "-m", "mpprogress", "report", str(journal), "--format", "html",
                    "--output", str(report)], check=True)
    with sync_playwright() as playwright:
        page = browser_page(playwright, 1300, 900)
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=str(out / "report.png"))  # the top: summary, timeline, throughput


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "images")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print("screenshots: /usr/bin/chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mpprogress-screenshots-") as work:
        run(args.out, Path(work))
    for name in ("console.svg", "dashboard.png", "report.png"):
        print(f"screenshots: wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
