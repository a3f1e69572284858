"""The console frame and summary, rendered into a recording Console and read back as text."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from rich.console import Console, RenderableType

from mpprogress import BaseProgressTracker
from mpprogress.adapters.console._render import ConsoleConfig, plan_frame, render_frame, render_summary
from mpprogress.adapters.console._text import clean_text, fold_text, format_duration, format_rate
from mpprogress.testing import FakeClock


def text_of(renderable: RenderableType, width: int = 120) -> str:
    console = Console(file=io.StringIO(), record=True, width=width, force_terminal=True, color_system="standard")
    console.print(renderable)
    return console.export_text()


def frame_text(tracker: BaseProgressTracker, *, width: int = 120, height: int = 40, **options: object) -> str:
    config = ConsoleConfig(**options)  # type: ignore[arg-type]
    return text_of(render_frame(tracker.snapshot(), config, width=width, height=height, now=0.0), width)


@pytest.fixture
def tracker() -> BaseProgressTracker:
    return BaseProgressTracker(get_time=FakeClock(), auto_flush=False)


def row(text: str, title: str) -> str:
    return next(line for line in text.splitlines() if title in line)


def test_running_row_shows_every_column(tracker: BaseProgressTracker) -> None:
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    op = tracker.start_operation("op", "Researching Stripe", "4-phase scraping")
    phase = op.start_phase("p", "Link Discovery", 100)
    clock.advance(5.0)
    phase.update(40, "Found link 39")
    text = frame_text(tracker)
    lines = text.splitlines()
    assert lines[0].startswith("● Researching Stripe  4-phase scraping  0:00:05")
    line = row(text, "Link Discovery")
    assert line.startswith("  ⠋ Link Discovery • Found link 39")
    for column in ("40/100", "40%", "0:00:05", "eta 0:00:07", "8.0/s"):
        assert column in line
    assert "━" in line


def test_options_hide_columns_and_spinner(tracker: BaseProgressTracker) -> None:
    op = tracker.start_operation("op", "Op")
    op.start_phase("p", "Phase", 10).update(5)
    line = row(
        frame_text(tracker, show_spinner=False, show_percentage=False, show_time_remaining=False, show_rate=False),
        "Phase",
    )
    assert line.startswith("  • Phase")
    assert "50%" not in line and "eta" not in line and "/s" not in line
    assert "5/10" in line


def test_bar_width_option_sets_the_bar(tracker: BaseProgressTracker) -> None:
    op = tracker.start_operation("op", "Op")
    op.start_phase("p", "Phase", 10).update(10)
    line = row(frame_text(tracker, bar_width=12), "Phase")
    assert line.count("━") == 12


def test_indeterminate_phase_shows_its_count_and_a_pulse(tracker: BaseProgressTracker) -> None:
    op = tracker.start_operation("op", "Op")
    op.start_phase("p", "Crawling", None).update(7)
    line = row(frame_text(tracker), "Crawling")
    assert " 7 " in line and "/" not in line.split("Crawling")[1].split("0:00")[0]
    assert "%" not in line


def test_sub_phases_are_indented_under_their_parent(tracker: BaseProgressTracker) -> None:
    op = tracker.start_operation("op", "Op")
    parent = op.start_phase("p", "Download", None)
    child = parent.start_phase("c", "chunk 1", 10)
    child.start_phase("g", "piece a", 2)
    lines = frame_text(tracker).splitlines()
    assert [line.split("━")[0].rstrip() for line in lines[1:]] == [
        "  ⠋ Download",
        "  ⠋   chunk 1",
        "  ⠋     piece a",
    ]
    assert "0/10" in lines[1]  # the parent rolls up its sub-phase (which has its own total)
    # Its speed is its sub-phases': nothing moved yet, so no rate and an unknown ETA, as theirs.
    assert "/s" not in lines[1] and "eta -:--:--" in lines[1]
    assert "eta -:--:--" in lines[2]  # the sub-phase has a total of its own: its eta is unknown yet


@pytest.mark.parametrize(
    ("reason", "mark", "label"),
    [
        ("lost", "⚠", "lost — worker died"),
        ("cancelled", "⊘", "cancelled"),
        ("interrupted", "⊗", "interrupted"),
        ("error", "✘", "failed"),  # an earlier version's reason for an exception: its word
        ("failed", "✘", "failed"),
        ("RuntimeError: boom", "✘", "failed (RuntimeError: boom)"),  # the exception, kept
        ("incomplete", "◐", "incomplete"),
    ],
)
def test_failed_rows_are_visibly_different(tracker: BaseProgressTracker, reason: str, mark: str, label: str) -> None:
    op = tracker.start_operation("op", "Op")
    op.start_phase("ok", "Good", 4).update(4)
    op.finish_phase("ok")
    op.start_phase("bad", "Bad", 10).update(3)
    op.finish_phase("bad", success=False, reason=reason)
    text = frame_text(tracker)
    assert row(text, "Good").startswith("  ✔ Good ")
    assert row(text, "Bad").startswith(f"  {mark} Bad  {label}")
    assert "3/10" in row(text, "Bad")


def test_cancel_requested_shows_on_running_rows(tracker: BaseProgressTracker) -> None:
    op = tracker.start_operation("op", "Op")
    op.start_phase("p", "Phase", 10)
    op.cancel()
    text = frame_text(tracker)
    assert "cancelling…" in text.splitlines()[0]
    assert "Phase  cancelling…" in row(text, "Phase")


def test_hostile_text_renders_literally_without_control_characters(tracker: BaseProgressTracker) -> None:
    op = tracker.start_operation("op", "[bold red]Op[/]\x07")
    op.start_phase("p", "Title\x1b[31m", 10).update(1, "[/bold]\x1b[2J\nnext line")
    text = frame_text(tracker)
    assert "\x1b" not in text and "\x07" not in text
    assert text.splitlines()[0].startswith("● [bold red]Op[/]  ")
    assert "Title[31m • [/bold][2J next line" in row(text, "Title")
    assert len(text.splitlines()) == 2


def test_bidi_overrides_in_a_threaded_mode_title_never_reach_the_screen(tracker: BaseProgressTracker) -> None:
    # Threaded-mode titles never cross the wire (whose decoder strips these), so the console
    # must: U+202E would show "gnp.exe" as "exe.png" and reorder the columns after it.
    op = tracker.start_operation("op", "Op \u202eevil\u202c", "desc \u2066x\u2069")
    op.start_phase("p", "Title \u202egnp.exe", 10).update(1, "msg \u202a\u202b\u202d")
    text = frame_text(tracker)
    assert "Title gnp.exe" in row(text, "Title") and "msg " in row(text, "Title")
    op.finish_phase("p")
    tracker.finish_operation("op")
    summary = text_of(render_summary("Op \u202eevil", True, 1.0, tracker.snapshot().get("op"), ConsoleConfig()))
    assert "Title gnp.exe" in summary
    for hostile in ("\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2069"):
        assert hostile not in text and hostile not in summary
    assert clean_text("a\u202eb\u2067c") == "abc"


def test_clean_text() -> None:
    assert clean_text("a\tb\r\nc\x1b[2J\x00\x9bd") == "a b c[2Jd"
    assert clean_text("x" * 10, limit=5) == "xxxx…"


def test_formats() -> None:
    assert format_duration(3725.9) == "1:02:05"
    assert format_duration(None) == "-:--:--"
    assert (format_rate(None), format_rate(12.34), format_rate(4500), format_rate(2.5e6)) == (
        "",
        "12.3/s",
        "4.5k/s",
        "2.5M/s",
    )
    assert fold_text(Counter(succeeded=12, failed=1), running=3) == "3 more running, 12 succeeded, 1 failed"


def test_finished_operations_leave_the_frame(tracker: BaseProgressTracker) -> None:
    tracker.start_operation("a", "Done op")
    tracker.start_operation("b", "Running op")
    tracker.finish_operation("a")
    text = frame_text(tracker)
    assert "Running op" in text and "Done op" not in text
    tracker.finish_operation("b")
    assert frame_text(tracker).strip() == ""


def test_finished_phases_fold_when_rows_run_out(tracker: BaseProgressTracker) -> None:
    op = tracker.start_operation("op", "Op")
    for index in range(13):
        op.start_phase(f"f{index}", f"done {index}", 1).update(1)
        op.finish_phase(f"f{index}", success=index != 5)
    op.start_phase("r1", "still running", 10)
    text = frame_text(tracker, height=5)
    lines = text.splitlines()
    assert lines == [lines[0], row(text, "still running"), "     … 12 succeeded, 1 failed"]


def test_a_thousand_phases_fold_into_the_screen(tracker: BaseProgressTracker) -> None:
    ops = [tracker.start_operation(f"op{n}", f"Operation {n}") for n in range(4)]
    for n in range(1000):
        op = ops[n % 4]
        phase = op.start_phase(f"p{n}", f"phase {n}", 10)
        if n % 3 == 0:
            phase.update(10)
            op.finish_phase(f"p{n}", success=n % 9 != 0)
    text = frame_text(tracker, height=24)
    lines = text.splitlines()
    assert len(lines) <= 24
    headers = [line for line in lines if line.startswith("● Operation")]
    assert len(headers) == 4
    folds = [line.strip() for line in lines if line.strip().startswith("…")]
    assert len(folds) == 4
    # 1000 phases: 334 finished (every 3rd), 112 of those failed (every 9th); 666 running.
    running_shown = sum(1 for line in lines if line.startswith("  ⠋"))
    total_folded_running = sum(int(f.split()[1]) for f in folds)
    assert running_shown + total_folded_running == 666
    assert sum(int(f.split(", ")[1].split()[0]) for f in folds) == 334 - 112
    assert sum(int(f.split(", ")[2].split()[0]) for f in folds) == 112
    assert running_shown == 24 - 4 - 4  # every spare line shows a running phase


def test_too_many_operations_fold_into_a_last_line(tracker: BaseProgressTracker) -> None:
    for n in range(30):
        tracker.start_operation(f"op{n}", f"Operation {n}").start_phase(f"p{n}", "work", 5)
    lines = frame_text(tracker, height=10).splitlines()
    assert len(lines) == 9
    assert [line.split()[1] for line in lines[1:8:2]] == ["work"] * 4
    assert lines[-1] == "… 26 more operations (26 phases running)"


def test_plan_frame_gives_each_operation_a_fair_share(tracker: BaseProgressTracker) -> None:
    small = tracker.start_operation("s", "Small")
    big = tracker.start_operation("b", "Big")
    small.start_phase("s1", "one", 1)
    for n in range(50):
        big.start_phase(f"b{n}", f"b{n}", 1)
    plan = plan_frame(tracker.snapshot().operations, budget=12)
    assert [len(p.rows) for p in plan.operations] == [1, 8]
    assert plan.operations[1].folded_running == 42
    assert sum(p.lines for p in plan.operations) <= 12


def test_summary_panel_lists_phases_with_counts_and_outcomes() -> None:
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    op = tracker.start_operation("op", "Researching Stripe")
    phase = op.start_phase("a", "Link Discovery", 100)
    clock.advance(4.0)
    phase.update(100)
    op.finish_phase("a")
    op.start_phase("b", "Extraction", 10).update(4)
    op.finish_phase("b", success=False, reason="lost")
    tracker.finish_operation("op", success=False)
    text = text_of(render_summary("Researching Stripe", False, 4.0, tracker.snapshot().get("op"), ConsoleConfig()))
    lines = [line.strip("│ ") for line in text.splitlines()]
    assert "Operation Failed" in lines[0]
    assert lines[1] == "✘ Failed Researching Stripe — 1 of 2 phases succeeded (1 lost)"
    assert lines[2] == "Duration: 4.0s"
    assert lines[3].split() == ["✔", "Link", "Discovery", "100/100", "4.0s", "25.0/s"]
    assert lines[4].split()[:6] == ["⚠", "Extraction", "lost", "—", "worker", "died"]
    assert "4/10" in lines[4]


def test_summary_folds_phases_beyond_the_limit(tracker: BaseProgressTracker) -> None:
    op = tracker.start_operation("op", "Op")
    for n in range(30):
        op.start_phase(f"p{n}", f"phase {n}", 1).update(1)
        op.finish_phase(f"p{n}", success=n != 29)
    tracker.finish_operation("op")
    config = ConsoleConfig(summary_max_phases=5)
    text = text_of(render_summary("Op", True, 1.0, tracker.snapshot().get("op"), config))
    assert "✘ Failed Op — 29 of 30 phases succeeded (1 failed)" in text
    assert "… 25 more phases: 24 succeeded, 1 failed" in text
    assert "phase 5" not in text


def test_summary_without_a_snapshot() -> None:
    text = text_of(render_summary("Gone", True, 2.5, None, ConsoleConfig()))
    assert "✔ Succeeded Gone" in text and "Duration: 2.5s" in text


def test_narrow_console_keeps_titles_readable(tracker: BaseProgressTracker) -> None:
    op = tracker.start_operation("op", "Op")
    op.start_phase("p", "Link Discovery", 100).update(50)
    line = row(frame_text(tracker, width=80), "Link")
    assert len(line) <= 80
    assert "Link Discovery" in line


@pytest.mark.parametrize(
    "options",
    [{"bar_width": 0}, {"refresh_rate": 0}, {"max_rows": 2}, {"plain_interval": -1}, {"summary_max_phases": -1}],
)
def test_config_rejects_bad_values(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ConsoleConfig(**options)  # type: ignore[arg-type]


def test_wide_characters_keep_the_columns_aligned(tracker: BaseProgressTracker) -> None:
    from rich.cells import cell_len

    op = tracker.start_operation("op", "Op")
    op.start_phase("a", "数据处理 🚀 " * 8, 10).update(5, "メッセージ")
    op.start_phase("b", "plain", 10).update(5)
    lines = frame_text(tracker, width=100).splitlines()
    widths = [cell_len(line) for line in lines[1:]]
    assert widths[0] == widths[1] <= 100
    first, second = (cell_len(line[: line.index("5/10")]) for line in lines[1:])
    assert first == second  # the count column starts at the same cell on both rows
    assert "数据处理 🚀" in lines[1] and lines[1].index("…") < lines[1].index("━")


@pytest.mark.parametrize("width", [40, 80, 120, 200])
@pytest.mark.parametrize("color_system", ["truecolor", "standard", None])
def test_frame_draws_exactly_what_richs_general_text_path_draws(
    tracker: BaseProgressTracker, width: int, color_system: str | None
) -> None:
    from rich.text import Text

    op = tracker.start_operation("o", "mixed \x1b[31m[bold]hostile[/]")
    for i in range(12):
        phase = op.start_phase(f"w{i}", f"w{i} [red]x[/]", total=None if i % 5 == 0 else 250)
        phase.update(20 * i + 5, "a message" if i % 2 else None)
        if i % 4 == 3:
            op.finish_phase(f"w{i}", success=i % 8 == 3)
        elif i % 5 == 1:
            phase.start_phase(f"c{i}", "child").update(3)
    op.phases["w2"].cancel()
    frame = render_frame(tracker.snapshot(), ConsoleConfig(), width=width, height=12, now=3.21)
    general = Text("\n").join(frame.lines)  # type: ignore[attr-defined]
    general.no_wrap, general.overflow = True, "ellipsis"

    def ansi(renderable: RenderableType) -> str:
        console = Console(file=io.StringIO(), width=width, force_terminal=color_system is not None,
                          color_system=color_system)  # type: ignore[arg-type]
        console.print(renderable)
        return console.file.getvalue()  # type: ignore[attr-defined]

    assert "hostile" in ansi(frame)  # literal text, folded rows and all
    assert ansi(frame) == ansi(general)


def test_console_config_is_where_the_defaults_and_bounds_live() -> None:
    import inspect

    from mpprogress.adapters.console import ConsoleProgressTracker

    defaults = ConsoleConfig()
    parameters = inspect.signature(ConsoleProgressTracker).parameters
    shared = [name for name in parameters if hasattr(defaults, name)]
    assert shared == ["show_spinner", "show_percentage", "show_time_remaining", "bar_width", "refresh_rate"]
    assert all(parameters[name].default == getattr(defaults, name) for name in shared)
    for options, message in [
        ({"bar_width": 0}, "bar_width must be >= 1, got 0"),
        ({"refresh_rate": 0}, "refresh_rate must be > 0, got 0"),
        ({"refresh_rate": float("nan")}, "refresh_rate must be > 0, got nan"),
        ({"max_rows": 2}, "max_rows must be >= 3 or None, got 2"),
        ({"plain_interval": -1.0}, "plain_interval must be >= 0, got -1.0"),
        ({"summary_max_phases": -1}, "summary_max_phases must be >= 0, got -1"),
    ]:
        with pytest.raises(ValueError, match=message):
            ConsoleConfig(**options)  # type: ignore[arg-type]
    assert ConsoleConfig(max_rows=None, plain_interval=0, summary_max_phases=0).max_rows is None


def test_a_stalled_row_says_so_without_a_spinner_or_an_eta(tracker: BaseProgressTracker) -> None:
    op = tracker.start_operation("op", "Op")
    phase = op.start_phase("p", "Remote Phase", 800)
    phase.update(500)
    phase.stalled = True  # as the aggregator's applier flags it while its worker is silent
    line = row(frame_text(tracker), "Remote Phase")
    assert line.startswith("  ? Remote Phase  stalled — no news from its worker")
    assert "500/800" in line and "eta" not in line
    phase.stalled = False  # heard from again
    assert row(frame_text(tracker), "Remote Phase").startswith("  ⠋ Remote Phase ")


def test_a_stalled_phase_takes_the_eta_off_its_operation_header() -> None:
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    op = tracker.start_operation("op", "Crawl")
    phase = op.start_phase("p", "Pages", 100)
    clock.advance(5.0)
    phase.update(40)
    assert "eta 0:00:07" in frame_text(tracker).splitlines()[0]
    phase.stalled = True  # as the aggregator's applier flags it while its worker is silent
    header = frame_text(tracker).splitlines()[0]
    assert header.startswith("● Crawl  0:00:05") and "eta" not in header
