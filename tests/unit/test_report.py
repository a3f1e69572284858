"""``mpprogress report``: the figures of a scripted run, and how text, JSON and HTML show them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mpprogress._cli import main
from mpprogress._report import ReportError, load_run, render, write_report
from mpprogress._report.figures import PhaseFigures, throughput
from mpprogress._report.lanes import layout, merge
from mpprogress._report.text import sparkline
from mpprogress._report.units import OUTCOME_COLOURS
from tests.unit.journal_runs import CRAWL, START, Planned, write_run


@pytest.fixture
def crawl(tmp_path: Path) -> Path:
    path = tmp_path / "crawl.db"
    write_run(path, CRAWL)
    return path


def test_the_figures_of_a_run(crawl: Path) -> None:
    figures = load_run(crawl)
    assert figures.run.run_id == 1 and figures.run.closed_cleanly
    assert figures.run.argv == ["crawl.py", "--fast"]
    assert figures.run.end - figures.run.started_at == 10.0
    phases = {p.phase_id: p for p in figures.phases}
    assert {pid: (p.outcome, p.reason) for pid, p in phases.items()} == {
        "p1": ("succeeded", None), "p2": ("succeeded", None), "p3": ("failed", None), "p4": ("lost", None),
        "p5": ("cancelled", None), "p6": ("succeeded", None),
    }
    assert (phases["p1"].duration, phases["p1"].current, phases["p1"].total, phases["p1"].rate) == (4.0, 40, 40, 10.0)
    assert (phases["p1"].host, phases["p1"].pid) == ("host-a", 101)
    assert figures.outcomes == {"succeeded": 3, "failed": 1, "lost": 1, "cancelled": 1}
    assert figures.items == 207
    assert [p.phase_id for p in figures.slowest[:3]] == ["p5", "p1", "p2"]
    assert [p.phase_id for p in figures.failures] == ["p3", "p5", "p4"]  # in order of start
    (operation,) = figures.operations
    assert (operation.title, operation.phases, operation.items, operation.duration, operation.outcome) == (
        "Crawl", 6, 207, 10.0, "failed")  # one of its phases failed, one was lost
    workers = {w.label: (w.phases, w.busy, w.idle, w.failed, w.lost) for w in figures.workers}
    assert workers == {
        "host-a pid 101": (2, 8.0, 1.0, 0, 0),
        "host-a pid 102": (2, 4.5, 0.5, 1, 1),
        "host-b pid 201": (1, 6.0, 0.0, 0, 0),
        "(this process) Crawl": (1, 2.0, 0.0, 0, 0),
    }
    assert [w.label for w in figures.lost_workers] == ["host-a pid 102"]
    flow = figures.throughput
    assert flow.start == START and sum(flow.items_per_second) * flow.bucket_seconds == pytest.approx(207)
    # 8 s to 9 s: fetch 2 (10/s) and merge (50/s)
    assert flow.items_per_second[int(8.5 / flow.bucket_seconds)] == pytest.approx(60)


def test_the_latest_run_by_default_and_others_on_request(crawl: Path) -> None:
    write_run(crawl, [Planned("q", "second run", 0.0, 1.0, 1)], operation="Again", length=1.0)
    assert load_run(crawl).run.run_id == 2
    assert load_run(crawl).other_runs == [1]
    assert [p.title for p in load_run(crawl, 1).phases][:1] == ["fetch 1"]
    with pytest.raises(ReportError, match=r"has no run 7 \(its runs: 1-2\)"):
        load_run(crawl, 7)


def test_a_run_that_was_killed_shows_where_it_stopped(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    sink = write_run(path, [Planned("a", "done", 0.0, 2.0, 10), Planned("b", "running", 1.0, 9.0, 80, 80,
                                                                        finished=False)],
                     length=5.0, close=False)
    figures = load_run(path)  # read while the run is still open, as after a kill
    sink.close()
    assert not figures.run.closed_cleanly
    running = next(p for p in figures.phases if p.phase_id == "b")
    assert (running.outcome, running.finished, running.current) == ("unfinished", False, 30)
    assert running.end == figures.run.end == START + 5.0  # the last write the journal knew of
    assert "no: killed or crashed" in render(figures, "text")


def test_text_report(crawl: Path) -> None:
    text = render(load_run(crawl), "text", width=140)
    for expected in ("mpprogress run 1", "Operations", "Phases of Crawl", "Slowest phases", "Failures",
                     "Lost workers", "Workers", "Throughput over time", "fetch 1", "✘ failed",
                     "host-a pid 102", "207 (20.7/s while phases ran)", "1 failed", "1 lost"):
        assert expected in text, expected
    chart = text.split("Throughput over time\n")[1].splitlines()[0]
    assert set(chart) <= set(" ▁▂▃▄▅▆▇█") and "█" in chart


def test_text_from_the_journal_is_never_markup(tmp_path: Path) -> None:
    path = tmp_path / "markup.db"
    write_run(path, [Planned("m", "[bold red]title[/]", 0.0, 1.0, 1)], length=1.0)
    assert "[bold red]title[/]" in render(load_run(path), "text", width=140)


def test_json_report_has_every_figure(crawl: Path) -> None:
    data = json.loads(render(load_run(crawl), "json"))
    assert data["format"] == "mpprogress.report/2"  # outcome words changed ("ok" is "succeeded")
    assert data["run"]["closed_cleanly"] is True
    assert len(data["phases"]) == 6 and data["items"] == 207
    assert [w["label"] for w in data["lost_workers"]] == ["host-a pid 102"]
    assert {"busy", "idle"} <= set(data["workers"][0])
    assert len(data["throughput"]["items_per_second"]) == 120


def test_html_report_is_self_contained_with_a_bar_per_phase(crawl: Path) -> None:
    page = render(load_run(crawl), "html")
    assert not re.search(r"https?://|<script|<link|@import|\bsrc=", page)  # opens offline, runs nothing
    for phase in CRAWL:
        assert len(re.findall(rf'<rect class="bar o-\w+"[^>]*data-phase-id="{phase.phase_id}"', page)) == 1
    assert re.search(r'class="bar o-lost"[^>]*data-phase-id="p4"><title>index\nlost\n', page)
    for outcome, colour in OUTCOME_COLOURS.items():
        assert f".o-{outcome}{{fill:{colour}}}" in page
    assert "host host-a: 2 lanes, 4 phases" in page and "operation: Crawl: 1 lane, 1 phases" in page
    assert page.count('class="flow"') == 120


def test_html_escapes_what_the_journal_holds(tmp_path: Path) -> None:
    path = tmp_path / "escape.db"
    write_run(path, [Planned("x", "<img src=x onerror=alert(1)>", 0.0, 1.0, 1)], operation="<b>op</b>",
              length=1.0)
    page = render(load_run(path), "html")
    assert "<img" not in page and "<b>op" not in page and "&lt;img src=x" in page


def _phase(number: int, start: float, end: float, outcome: str = "succeeded", pid: int | None = 1) -> PhaseFigures:
    return PhaseFigures(f"p{number}", "op", None, f"p{number}", f"p{number}", "h" if pid else None, pid, start, end,
                        True, end - start, 1, 1, None, outcome, None if outcome == "succeeded" else outcome)


def test_narrow_bars_merge_into_bins_with_markers_where_something_failed() -> None:
    tiny = [_phase(n, n * 0.01, n * 0.01 + 0.009, "failed" if n == 500 else "succeeded") for n in range(1000)]
    wide = [_phase(2000, 20.0, 30.0), _phase(2001, 30.0, 40.0)]
    bars = merge([*tiny, *wide], 0.0, seconds_per_px=0.05)  # 2 px bins: 0.1 s
    base, *separate, marker = bars  # the marker is drawn last: on top
    assert (base.outcome, len(base.members), base.marker) == ("succeeded", 1000, False)  # most of them are ok
    assert [bar.members[0].phase_id for bar in separate] == ["p2000", "p2001"]  # wide neighbours stay apart
    assert (marker.outcome, [p.phase_id for p in marker.members], marker.marker) == ("failed", ["p500"], True)
    assert marker.end - marker.start == pytest.approx(0.1)


def test_a_long_failure_gets_one_marker_over_the_bins_it_spans() -> None:
    phases = [_phase(0, 0.0, 10.0, "failed"), *(_phase(n, 0.0, 10.0) for n in range(1, 4))]
    bars = merge(phases, 0.0, seconds_per_px=0.05, overlapping=True)
    drawn = [(bar.outcome, bar.marker, len(bar.members)) for bar in bars]
    assert drawn == [("succeeded", False, 4), ("failed", True, 1)]


def test_lanes_per_worker_fold_past_a_limit_and_stop_drawing_past_another() -> None:
    many = [_phase(n, 0.0, 1.0, pid=n + 1) for n in range(300)]
    overlapping = [_phase(1000 + n, n * 0.5, n * 0.5 + 2.0, pid=None) for n in range(4)]
    host, local = layout([*many, *overlapping], {"op": "Op"}, 0.0, seconds_per_px=0.01, fold_above=24,
                         max_drawn=200)
    assert (host.name, host.folded, len(host.lanes), host.hidden_lanes, host.phases) == ("host h", True, 200, 100, 300)
    assert len(host.overview.bars) == 1 and len(host.overview.bars[0].members) == 300
    assert (local.name, local.folded, [len(lane.bars) for lane in local.lanes]) == ("operation: Op", False, [1] * 4)


def test_throughput_spreads_each_step_over_its_time() -> None:
    flow = throughput(0.0, 4.0, [[(0.0, 0.0), (2.0, 20.0)], [(1.0, 0.0), (1.0, 5.0)]], buckets=4)
    assert flow.items_per_second == [10.0, 15.0, 0.0, 0.0]


def test_sparkline() -> None:
    assert sparkline([0, 1, 2, 4, 8], 5) == " ▁▂▄█"
    assert sparkline([1.0] * 100, 10) == "█" * 10


def test_the_command_line(crawl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    assert main(["report", str(crawl), "--format", "html", "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert main(["report", str(crawl), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["run"]["run_id"] == 1
    assert main(["report", str(crawl), "--run", "9"]) == 2
    assert "has no run 9" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing.db")]) == 2


def test_write_report_to_a_stream(crawl: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with target.open("w", encoding="utf-8") as stream:
        write_report(crawl, fmt="text", stream=stream)
    assert "Phases of Crawl" in target.read_text(encoding="utf-8")
