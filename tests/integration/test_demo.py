"""``mpprogress demo``: the generated site, the 4-phase pipeline, and the whole run across processes.

The site model is the ground truth: every count the pipeline reports is compared with what the
model says a correct run must find.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from mpprogress import BaseProgressTracker
from mpprogress._cli import build_parser, main
from mpprogress._demo.pipeline import CompanyTarget, PipelineConfig, research_company, select_pages
from mpprogress._demo.server import SiteServer
from mpprogress._demo.site import MIN_PAGES, CompanySite, generate_site
from mpprogress.testing import RecordingCallback

PHASES = ["Link Discovery", "Page Selection", "Content Extraction", "Analysis"]
FAST = PipelineConfig(think_time=0.05, analysis_time=0.02)


class Expected:
    """What a correct pipeline run reports for one company site, derived from the model."""

    def __init__(self, site: CompanySite, config: PipelineConfig) -> None:
        discovery = site.discovery(config.crawl_depth)
        self.discovered = discovery.paths
        self.discovery_steps = 2 + discovery.crawl_fetches
        self.selected = select_pages(discovery.paths, config)
        self.failed = sorted(path for path in self.selected if site.status(path) != 200)
        self.extracted = len(self.selected) - len(self.failed)
        flaky = {path for path, page in site.pages.items() if page.flaky and page.status == 200}
        broken = {path for path in self.selected if site.status(path) == 500}
        self.extraction_retries = len(flaky & set(self.selected)) + (config.attempts - 1) * len(broken)
        self.crawl_retries = len(flaky & set(discovery.fetched))
        self.products = sorted(
            product
            for product in site.company.products
            if (path := f"{site.root}products/{product.lower().replace(' ', '-')}.html") in self.selected
            and site.status(path) == 200
        )


def _get(url: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


# --- the site -------------------------------------------------------------------------------


def test_site_is_deterministic_from_its_seed() -> None:
    assert generate_site(7, 3, 60) == generate_site(7, 3, 60)
    assert generate_site(7, 3, 60) != generate_site(8, 3, 60)


def test_site_has_the_requested_pages_and_some_of_every_kind_of_trouble() -> None:
    site = generate_site(1, 4, 300)
    assert [s.company.name for s in site.sites] == [
        "Acme Robotics", "Globex Logistics", "Initech Software", "Umbrella Health"
    ]
    for company_site in site.sites:
        assert len(company_site.pages) == 300
        assert company_site.count(status=500) > 0
        assert company_site.count(flaky=True) > 0
        assert len(company_site.dead_links) == 10
        assert all(path not in company_site.pages for path in company_site.dead_links)
        discovery = company_site.discovery(2)
        # The hubs list every page, so a depth-2 crawl learns all of them and the dead links.
        assert len(discovery.paths) == 300 + 10
        assert discovery.crawl_fetches == 10


def test_site_refuses_too_few_pages() -> None:
    with pytest.raises(ValueError, match="pages must be at least"):
        generate_site(1, 1, MIN_PAGES - 1)
    with pytest.raises(ValueError, match="companies"):
        generate_site(1, 0, 100)


def test_server_answers_robots_sitemap_pages_failures_and_retries() -> None:
    site = generate_site(3, 1, 100)
    company_site = site.sites[0]
    root = company_site.root
    broken = next(path for path, page in company_site.pages.items() if page.status == 500)
    flaky = f"{root}contact.html"
    with SiteServer(site) as server:
        base = server.base_url
        status, robots = _get(f"{base}{root}robots.txt")
        assert status == 200
        assert f"Disallow: {root}private/" in robots
        assert f"Sitemap: {base}{root}sitemap.xml" in robots
        status, sitemap = _get(f"{base}{root}sitemap.xml")
        assert sitemap.count("<loc>") == len(company_site.sitemap)
        status, home = _get(f"{base}{root}")
        assert status == 200
        assert f'href="{root}about.html"' in home
        assert _get(f"{base}{broken}")[0] == 500
        assert _get(f"{base}{company_site.dead_links[0]}")[0] == 404
        assert [_get(f"{base}{flaky}")[0] for _ in range(4)] == [503, 200, 503, 200]
        assert server.statuses == {200: 5, 404: 1, 500: 1, 503: 2}
    assert server.statuses == {200: 5, 404: 1, 500: 1, 503: 2}


# --- the pipeline, threaded mode ------------------------------------------------------------


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_pipeline_reports_exact_counts_failures_and_retries_in_threaded_mode(seed: int) -> None:
    site = generate_site(seed, 1, 80)
    company_site = site.sites[0]
    company = company_site.company
    expected = Expected(company_site, FAST)
    tracker = BaseProgressTracker(max_update_rate=None)  # every update becomes an event
    recorder = RecordingCallback()
    tracker.add_callback(recorder)
    with SiteServer(site) as server, tracker.operation(f"Researching {company.name}") as op:
        profile = research_company(op, CompanyTarget(company.name, company.slug, server.base_url), FAST)

    lifecycle = [(e.type, e.data.get("title")) for e in recorder.events if e.type != "progress_update"]
    assert lifecycle == [
        ("operation_started", f"Researching {company.name}"),
        *[(kind, title) for title in PHASES for kind in ("phase_started", "phase_finished")],
        ("operation_finished", f"Researching {company.name}"),
    ]
    finished = {e.data["title"]: e.data for e in recorder.of_type("phase_finished")}
    assert all(data["success"] for data in finished.values())
    counts = {title: (data["current"], data["total"]) for title, data in finished.items()}
    assert counts == {
        "Link Discovery": (expected.discovery_steps, expected.discovery_steps),
        "Page Selection": (len(expected.discovered), len(expected.discovered)),
        "Content Extraction": (len(expected.selected), len(expected.selected)),
        "Analysis": (4, 4),
    }
    updates = recorder.of_type("progress_update")
    extraction = [e.data for e in updates if e.data["title"] == "Content Extraction"]
    assert len([u for u in extraction if u["message"].startswith(("✅", "❌"))]) == len(expected.selected)
    failed = [u["message"].split()[1].rstrip(":") for u in extraction if u["message"][0] == "❌"]
    assert sorted(company_site.root + path for path in failed) == expected.failed
    assert len([u for u in extraction if u["message"][0] == "↻"]) == expected.extraction_retries
    assert extraction[-1]["message"].startswith(f"Extracted {expected.extracted} pages, {len(expected.failed)} failed")
    assert (extraction[-1]["extracted"], extraction[-1]["failed"], extraction[-1]["retries"]) == (
        expected.extracted, len(expected.failed), expected.extraction_retries
    )

    assert (profile.links_discovered, profile.pages_selected) == (len(expected.discovered), len(expected.selected))
    assert (profile.pages_extracted, profile.pages_failed) == (expected.extracted, len(expected.failed))
    assert profile.retries == expected.crawl_retries + expected.extraction_retries
    facts = (profile.industry, profile.founded, profile.headquarters, profile.employees)
    assert facts == (company.industry, company.founded, company.headquarters, company.employees)
    assert list(profile.products) == expected.products
    assert len(profile.embedding) == 8


# --- the whole demo, across processes ---------------------------------------------------------


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mpprogress", "demo", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


def _by_operation(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        operation_id = event["data"].get("operation_id")
        if operation_id:
            grouped.setdefault(operation_id, []).append(event)
    return grouped


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_demo_json_stream_matches_the_generated_site(start_method: str) -> None:
    seed = 7
    result = _run_cli("--companies", "2", "--pages", "30", "--seed", str(seed), "--format", "json",
                      "--start-method", start_method)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    site = generate_site(seed, 2, 30)
    operations = _by_operation(events)
    assert len(operations) == 2
    profiles = {e["data"]["name"]: e["data"] for e in events if e["type"] == "demo_result"}
    for company_site in site.sites:
        company = company_site.company
        expected = Expected(company_site, PipelineConfig())
        stream = operations[f"research-{company.slug}"]
        kinds = [(e["type"], e["data"].get("title")) for e in stream if e["type"] != "progress_update"]
        assert kinds[0] == ("operation_started", f"Researching {company.name}")
        assert kinds[-1] == ("operation_finished", f"Researching {company.name}")
        assert [title for kind, title in kinds if kind == "phase_started"] == PHASES
        finished = {e["data"]["title"]: e["data"] for e in stream if e["type"] == "phase_finished"}
        assert list(finished) == PHASES
        assert all(data["success"] for data in finished.values())
        assert stream[-1]["data"]["success"] is True
        assert finished["Link Discovery"]["current"] == expected.discovery_steps
        assert finished["Page Selection"]["current"] == len(expected.discovered)
        assert finished["Content Extraction"]["current"] == len(expected.selected)
        assert finished["Analysis"]["current"] == 4
        assert all(data["current"] == data["total"] for data in finished.values())

        updates = [e["data"] for e in stream if e["type"] == "progress_update"]
        last = [data for data in updates if data["title"] == "Content Extraction"][-1]
        assert expected.failed, "every generated site has at least one failing selected page"
        assert last["message"].startswith(f"Extracted {expected.extracted} pages, {len(expected.failed)} failed: ")
        assert all(path.removeprefix(company_site.root) in last["message"] for path in expected.failed[:4])

        profile = profiles[company.name]
        assert (profile["pages_extracted"], profile["pages_failed"]) == (expected.extracted, len(expected.failed))
        assert profile["retries"] == expected.crawl_retries + expected.extraction_retries
        assert profile["founded"] == company.founded
        assert profile["products"] == expected.products
    summary = [e["data"] for e in events if e["type"] == "demo_summary"]
    assert summary == [{"companies": 2, "succeeded": 2, "errors": {}, "http_statuses": summary[0]["http_statuses"]}]


def test_demo_display_mode_prints_results_and_operation_summaries() -> None:
    result = _run_cli("--companies", "3", "--workers", "2", "--pages", "20", "--no-color")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("\nResults\n")  # stdout holds the results alone: the display draws on stderr
    results = out
    for company_site in generate_site(1, 3, 20).sites:
        company = company_site.company
        assert f"Researching {company.name}" in result.stderr
        assert f"Researching {company.name}" not in results
        assert f"{company.name}: {company.industry}, founded {company.founded}" in results
    assert "3 operations: 0 succeeded, 3 incomplete, 0 failed" in results  # as the display says: pages failed
    assert "The local site answered" in results


def test_demo_totals_say_how_operations_ended_in_the_displays_words() -> None:
    # With failed pages each company's operation ends incomplete on the display ("◐ Incomplete"):
    # the closing line says so too (it read "4 succeeded, 0 failed").
    result = _run_cli("--companies", "4", "--no-color")
    assert result.returncode == 0, result.stderr
    assert "Incomplete Researching" in result.stderr
    (totals,) = [line for line in result.stdout.splitlines() if line.startswith("4 operations: ")]
    assert totals.startswith("4 operations: 0 succeeded, 4 incomplete, 0 failed;"), totals


def test_demo_results_wrap_at_word_boundaries_on_a_narrow_terminal() -> None:
    env = {**os.environ, "COLUMNS": "60"}
    result = subprocess.run(
        [sys.executable, "-m", "mpprogress", "demo", "--companies", "2", "--pages", "20", "--no-color"],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )
    assert result.returncode == 0, result.stderr
    results = result.stdout[result.stdout.index("\nResults\n"):].splitlines()
    assert max(len(line) for line in results) <= 60
    pages = [i for i, line in enumerate(results) if line.startswith("    pages: ")]
    assert pages and all(results[i + 1].startswith("      ") for i in pages)  # continued, indented
    joined = " ".join(line.strip() for line in results)
    assert "retries; " in joined or "retry; " in joined  # words kept whole across the fold


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_demo_ctrl_c_ends_every_operation_and_leaves_no_process(start_method: str) -> None:
    command = [sys.executable, "-m", "mpprogress", "demo", "--format", "json", "--start-method", start_method]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert child.stdout is not None
        lines = []
        for line in child.stdout:
            lines.append(line)
            if '"type": "progress_update"' in line:  # workers are reporting
                break
        os.killpg(child.pid, signal.SIGINT)  # the terminal sends it to the whole group
        rest = child.stdout.read()  # not communicate(): it would skip what iteration buffered
        err = child.stderr.read() if child.stderr else ""
        child.wait(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert "Traceback" not in err
    events = [json.loads(line) for line in [*lines, *rest.splitlines()]]
    started = {e["data"]["operation_id"] for e in events if e["type"] == "operation_started"}
    ended = {e["data"]["operation_id"]: e["data"]["success"] for e in events if e["type"] == "operation_finished"}
    assert len(started) == 4
    assert set(ended) == started
    assert not any(ended.values())
    outcomes = {e["data"]["outcome"] for e in events if e["type"] == "operation_finished"}
    assert outcomes == {"interrupted"}, outcomes  # the README's word for Ctrl-C (it read "cancelled")
    assert _group_is_gone(child.pid)


def _group_is_gone(group: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


# --- the command line -------------------------------------------------------------------------


def test_cli_has_a_demo_subcommand_with_its_options() -> None:
    args = build_parser().parse_args(["demo", "--workers", "2", "--format", "json", "--no-color"])
    assert (args.workers, args.companies, args.pages, args.seed) == (2, 4, 300, 1)
    assert (args.output, args.color, args.start_method) == ("json", False, None)


def test_cli_rejects_bad_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc_info:
        main(["demo", "--workers", "0"])
    assert exc_info.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc_info:
        main(["demo", "--pages", "3"])
    assert exc_info.value.code == 2  # like every other bad option: usage, then the error
    assert f"--pages: must be at least {MIN_PAGES}, got 3" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc_info:
        main(["demo", "--workers", "abc"])
    assert "--workers: expected a whole number, got 'abc'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([])


def test_cli_prints_its_version(capsys: pytest.CaptureFixture[str]) -> None:
    import mpprogress

    with pytest.raises(SystemExit) as exc_info:
        main(["--version"])
    assert exc_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"mpprogress {mpprogress.__version__}"
