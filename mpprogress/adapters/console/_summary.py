"""The panel printed when an operation finishes: what happened, how long it took, each phase.

Its heading and first line come from the one table of verdicts (``console_text.verdict``), so
the panel and the plain lines always agree.  The phase lines fit the width they get: on a
narrow screen the rate and then the time give way, and a count is never cut.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.panel import Panel
from rich.text import Text

from ..._base.formats import format_seconds
from ..._base.snapshot import OperationSnapshot, PhaseSnapshot
from ..._base.text import clean_line
from ._config import ConsoleConfig
from ._plan import SHOWN_DEPTH, PhaseRow, dropped_phases, shown_phases
from ._rows import TITLE_WANTED, count_text
from ._text import deeper_text, fold_text, format_rate, outcome, outcome_mark, outcome_text, verdict

__all__ = ["render_summary"]

_GAP = 2  # cells between the summary's columns
_STYLES = ("", "yellow", "bright_black")  # count, time, rate


def render_summary(
    title: str,
    success: bool,
    duration: float,
    operation: OperationSnapshot | None,
    config: ConsoleConfig,
    reason: str | None = None,
) -> Panel:
    """The panel printed when an operation finishes.

    Args:
        title: the operation's title.
        success: whether it succeeded.
        duration: its duration in seconds.
        operation: its final snapshot, for the per-phase lines (``None`` if already pruned);
            the phases the tracker no longer keeps are counted on the last line.
        config: ``summary_max_phases`` bounds the phase lines.
        reason: why it failed, if it did (the ``operation_finished`` event's ``reason``).

    Returns:
        A panel headed by what happened ("Operation Succeeded", "Operation Interrupted"...) with
        the verdict, the duration and one line per phase (outcome, count, time, rate).
    """
    phases: tuple[PhaseRow, ...] = ()
    deeper, ended, dropped, pruned = Counter[str](), Counter[str](), Counter[str](), 0
    if operation is not None:
        phases, deeper = shown_phases(operation)
        ended = Counter(operation.finished_counts)  # every phase's outcome, dropped ones too
        pruned = operation.pruned
        dropped = dropped_phases(operation, phases, deeper) if pruned else dropped
    result = verdict(success, reason, ended)
    head = Text()
    head.append_text(result.mark())
    head.append(f" {result.verb} ", style=f"bold {result.style}")
    head.append(clean_line(title, 200), style="bold")
    head.append(result.suffix, style=result.style)
    head.append(f"\nDuration: {format_seconds(duration)}", style="yellow")
    parts: list[RenderableType] = [head]
    if phases:
        parts.append(_PhaseLines([_summary_row(*row) for row in phases[: config.summary_max_phases]]))
    rest = phases[config.summary_max_phases :]
    if rest or pruned:  # the phases the tracker no longer keeps come after those it keeps
        counts = Counter(outcome(phase) for phase, _ in rest) + dropped
        parts.append(Text(f"… {len(rest) + pruned} more phases: {fold_text(counts)}", style="dim"))
    if deeper:
        parts.append(Text(f"… {deeper_text(deeper, SHOWN_DEPTH, more='more ')}", style="dim"))
    return Panel(Group(*parts), title=result.heading, title_align="left", border_style=result.style, expand=False)


_Row = tuple[Text, str, str, str]  # name (with mark and label), count, time, rate


def _summary_row(phase: PhaseSnapshot, depth: int) -> _Row:
    name = outcome(phase)
    cell = Text("  " * depth)
    cell.append_text(outcome_mark(name) if name != "running" else Text("…"))
    cell.append(" " + clean_line(phase.title, 120))
    label = outcome_text(phase)
    if label:
        cell.append("  ")
        cell.append_text(label)
    return (
        cell,
        count_text(phase),
        format_seconds(phase.elapsed),
        format_rate(phase.rate),
    )  # rolled up for a parent without a total


class _PhaseLines:
    """The phase lines as columns fitted to the width the panel gives them.

    Rich's table shrinks every column alike when space runs out (``12/…``); here the rate and
    then the time give way first, and only then are names cut.
    """

    def __init__(self, rows: Sequence[_Row]) -> None:
        self.rows = rows
        self.name_width = max(row[0].cell_len for row in rows)
        self.widths = [
            max(len(row[1]) for row in rows),
            max(len(row[2]) for row in rows),
            max(len(row[3]) for row in rows),
        ]

    def _fit(self, width: int) -> list[int]:
        """The columns (1 count, 2 time, 3 rate) kept for ``width`` cells."""
        kept = [column for column in (1, 2, 3) if self.widths[column - 1]]
        need = min(self.name_width, TITLE_WANTED)
        for column in (3, 2):
            if width - self._columns_width(kept) >= need:
                break
            if column in kept:
                kept.remove(column)
        return kept

    def _columns_width(self, kept: Sequence[int]) -> int:
        return sum(_GAP + self.widths[column - 1] for column in kept)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        full = self.name_width + self._columns_width([1, 2, 3])
        least = min(self.name_width, TITLE_WANTED // 2) + self._columns_width([1])
        return Measurement(min(least, full), full)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        kept = self._fit(width)
        name_width = max(1, min(self.name_width, width - self._columns_width(kept)))
        for row in self.rows:
            line = row[0].copy()
            line.truncate(name_width, overflow="ellipsis", pad=True)
            values = row[1:]
            for column in kept:
                line.append(" " * _GAP + values[column - 1].rjust(self.widths[column - 1]), style=_STYLES[column - 1])
            line.no_wrap, line.overflow = True, "ellipsis"
            yield line
