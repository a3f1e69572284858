"""The Rich front end: ``rich.progress.Progress``'s calls, each task a phase of the tracker."""

from __future__ import annotations

import io
import sys
from typing import Any

import pytest

import mpprogress
from mpprogress._base.snapshot import PhaseSnapshot
from mpprogress._frontends.output import plain_text
from mpprogress._frontends.rich import Progress, track
from mpprogress._frontends.tqdm import tqdm
from mpprogress.testing import FakeClock


def by_title(tracker: mpprogress.BaseProgressTracker) -> dict[str, PhaseSnapshot]:
    return {p.title: p for op in tracker.snapshot().operations for p in op.all_phases()}


def test_tasks_are_phases_of_one_operation(frontend_tracker: Any) -> None:
    with Progress("columns are ignored", transient=True, title="download") as progress:
        first = progress.add_task("first", total=200)
        second = progress.add_task("second", total=None)
        for _ in range(100):
            progress.advance(first)
        progress.update(first, advance=50, description="first: halfway")
        progress.update(second, completed=7)
        assert [t.id for t in progress.tasks] == progress.task_ids == [first, second]
        assert progress.tasks[0].completed == 150 and not progress.finished
        phases = by_title(frontend_tracker)
        assert (phases["first"].current, phases["first"].total, phases["first"].message) == (150, 200, "first: halfway")
        assert (phases["second"].current, phases["second"].total) == (7, None)
    (op,) = frontend_tracker.snapshot().operations
    assert (op.title, op.finished, op.success) == ("download", True, True)
    assert all(p.finished and p.success for p in op.phases)


def test_task_figures_follow_rich(frontend_tracker: Any) -> None:
    clock = FakeClock()
    with Progress(get_time=clock) as progress:
        task_id = progress.add_task("job", total=10.0, start=False, unit="files")
        task = progress.tasks[0]
        assert not task.started and task.elapsed is None and task.fields == {"unit": "files"}
        progress.start_task(task_id)
        clock.advance(2)
        progress.update(task_id, advance=5)
        assert (task.percentage, task.remaining, task.speed, task.time_remaining) == (50.0, 5.0, 2.5, 2.0)
        progress.stop_task(task_id)
        clock.advance(5)
        assert task.elapsed == 2
        progress.update(task_id, completed=10)
        assert task.finished and progress.finished and task.time_remaining == 0.0
        progress.reset(task_id, total=4, completed=1)
        assert (task.completed, task.total, task.finished, task.stop_time) == (1, 4, False, None)
        assert by_title(frontend_tracker)["job"].current == 1


def test_float_totals_and_default_total(frontend_tracker: Any) -> None:
    with Progress() as progress:
        task_id = progress.add_task("bytes", total=2.5)
        progress.add_task("percent")  # rich's default total is 100
        progress.advance(task_id, 1.25)
        progress.advance(task_id, -0.25)  # rich accepts going back
    phases = by_title(frontend_tracker)
    assert (phases["bytes"].total, phases["bytes"].current) == (3, 1.0)
    assert phases["percent"].total == 100


def test_remove_task_finishes_its_phase(frontend_tracker: Any) -> None:
    with Progress() as progress:
        task_id = progress.add_task("gone", total=3)
        progress.remove_task(task_id)
        assert progress.tasks == []
        assert by_title(frontend_tracker)["gone"].finished
        with pytest.raises(KeyError):
            progress.advance(task_id)


def test_track_counts_and_a_failure_fails_the_tasks(frontend_tracker: Any) -> None:
    with pytest.raises(ValueError), Progress() as progress:
        assert list(progress.track(range(5), description="tracked")) == list(range(5))
        progress.add_task("unfinished", total=2)
        raise ValueError("stop")
    phases = by_title(frontend_tracker)
    assert (phases["tracked"].current, phases["tracked"].total) == (5, 5)
    assert (phases["unfinished"].success, phases["unfinished"].reason) == (False, "ValueError: stop")


def test_module_track_is_one_task_in_its_own_operation(frontend_tracker: Any) -> None:
    assert sum(track(range(10), description="summing")) == 45
    (op,) = frontend_tracker.snapshot().operations
    assert op.title == "summing" and [(p.title, p.current) for p in op.phases] == [("summing", 10)]


def test_a_progress_inside_a_tqdm_bar_nests_under_it(frontend_tracker: Any) -> None:
    with tqdm(total=1, desc="outer"), Progress() as progress:
        progress.add_task("inner", total=1)
    (op,) = frontend_tracker.snapshot().operations
    (outer,) = op.phases
    assert [p.title for p in outer.phases] == ["inner"]


def test_disabled_progress_counts_without_phases(frontend_tracker: Any) -> None:
    with Progress(disable=True) as progress:
        task_id = progress.add_task("quiet", total=2)
        progress.advance(task_id, 2)
        assert progress.finished
    assert frontend_tracker.snapshot().operations == ()


def test_console_print_strips_markup_where_no_display_draws(frontend_tracker: Any, capsys: Any) -> None:
    Progress().console.print("[bold red]Done[/] \\[not a tag]", 3)
    assert capsys.readouterr().out == "Done [not a tag] 3\n"
    assert plain_text("[link=https://x]site[/link]") == "site"


def test_console_print_renders_with_the_displays_console() -> None:
    from rich.console import Console

    screen = io.StringIO()
    console_tracker = mpprogress.ConsoleProgressTracker(Console(file=screen, width=60, force_terminal=False))
    mpprogress.set_tracker(console_tracker)
    try:
        Progress().console.print("[bold]rendered[/bold]")
    finally:
        mpprogress.set_tracker(None)
        console_tracker.close()
    assert "rendered" in screen.getvalue() and "[bold]" not in screen.getvalue()


def test_progress_print_log_and_the_console_surface_scripts_use(frontend_tracker: Any, capsys: Any) -> None:
    progress = Progress()
    progress.print("[bold]printed[/]", 1)
    progress.log("logged")
    console = progress.console
    console.rule("section")
    with console.status("working"):
        pass
    try:
        raise KeyError("shown")
    except KeyError:
        console.print_exception()
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["printed 1", "logged"]
    assert "section" in out[2] and out[2].startswith("─") and out[2].endswith("─")
    assert out[3] == "working"
    assert out[4] == "Traceback (most recent call last):" and out[-1] == "KeyError: 'shown'"
    assert console.file is sys.stderr
    assert isinstance(console.width, int) and console.width > 0
    assert console.size == (console.width, console.height)
    assert console.is_terminal is False  # captured by pytest: not a terminal


def test_open_and_wrap_file_count_the_bytes_read(frontend_tracker: Any, tmp_path: Any) -> None:
    import mpprogress.rich

    path = tmp_path / "data.txt"
    path.write_bytes(b"line one\nline two\nthree\n")  # 24 bytes
    with mpprogress.rich.open(path, "rb", description="binary") as f:
        assert f.readline() == b"line one\n"
        assert f.read() == b"line two\nthree\n"
    with mpprogress.rich.open(path, description="text") as f:
        assert f.read() == "line one\nline two\nthree\n" and f.name == str(path)
    assert f.closed
    with open(path, "rb") as handle:
        with mpprogress.rich.wrap_file(handle, total=24, description="wrapped") as wrapped:
            assert [len(line) for line in wrapped] == [9, 9, 6]
            wrapped.seek(9)
        assert wrapped.closed and not handle.closed
    with pytest.raises(ValueError, match="mode"):
        Progress().open(path, "w")
    found = by_title(frontend_tracker)
    assert {title: (p.current, p.total, p.success) for title, p in found.items()} == {
        "binary": (24, 24, True), "text": (24, 24, True), "wrapped": (9, 24, True),
    }
