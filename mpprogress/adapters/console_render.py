"""Pure rendering of tracker snapshots into Rich renderables: the live frame and the summary.

Nothing here holds a lock, starts a thread or writes to a console: every function takes a
snapshot (read-only) and returns a renderable, so the live display and the tests build the very
same frame.  Text that came from application or worker code is always wrapped in
``rich.text.Text`` after ``clean_line`` (never parsed as markup).  Which rows fit is decided by
``console_plan``; the options are ``console_config.ConsoleConfig`` (both re-exported here).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.panel import Panel
from rich.segment import Segment
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from ..snapshot import OperationSnapshot, PhaseSnapshot, TrackerSnapshot
from ..text import clean_line
from .console_config import ConsoleConfig
from .console_plan import FramePlan, OperationPlan, plan_frame
from .console_text import (
    fold_text,
    format_count,
    format_duration,
    format_rate,
    outcome,
    outcome_mark,
    outcome_text,
)

__all__ = [
    "ASCII_BARS",
    "COLOUR_BARS",
    "MONOCHROME_BARS",
    "BarGlyphs",
    "ConsoleConfig",
    "FramePlan",
    "OperationPlan",
    "bar_glyphs",
    "plan_frame",
    "render_frame",
    "render_summary",
]

_SPINNER = Spinner("dots")
_SPINNER_FRAMES = _SPINNER.frames
_SPINNER_INTERVAL = _SPINNER.interval / 1000.0

# Plain colour names: they stay distinct on 16-colour terminals, where Rich's pink "bar.complete"
# turns into the same red as a failure.
_BAR_STYLES = {
    "running": "cyan",
    "finished": "green",
    "failed": "red",
    "cancelled": "yellow",
    "interrupted": "yellow",
    "lost": "magenta",
}
_BAR_BACK = "bright_black"


def _spinner_frame(now: float) -> str:
    return _SPINNER_FRAMES[int(now / _SPINNER_INTERVAL) % len(_SPINNER_FRAMES)]


def _operation_header(op: OperationSnapshot) -> Text:
    header = Text(no_wrap=True, overflow="ellipsis")
    header.append("● ", style="cyan")
    header.append(clean_line(op.title, 200), style="bold cyan")
    if op.description:
        header.append("  " + clean_line(op.description, 200), style="dim")
    header.append(f"  {format_duration(op.elapsed)}", style="yellow")
    if op.cancelled:
        header.append("  cancelling…", style="yellow")
    return header


@dataclass(frozen=True)
class BarGlyphs:
    """The characters a bar is drawn with: its done part, a half cell, and the rest.

    With colour the rest is the done glyph in a dim colour, as Rich draws it; without colour it
    must be another glyph, or every bar looks full.
    """

    done: str
    half: str  # empty where the character set has none
    rest: str


COLOUR_BARS = BarGlyphs("━", "╸", "━")
MONOCHROME_BARS = BarGlyphs("━", "╸", "─")
ASCII_BARS = BarGlyphs("=", "", "-")


def bar_glyphs(console: Console) -> BarGlyphs:
    """The glyphs that show a bar's progress on ``console``: ASCII, monochrome or colour."""
    if console.legacy_windows or not console.encoding.startswith("utf"):  # as Rich's ``ascii_only``
        return ASCII_BARS
    if console.no_color or console.color_system is None:
        return MONOCHROME_BARS
    return COLOUR_BARS


def _bar_text(completed: float, total: float, width: int, style: str, glyphs: BarGlyphs) -> Text:
    """A bar like ``rich.progress_bar.ProgressBar``, built as one ``Text`` (much cheaper to draw)."""
    halves = int(width * 2 * min(1.0, max(0.0, completed / total))) if total > 0 else 0
    full, half = divmod(halves, 2)
    half = half if glyphs.half else 0
    bar = Text()  # pieces with styles of their own, no base style: see ``_segments``
    bar.append(glyphs.done * full, style=style)
    if half:
        bar.append(glyphs.half, style=style)
    if full + half < width:
        bar.append(glyphs.rest * (width - full - half), style=_BAR_BACK)
    return bar


def _pulse_text(width: int, now: float, glyphs: BarGlyphs) -> Text:
    """An indeterminate bar: a bright stretch sliding across, about 20 cells a second."""
    stretch = max(2, width // 4)
    start = int(now * 20) % (width + stretch) - stretch
    lit = range(max(0, start), min(width, start + stretch))
    bar = Text()
    bar.append(glyphs.rest * lit.start, style=_BAR_BACK)
    bar.append(glyphs.done * len(lit), style=_BAR_STYLES["running"])
    bar.append(glyphs.rest * (width - lit.start - len(lit)), style=_BAR_BACK)
    return bar


def _bar(phase: PhaseSnapshot, width: int, now: float, glyphs: BarGlyphs) -> Text:
    total = phase.rollup_total
    name = outcome(phase)
    if name == "running":
        if total is None:
            return _pulse_text(width, now, glyphs)
        done = total > 0 and phase.rollup_current >= total
        style = _BAR_STYLES["finished" if done else "running"]
        return _bar_text(phase.rollup_current, max(total, 1), width, style, glyphs)
    style = _BAR_STYLES.get(name, "red")
    if not total:
        return _bar_text(1 if name == "finished" else 0, 1, width, style, glyphs)
    return _bar_text(phase.rollup_current, total, width, style, glyphs)


def _title_cell(phase: PhaseSnapshot, indent: int) -> Text:
    cell = Text("  " * indent)
    cell.append(clean_line(phase.title, 200), style="bold" if not phase.finished else "")
    label = outcome_text(phase)
    if label:
        cell.append("  ")
        cell.append_text(label)
    if phase.message:
        cell.append(" • ", style="bright_black")
        cell.append(clean_line(phase.message), style="dim" if phase.finished else "")
    return cell


def _count(phase: PhaseSnapshot) -> str:
    if phase.rollup_total is None:
        return format_count(phase.rollup_current)
    return f"{format_count(phase.rollup_current)}/{phase.rollup_total}"


class _RowLayout:
    """Draws phase rows as single lines with fixed column widths, so all operations line up.

    One ``Text`` per row rather than a ``rich.table.Table``: a table costs about a millisecond
    per row to lay out, and a tall terminal shows a hundred rows ten times a second.
    """

    def __init__(self, config: ConsoleConfig, count_width: int, width: int, now: float, glyphs: BarGlyphs) -> None:
        self.config = config
        self.now = now
        self.glyphs = glyphs
        # (cell width, right-justified) of the columns after the title, each after one space.
        self.columns = [count_width, 7]
        if config.show_percentage:
            self.columns.insert(1, 4)
        if config.show_time_remaining:
            self.columns.append(11)
        if config.show_rate:
            self.columns.append(9)
        others = 4 + sum(1 + w for w in self.columns)  # indent, mark, space; then the columns
        # The bar takes at most a third of what the columns leave: titles and messages matter more.
        self.bar_width = max(8, min(config.bar_width, (width - others - 2) // 3))
        self.title_width = max(1, width - others - 1 - self.bar_width - 1)

    def row(self, phase: PhaseSnapshot) -> Text:
        config = self.config
        name = outcome(phase)
        if name != "running":
            mark = outcome_mark(name)
        elif config.show_spinner:
            mark = Text(_spinner_frame(self.now), style="yellow" if phase.cancelled else "cyan")
        else:
            mark = Text("•", style="cyan")
        line = Text("  ")
        line.append_text(mark)
        line.append(" ")
        title = _title_cell(phase, phase.depth)
        title.truncate(self.title_width, overflow="ellipsis", pad=True)
        line.append_text(title)
        line.append(" ")
        line.append_text(_bar(phase, self.bar_width, self.now, self.glyphs))
        cells = [(_count(phase), "green" if name == "finished" else "")]
        if config.show_percentage:
            pct = phase.percentage
            cells.append(("" if pct is None else f"{pct:.0f}%", "magenta"))
        cells.append((format_duration(phase.elapsed), "yellow"))
        rolled_up = phase.total is None and bool(phase.phases)  # its speed is its sub-phases'
        if config.show_time_remaining:
            known = not (phase.finished or rolled_up or phase.rollup_total is None)
            cells.append((f"eta {format_duration(phase.eta)}" if known else "", "cyan"))
        if config.show_rate:
            cells.append(("" if rolled_up else format_rate(phase.rate), "bright_black"))
        for (value, style), cell_width in zip(cells, self.columns, strict=True):
            line.append(" " + value.rjust(cell_width)[:cell_width], style=style)
        return line


def _fold_line(counts: Counter[str], running: int, indent: str = "     ") -> Text:
    return Text(f"{indent}… {fold_text(counts, running)}", style="dim")


def render_frame(
    snapshot: TrackerSnapshot,
    config: ConsoleConfig,
    *,
    width: int,
    height: int,
    now: float,
    glyphs: BarGlyphs = COLOUR_BARS,
) -> RenderableType:
    """The live display's frame: every unfinished operation with its phase rows.

    Args:
        snapshot: the tracker's state.
        config: what to show.
        width: screen columns; the bar narrows (never below 8 cells) to leave titles room.
        height: screen lines available (``config.max_rows`` wins when set).
        now: a clock reading, only for the spinner and pulse animation.
        glyphs: what the bars are drawn with (``bar_glyphs(console)`` suits the console).

    Returns:
        A renderable of at most ``height`` lines, one per row (empty when nothing runs).
    """
    running = [op for op in snapshot.operations if not op.finished]
    if not running:
        return Group()
    plan = plan_frame(running, max(3, config.max_rows or height))
    shown = [p for op_plan in plan.operations for p in op_plan.rows]
    count_width = max((len(_count(p)) for p in shown), default=1)
    layout = _RowLayout(config, count_width, width, now, glyphs)
    lines: list[Text] = []
    for op_plan in plan.operations:
        lines.append(_operation_header(op_plan.operation))
        lines.extend(layout.row(phase) for phase in op_plan.rows)
        if op_plan.folded or op_plan.folded_running:
            lines.append(_fold_line(op_plan.folded, op_plan.folded_running))
    if plan.hidden_operations:
        more = f"… {plan.hidden_operations} more operations ({plan.hidden_running} phases running)"
        lines.append(Text(more, style="dim"))
    for line in lines:
        line.truncate(width, overflow="ellipsis")
    return _Lines(lines)


class _Lines:
    """A frame of lines already cut to the screen's width, drawn straight to segments.

    Rich's general path for a ``Text`` (dividing, wrapping, merging overlapping styles) costs
    about a tenth of a millisecond per line, ten times a second; our lines are built by
    ``append`` with one style per piece, so each piece becomes one segment.
    """

    def __init__(self, lines: list[Text]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        newline = Segment.line()
        for line in self.lines:
            yield from _segments(line, console)
            yield newline


def _segments(line: Text, console: Console) -> Iterable[Segment]:
    spans = line.spans
    if line.style and not spans:
        yield Segment(line.plain, console.get_style(line.style) if isinstance(line.style, str) else line.style)
        return
    if line.style or any(a.end > b.start for a, b in pairwise(spans)):
        yield from line.render(console)  # nested or overlapping styles: Rich's general path
        return
    text, position = line.plain, 0
    for start, end, style in spans:
        if start > position:
            yield Segment(text[position:start])
        if end > start:
            yield Segment(text[start:end], console.get_style(style) if isinstance(style, str) else style)
        position = max(position, end)
    if position < len(text):
        yield Segment(text[position:])


def render_summary(
    title: str,
    success: bool,
    duration: float,
    operation: OperationSnapshot | None,
    config: ConsoleConfig,
) -> Panel:
    """The "Operation Complete" panel printed when an operation finishes.

    Args:
        title: the operation's title.
        success: whether it succeeded.
        duration: its duration in seconds.
        operation: its final snapshot, for the per-phase lines (``None`` if already pruned).
        config: ``summary_max_phases`` bounds the phase lines.

    Returns:
        A panel with the outcome, the duration and one line per phase (counts, time, rate).
    """
    head = Text()
    head.append_text(outcome_mark("finished" if success else "failed"))
    head.append(" Completed " if success else " Failed ", style="bold green" if success else "bold red")
    head.append(clean_line(title, 200), style="bold")
    head.append(f"\nDuration: {duration:.1f}s", style="yellow")
    parts: list[RenderableType] = [head]
    phases = operation.all_phases() if operation is not None else ()
    if phases:
        table = Table.grid(padding=(0, 2))
        for justify in ("left", "right", "right", "right"):
            table.add_column(justify=justify, no_wrap=True)
        for phase in phases[: config.summary_max_phases]:
            table.add_row(*_summary_row(phase))
        parts.append(table)
        rest = phases[config.summary_max_phases :]
        if rest:
            counts = Counter(outcome(p) for p in rest)
            parts.append(Text(f"… {len(rest)} more phases: {fold_text(counts)}", style="dim"))
    return Panel(
        Group(*parts),
        title="Operation Complete",
        title_align="left",
        border_style="green" if success else "red",
        expand=False,
    )


def _summary_row(phase: PhaseSnapshot) -> Iterable[Text]:
    name = outcome(phase)
    cell = Text("  " * phase.depth)
    cell.append_text(outcome_mark(name) if name != "running" else Text("…"))
    cell.append(" " + clean_line(phase.title, 120))
    label = outcome_text(phase)
    if label:
        cell.append("  ")
        cell.append_text(label)
    return (
        cell,
        Text(_count(phase)),
        Text(f"{phase.elapsed:.1f}s", style="yellow"),
        Text(format_rate(phase.rate), style="bright_black"),
    )
