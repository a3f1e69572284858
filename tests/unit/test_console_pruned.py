"""The console with more finished phases than the tracker keeps, and the operation's ETA and rate."""

from __future__ import annotations

import io

from rich.console import Console, RenderableType

from mpprogress import BaseProgressTracker
from mpprogress._base import snapshot
from mpprogress.adapters.console import _text as console_text
from mpprogress.adapters.console._render import ConsoleConfig, plan_frame, render_frame, render_summary
from mpprogress.adapters.console._text import format_duration, format_rate
from mpprogress.testing import FakeClock


def text_of(renderable: RenderableType, width: int = 120) -> str:
    console = Console(file=io.StringIO(), record=True, width=width, force_terminal=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def frame_lines(tracker: BaseProgressTracker, *, width: int = 120, height: int = 40, **options: object) -> list[str]:
    config = ConsoleConfig(**options)  # type: ignore[arg-type]
    return text_of(render_frame(tracker.snapshot(), config, width=width, height=height, now=0.0), width).splitlines()


def many_finished(finished: int = 30, failed: int = 2, running: int = 3, keep: int = 5) -> BaseProgressTracker:
    """An operation with ``finished`` + ``failed`` phases done (only ``keep`` kept) and some running."""
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False, max_finished_phases=keep)
    op = tracker.start_operation("op", "Researching Acme")
    for index in range(finished + failed):
        op.start_phase(f"f{index}", f"done {index}", 1).update(1)
        op.finish_phase(f"f{index}", success=index >= failed)
    for index in range(running):
        op.start_phase(f"r{index}", f"busy {index}", 10).update(index)
    return tracker


def test_the_fold_line_counts_every_finished_phase_not_only_the_kept_ones() -> None:
    tracker = many_finished()
    operation = tracker.snapshot().operations[0]
    assert operation.pruned == 27
    lines = frame_lines(tracker, height=6)
    assert lines[-1].strip() == "… 30 succeeded, 2 failed"  # not only the 5 the tracker kept
    assert [line.split()[1] for line in lines[1:-1]] == ["busy", "busy", "busy"]
    plan = plan_frame([operation], 6)
    assert dict(plan.operations[0].folded) == {"succeeded": 30, "failed": 2}


def test_with_room_for_every_kept_row_the_dropped_ones_still_get_a_fold_line() -> None:
    lines = frame_lines(many_finished(), height=40)
    assert len(lines) == 1 + 5 + 3 + 1
    assert lines[-1].strip() == "… 25 succeeded, 2 failed"  # the first ones, failures too


def test_the_summary_adds_the_dropped_phases_to_its_last_line() -> None:
    tracker = many_finished(running=0)
    tracker.finish_operation("op")
    operation = tracker.snapshot().get("op")
    assert operation is not None
    lines = [
        line.strip("│ ")
        for line in text_of(render_summary("Researching Acme", True, 2.0, operation, ConsoleConfig())).splitlines()
    ]
    assert lines[1] == "✘ Failed Researching Acme — 30 of 32 phases succeeded (2 failed)"
    assert lines[-2] == "… 27 more phases: 25 succeeded, 2 failed"


def test_the_summary_counts_dropped_failures_in_its_verdict_and_fold() -> None:
    tracker = many_finished(finished=3, failed=4, running=0, keep=2)
    tracker.finish_operation("op")
    operation = tracker.snapshot().get("op")
    assert operation is not None
    config = ConsoleConfig(summary_max_phases=1)
    lines = [
        line.strip("│ ")
        for line in text_of(render_summary("Researching Acme", True, 2.0, operation, config)).splitlines()
    ]
    assert lines[1] == "✘ Failed Researching Acme — 3 of 7 phases succeeded (4 failed)"
    assert lines[-2] == "… 6 more phases: 2 succeeded, 4 failed"


def eta_tracker() -> tuple[BaseProgressTracker, FakeClock]:
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    op = tracker.start_operation("op", "Researching Acme", "deep dive")
    first = op.start_phase("a", "Links", 300)
    second = op.start_phase("b", "Pages", 300)
    for _ in range(2):
        clock.advance(1.0)
        first.update(60)
        second.update(60)
    return tracker, clock


def test_the_operation_header_shows_its_eta_and_rate() -> None:
    tracker, _ = eta_tracker()
    operation = tracker.snapshot().operations[0]
    assert operation.eta is not None and operation.rate is not None
    eta, rate = format_duration(operation.eta), format_rate(operation.rate)
    assert eta != "-:--:--" and rate
    assert frame_lines(tracker)[0] == f"● Researching Acme  deep dive  0:00:02  eta {eta}  {rate}"


def test_the_header_eta_is_unknown_while_nothing_moves() -> None:
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    op = tracker.start_operation("op", "Researching Acme")
    op.start_phase("a", "Links", 10)
    clock.advance(1.0)
    assert frame_lines(tracker)[0] == "● Researching Acme  0:00:01  eta -:--:--"


def test_the_header_columns_give_way_on_a_narrow_screen_rate_first() -> None:
    tracker, _ = eta_tracker()
    operation = tracker.snapshot().operations[0]
    eta, rate = format_duration(operation.eta), format_rate(operation.rate)
    assert frame_lines(tracker, width=55)[0] == f"● Researching Acme  dee…  0:00:02  eta {eta}  {rate}"
    assert frame_lines(tracker, width=50)[0] == f"● Researching Acme  0:00:02  eta {eta}  {rate}"
    assert frame_lines(tracker, width=40)[0] == f"● Researching Acme  0:00:02  eta {eta}"
    assert frame_lines(tracker, width=30)[0] == "● Researching Acme  0:00:02"


def test_the_header_follows_the_column_options() -> None:
    tracker, _ = eta_tracker()
    header = frame_lines(tracker, show_time_remaining=False, show_rate=False)[0]
    assert header == "● Researching Acme  deep dive  0:00:02"


def test_a_finished_operation_shows_no_eta_in_its_last_rows() -> None:
    from mpprogress.adapters.console._render import render_final

    tracker, _ = eta_tracker()
    tracker.finish_operation("op")
    operation = tracker.snapshot().get("op")
    assert operation is not None
    header = text_of(render_final(operation, ConsoleConfig(), width=120, height=10)).splitlines()[0]
    assert header == "● Researching Acme  deep dive  0:00:02"


def test_a_rolled_up_parent_row_shows_its_rate_and_eta() -> None:
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    op = tracker.start_operation("op", "Researching Acme")
    parent = op.start_phase("x", "Extraction")
    batches = [parent.start_phase(f"b{index}", f"batch {index}", 100) for index in range(2)]
    for _ in range(2):
        clock.advance(1.0)
        for batch in batches:
            batch.update(10)
    view = tracker.snapshot().operations[0].phases[0]
    assert view.rate == 20.0 and view.eta is not None  # 40 items in 2 s
    row = next(line for line in frame_lines(tracker) if "Extraction" in line)
    assert row.split()[-6:] == ["40/200", "20%", "0:00:02", "eta", format_duration(view.eta), "20.0/s"]


def test_a_parent_whose_sub_phases_were_all_dropped_still_rolls_up() -> None:
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False, max_finished_phases=0)
    op = tracker.start_operation("op", "Researching Acme")
    parent = op.start_phase("x", "Extraction")
    parent.start_phase("b", "batch", 10).update(10)
    parent.finish_phase("b")
    clock.advance(2.0)
    view = tracker.snapshot().operations[0].phases[0]
    assert view.phases == () and view.pruned == 1
    row = next(line for line in frame_lines(tracker) if "Extraction" in line)
    assert row.split()[-4:] == ["10/10", "100%", "0:00:02", "5.0/s"]


def test_the_console_uses_the_snapshot_outcome_words() -> None:
    assert console_text.outcome_of is snapshot.outcome_of
