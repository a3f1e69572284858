"""Pure rendering of tracker snapshots into Rich renderables: the live frame and the summary.

Nothing here holds a lock, starts a thread or writes to a console: every function takes a
snapshot (read-only) and returns a renderable, so the live display and the tests build the very
same frame.  Text that came from application or worker code is always wrapped in
``rich.text.Text`` after ``clean_line`` (never parsed as markup).  Which rows fit is decided by
``console_plan``; the options are ``console_config.ConsoleConfig`` (both re-exported here).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.segment import Segment
from rich.text import Text

from ..._base.formats import format_elapsed
from ..._base.snapshot import OperationSnapshot, TrackerSnapshot
from ..._base.text import clean_line
from ._config import ConsoleConfig
from ._plan import SHOWN_DEPTH, FramePlan, OperationPlan, plan_frame
from ._rows import (
    ASCII_BARS,
    COLOUR_BARS,
    MONOCHROME_BARS,
    BarGlyphs,
    LayoutMemory,
    RowLayout,
    bar_glyphs,
    title_room,
)
from ._summary import render_summary
from ._text import deeper_text, fold_text, format_duration, format_rate

__all__ = [
    "ASCII_BARS",
    "COLOUR_BARS",
    "MONOCHROME_BARS",
    "BarGlyphs",
    "ConsoleConfig",
    "FramePlan",
    "LayoutMemory",
    "OperationPlan",
    "bar_glyphs",
    "plan_frame",
    "render_final",
    "render_frame",
    "render_summary",
]


# The header's columns after the title, the ones that give way first last: (name, usual width).
_HEADER_SLOTS = (("elapsed", len("0:00:00")), ("eta", len("eta 0:00:00")), ("rate", len("999.9/s")))


def _header_slots(operations: list[OperationSnapshot], width: int, config: ConsoleConfig, closing: bool) -> list[str]:
    """The header columns every operation's header shows, so they line up from header to header.

    The rate, then the ETA give way while the longest title would get fewer cells than
    ``title_room`` gives it; the elapsed time always stays.
    """
    slots = ["elapsed"]
    if config.show_time_remaining and not closing:
        slots.append("eta")
    if config.show_rate:
        slots.append("rate")
    want = max((title_room(cell_len(clean_line(op.title, 200)), width) for op in operations), default=0)
    while len(slots) > 1 and width - 2 - _slot_cells(slots) < want:
        slots.pop()
    return slots


def _slot_cells(slots: list[str]) -> int:
    usual = dict(_HEADER_SLOTS)
    return sum(2 + usual[name] for name in slots)


def _header_values(op: OperationSnapshot, closing: bool) -> dict[str, str]:
    values = {"elapsed": format_elapsed(op.elapsed)}
    if op.finished:
        return values
    # No ETA while a worker's phase is stalled: its remaining work has no known pace.
    if not closing and not any(p.stalled for p in op.all_phases()):
        values["eta"] = f"eta {format_duration(op.eta)}"
    values["rate"] = format_rate(op.rate) if op.rate else ""  # none while nothing moves
    return values


def _operation_header(op: OperationSnapshot, width: int, slots: list[str], closing: bool) -> Text:
    """``● title  description  0:00:03  eta 0:00:30  120.0/s``.

    ``_header_slots`` chose the columns, the same for every header (and counted at their usual
    widths, so a value growing never flips the choice); on a narrow screen the description
    gives way first, then the title is cut.
    """
    values = _header_values(op, closing)
    columns = [values[name] for name in slots if values.get(name)]
    cancelling = "  cancelling…" if op.cancelled else ""
    room = max(1, width - 2 - _slot_cells(slots) - cell_len(cancelling))
    title = Text(clean_line(op.title, 200), style="bold cyan")
    title.truncate(room, overflow="ellipsis")
    header = Text(no_wrap=True, overflow="ellipsis")
    header.append("● ", style="cyan")
    header.append_text(title)
    room = width - 2 - sum(2 + cell_len(text) for text in columns) - cell_len(cancelling) - title.cell_len
    if op.description and room > 5:
        description = Text("  " + clean_line(op.description, 200), style="dim")
        description.truncate(room, overflow="ellipsis")
        header.append_text(description)
    styles = {"elapsed": "yellow", "eta": "cyan", "rate": "bright_black"}
    for name in slots:
        if values.get(name):
            header.append(f"  {values[name]}", style=styles[name])
    if cancelling:
        header.append(cancelling, style="yellow")
    return header


def _fold_line(plan: OperationPlan) -> Text:
    """``… 950 more running, 12 finished; 1990 phases nested deeper than 10 levels: 1990 running``."""
    parts = []
    if plan.folded or plan.folded_running:
        parts.append(fold_text(plan.folded, plan.folded_running))
    if plan.deeper:
        parts.append(deeper_text(plan.deeper, SHOWN_DEPTH))
    return Text(f"     … {'; '.join(parts)}", style="dim")


def render_frame(
    snapshot: TrackerSnapshot,
    config: ConsoleConfig,
    *,
    width: int,
    height: int,
    now: float,
    glyphs: BarGlyphs = COLOUR_BARS,
    closing: bool = False,
    memory: LayoutMemory | None = None,
) -> RenderableType:
    """The live display's frame: every unfinished operation with its phase rows.

    Args:
        snapshot: the tracker's state.
        config: what to show.
        width: screen columns; the bar narrows (never below 8 cells) to leave titles room.
        height: screen lines available (``config.max_rows`` wins when set).
        now: a clock reading, only for the spinner and pulse animation.
        glyphs: what the bars are drawn with (``bar_glyphs(console)`` suits the console).
        closing: the last frame, left on the screen when the display closes with work still
            running: no spinner, no pulse, running phases drawn ``stopped`` (or complete, at
            their total).
        memory: the layout of the display's earlier frames, kept by the display: this frame's
            columns and bar are no wider (``LayoutMemory``).

    Returns:
        A renderable of at most ``height`` lines, one per row (empty when nothing runs).
    """
    running = [op for op in snapshot.operations if not op.finished]
    if not running:
        return Group()
    return _draw(running, config, width, max(3, config.max_rows or height), now, glyphs, closing, memory)


def render_final(
    operation: OperationSnapshot, config: ConsoleConfig, *, width: int, height: int, glyphs: BarGlyphs = COLOUR_BARS
) -> RenderableType:
    """A finished operation's last rows, as they stay on the screen when no summary replaces them.

    Args:
        operation: the operation, finished.
        config: what to show.
        width: screen columns.
        height: most lines to use; finished rows beyond fold into one line.
        glyphs: what the bars are drawn with.
    """
    return _draw([operation], config, width, max(3, height), 0.0, glyphs, True)


def _draw(
    operations: list[OperationSnapshot],
    config: ConsoleConfig,
    width: int,
    budget: int,
    now: float,
    glyphs: BarGlyphs,
    closing: bool,
    memory: LayoutMemory | None = None,
) -> _Lines:
    plan = plan_frame(operations, budget)
    shown = [row for op_plan in plan.operations for row in op_plan.rows]
    rows = iter(RowLayout(shown, config, width, now, glyphs, closing, memory).lines())
    slots = _header_slots([op_plan.operation for op_plan in plan.operations], width, config, closing)
    lines: list[Text] = []
    for op_plan in plan.operations:
        lines.append(_operation_header(op_plan.operation, width, slots, closing))
        lines.extend(next(rows) for _ in op_plan.rows)
        if op_plan.has_fold_line:
            lines.append(_fold_line(op_plan))
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
