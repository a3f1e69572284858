"""How a finished operation is told: the summary panel's heading and verdict, and the plain line."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from rich.console import Console

from mpprogress import BaseProgressTracker
from mpprogress.adapters.console import ConsoleConfig, ConsoleSink
from mpprogress.adapters.console._render import render_summary
from mpprogress.adapters.console._text import Verdict, verdict
from mpprogress.testing import FakeClock

Script = Callable[[BaseProgressTracker, FakeClock], None]


def ended(*outcomes: str, cancel: bool = False, success: bool = True) -> Script:
    """A script: one phase per outcome ("ok": all 10 items done; "short": 4 of 10 done and
    finished as a success; else a failure reason), then the operation ends 2 s on."""

    def run(tracker: BaseProgressTracker, clock: FakeClock) -> None:
        op = tracker.start_operation("op", "Researching Stripe")
        clock.advance(2.0)
        for index, name in enumerate(outcomes):
            op.start_phase(f"p{index}", f"phase {index}", 10).update(10 if name == "ok" else 4)
            if name != "running":
                good = name in ("ok", "short")
                op.finish_phase(f"p{index}", success=good, reason=None if good else name)
        if cancel:
            op.cancel()
        tracker.finish_operation("op", success=success)

    return run


# script -> (panel heading, the panel's verdict line, the plain line's words): the one vocabulary
# of outcomes (``_base/outcomes.py``), the same words and symbols in the panel and the line.
CASES = {
    "clean": (
        ended("ok", "ok"),
        "Operation Succeeded",
        "✔ Succeeded Researching Stripe",
        "✔ Researching Stripe: succeeded after 2.0s",
    ),
    "errored, cancelled and lost phases": (
        ended("ok", "RuntimeError: boom", "cancelled", "lost"),
        "Operation Failed",
        "✘ Failed Researching Stripe — 1 of 4 phases succeeded (1 failed, 1 cancelled, 1 lost)",
        "✘ Researching Stripe: failed after 2.0s — 1 of 4 phases succeeded (1 failed, 1 cancelled, 1 lost)",
    ),
    "none of three succeeded": (  # issue 25: it read "⚠ Completed … with 1 failed, 2 lost"
        ended("error", "lost", "lost"),
        "Operation Failed",
        "✘ Failed Researching Stripe — 0 of 3 phases succeeded (1 failed, 2 lost)",
        "✘ Researching Stripe: failed after 2.0s — 0 of 3 phases succeeded (1 failed, 2 lost)",
    ),
    "short of its total": (  # issue 25: "✔ level 0 0/2" under "Operation Complete"
        ended("ok", "short"),
        "Operation Incomplete",
        "◐ Incomplete Researching Stripe — 1 of 2 phases succeeded (1 incomplete)",
        "◐ Researching Stripe: incomplete after 2.0s — 1 of 2 phases succeeded (1 incomplete)",
    ),
    "interrupted": (
        ended("ok", "interrupted", "lost", success=False),
        "Operation Interrupted",
        "⊗ Interrupted Researching Stripe — 1 of 3 phases succeeded (1 interrupted, 1 lost)",
        "⊗ Researching Stripe: interrupted after 2.0s — 1 of 3 phases succeeded (1 interrupted, 1 lost)",
    ),
    "cancelled": (
        ended("ok", "running", cancel=True),
        "Operation Cancelled",
        "⊘ Cancelled Researching Stripe — 1 of 2 phases succeeded (1 cancelled)",
        "⊘ Researching Stripe: cancelled after 2.0s — 1 of 2 phases succeeded (1 cancelled)",
    ),
    "failed": (
        ended("ok", "failed", success=False),
        "Operation Failed",
        "✘ Failed Researching Stripe — 1 of 2 phases succeeded (1 failed)",
        "✘ Researching Stripe: failed after 2.0s — 1 of 2 phases succeeded (1 failed)",
    ),
}


def summary_lines(tracker: BaseProgressTracker, width: int = 100) -> list[str]:
    console = Console(file=io.StringIO(), record=True, width=width, force_terminal=True, color_system="standard")
    snapshot = tracker.snapshot()
    operation = snapshot.get("op")
    assert operation is not None and operation.finished
    reason = None if operation.success else ("cancelled" if operation.cancelled else "failed")
    console.print(render_summary(operation.title, bool(operation.success), 2.0, operation, ConsoleConfig(), reason))
    return [line.strip("│ ") for line in console.export_text().splitlines()]


@pytest.mark.parametrize("case", CASES)
def test_the_panel_says_what_happened(case: str) -> None:
    script, heading, line, _ = CASES[case]
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    script(tracker, clock)
    lines = summary_lines(tracker)
    assert lines[0].startswith(f"╭─ {heading} ─")
    assert lines[1] == line


@pytest.mark.parametrize("case", CASES)
def test_the_plain_line_says_the_same(case: str) -> None:
    script, _, _, line = CASES[case]
    clock = FakeClock()
    console = Console(file=io.StringIO(), force_terminal=False, width=200)
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    with ConsoleSink(tracker, console=console, config=ConsoleConfig(show_summary=False)):
        script(tracker, clock)
    last = console.file.getvalue().splitlines()[-1]  # type: ignore[attr-defined]
    assert last[9:] == line


def test_the_verdict_table() -> None:
    from collections import Counter

    assert verdict(True, None, Counter(succeeded=3)) == Verdict("succeeded")
    one_good = verdict(True, None, Counter(succeeded=1, failed=2))
    assert one_good == Verdict("failed", "1 of 3 phases succeeded (2 failed)")
    assert verdict(False, "failed", Counter(failed=1, lost=2)).suffix == " — 0 of 3 phases succeeded (1 failed, 2 lost)"
    assert verdict(False, "cancelled", Counter()).heading == "Operation Cancelled"
    assert verdict(False, "failed", Counter(interrupted=1)).kind == "interrupted"
    assert verdict(True, None, Counter(succeeded=1, incomplete=1)).mark().plain == "◐"


def test_a_narrow_panel_keeps_counts_whole() -> None:
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False)
    op = tracker.start_operation("op", "Researching Acme Robotics Incorporated")
    for index, (title, total) in enumerate(
        [("Link Discovery", 12), ("Page Selection", 310), ("Content Extraction", 120)]
    ):
        phase = op.start_phase(f"p{index}", title, total)
        clock.advance(0.5)
        phase.update(total)
        op.finish_phase(f"p{index}")
    tracker.finish_operation("op")
    for width in (60, 40, 30):
        lines = summary_lines(tracker, width)
        assert all(len(line) <= width for line in lines)
        rows = [line for line in lines if line.startswith("✔ ") and "Succeeded" not in line]
        for row, count in zip(rows, ("12/12", "310/310", "120/120"), strict=True):
            assert count in row.split(), (width, row)
        assert "Content Extr" in rows[2]
