"""The live frame's phase rows: bars, cells, and the column layout that fits them to the screen.

One ``Text`` per row rather than a ``rich.table.Table``: a table costs about a millisecond per
row to lay out, and a tall terminal shows a hundred rows ten times a second.

Fitting the width: each column after the bar has a fixed width, that of its widest usual value
(``0:00:00``, ``eta 0:00:00``, ``999.9/s``, ``100%``; a count as wide as its total twice), so
widths do not change with the values; a column no row has a value for takes no room at all
(the ETA and rate columns stay, blank, while a row runs).  When the titles would get fewer
cells than they need (their whole length, up to half the screen's width), columns give way in
this order: the rate, the ETA, the elapsed time; then the bar shrinks from 8 cells to 4; only
then is a title cut.  The count and the percentage always stay.

A live display keeps a ``LayoutMemory``: for one screen width its layout only narrows (a
column that gave way stays away, a column only widens, the bar only shrinks), so rows coming
and going never make bars jump back and forth between frames.

A running phase whose count has reached its total is drawn complete (a ``✔``, no spinner) even
before it is formally finished: nothing is left to do, and in the simple form
(``tracker.start_phase`` + ``tracker.update``) nobody finishes the last phase.  The closing
frame (what stays on the screen when the display closes with work still running) animates
nothing: a phase still short of its total shows ``■ stopped``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.spinner import Spinner
from rich.text import Text

from ..._base.formats import format_counted, format_elapsed, format_percentage, percent_of
from ..._base.snapshot import PhaseSnapshot
from ..._base.text import clean_line
from ._config import ConsoleConfig
from ._text import STALLED, format_count, format_duration, format_rate, outcome, outcome_mark, outcome_text

__all__ = [
    "ASCII_BARS",
    "COLOUR_BARS",
    "MONOCHROME_BARS",
    "TITLE_WANTED",
    "BarGlyphs",
    "LayoutMemory",
    "RowLayout",
    "bar_glyphs",
    "count_text",
    "title_room",
]

_SPINNER = Spinner("dots")
_SPINNER_FRAMES = _SPINNER.frames
_SPINNER_INTERVAL = _SPINNER.interval / 1000.0

# Plain colour names: they stay distinct on 16-colour terminals, where Rich's pink "bar.complete"
# turns into the same red as a failure.
_BAR_STYLES = {
    "running": "cyan",
    "succeeded": "green",
    "incomplete": "yellow",
    "failed": "red",
    "cancelled": "yellow",
    "interrupted": "yellow",
    "lost": "magenta",
}
_BAR_BACK = "bright_black"
_STOPPED = ("■", "yellow", "stopped")  # mark, style, label of a phase still running in the closing frame

TITLE_WANTED = 24
"""The fewest cells a title may claim before other columns give way (``title_room``)."""

_BAR_COMFORT = 8  # a bar narrower than this is only drawn once rate, ETA and elapsed are gone
_BAR_LEAST = 4
_LEAD = 4  # two spaces, the mark, a space
# The columns after the bar, left to right, and the order in which they give way.
_COLUMNS = ("count", "percentage", "elapsed", "eta", "rate")
_GIVE_WAY = ("rate", "eta", "elapsed")
_COLUMN_STYLES = {"count": "", "percentage": "magenta", "elapsed": "yellow", "eta": "cyan", "rate": "bright_black"}
# The widest usual value of a column: it takes this room even while its values are shorter.
_USUAL_WIDTHS = {"percentage": len("100%"), "elapsed": len("0:00:00"), "eta": len("eta 0:00:00"),
                 "rate": len("999.9/s")}


def title_room(title_cells: int, width: int) -> int:
    """Cells a title may claim before other columns give way: all of it, up to half the
    screen's width (``TITLE_WANTED`` at least); a longer title is cut to that."""
    return min(title_cells, max(TITLE_WANTED, width // 2))


@dataclass
class LayoutMemory:
    """What the frames of one live display chose so far, for one screen width.

    Frames only narrow their layout: a column keeps its widest width, a column that gave way
    stays away, the bar never grows back; a new width starts afresh.
    """

    width: int = 0
    widths: dict[str, int] = field(default_factory=dict)
    dropped: set[str] = field(default_factory=set)
    bar: int | None = None

    def at(self, width: int) -> LayoutMemory:
        """This memory, emptied first if the screen's width changed."""
        if width != self.width:
            self.width, self.widths, self.dropped, self.bar = width, {}, set(), None
        return self


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


def _spinner_frame(now: float) -> str:
    return _SPINNER_FRAMES[int(now / _SPINNER_INTERVAL) % len(_SPINNER_FRAMES)]


def _bar_text(completed: float, total: float, width: int, style: str, glyphs: BarGlyphs) -> Text:
    """A bar like ``rich.progress_bar.ProgressBar``, built as one ``Text`` (much cheaper to draw)."""
    halves = int(width * 2 * min(1.0, max(0.0, completed / total))) if total > 0 else 0
    full, half = divmod(halves, 2)
    half = half if glyphs.half else 0
    bar = Text()  # pieces with styles of their own, no base style: see ``console_render._segments``
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


def _bar(phase: PhaseSnapshot, name: str, width: int, now: float, glyphs: BarGlyphs) -> Text:
    total = phase.rollup_total
    if name == "stopped":
        return _bar_text(phase.rollup_current, total or 0, width, _BAR_STYLES["cancelled"], glyphs)
    if name == "running":
        if total is None:
            return _pulse_text(width, now, glyphs)
        done = total > 0 and phase.rollup_current >= total
        style = _BAR_STYLES["succeeded" if done else "running"]
        return _bar_text(phase.rollup_current, max(total, 1), width, style, glyphs)
    style = _BAR_STYLES.get(name, "red")
    if not total:
        return _bar_text(1 if name == "succeeded" else 0, 1, width, style, glyphs)
    return _bar_text(phase.rollup_current, total, width, style, glyphs)


def _reached_total(phase: PhaseSnapshot) -> bool:
    total = phase.rollup_total
    return total is not None and total > 0 and phase.rollup_current >= total


def _shown_as(phase: PhaseSnapshot, closing: bool) -> str:
    """The outcome a row is drawn as: a running phase at its total as ``succeeded``; in the
    closing frame any other running phase as ``stopped``."""
    name = outcome(phase)
    if name == "running" and _reached_total(phase):
        return "succeeded"
    if name == "running" and closing:
        return "stopped"
    return name


def _count_width(phase: PhaseSnapshot) -> int:
    """The widest the count of ``phase`` gets: its total twice (``300/300``), else as now."""
    total = phase.rollup_total
    return len(count_text(phase)) if total is None else 2 * len(format_count(total)) + 1


def count_text(phase: PhaseSnapshot) -> str:
    """``12/40``, ``25/10 (+15 over)`` past the total, or just ``12`` when the total is unknown
    (rolled up for a parent phase)."""
    return format_counted(phase.rollup_current, phase.rollup_total, format_count)


def _title_cell(phase: PhaseSnapshot, shown: str, depth: int) -> tuple[Text, int]:
    """The title column's text, and the cells of its part that must stay readable (no message)."""
    cell = Text("  " * depth)
    cell.append(clean_line(phase.title, 200), style="bold" if not phase.finished else "")
    label = Text(_STOPPED[2], style=_STOPPED[1]) if shown == "stopped" else outcome_text(phase)
    if label:
        cell.append("  ")
        cell.append_text(label)
    if phase.resumed_from is not None:  # resumed from an earlier run (``resume.py``)
        total = "" if phase.total is None else f"/{format_count(phase.total)}"
        cell.append(f"  resumed at {format_count(phase.resumed_from)}{total}", style="dim")
    name_cells = cell.cell_len + (1 if phase.message else 0)  # a message after it costs an "…"
    if phase.message:
        cell.append(" • ", style="bright_black")
        cell.append(clean_line(phase.message), style="dim" if phase.finished else "")
    return cell, name_cells


def _cells(phase: PhaseSnapshot, shown: str, config: ConsoleConfig) -> dict[str, str]:
    """The values of the columns after the bar ("" where a row has none)."""
    cells = {"count": count_text(phase), "elapsed": format_elapsed(phase.elapsed)}
    if config.show_percentage:  # not the snapshot's, capped at 100: past its total it says 250%
        cells["percentage"] = format_percentage(percent_of(phase.rollup_current, phase.rollup_total))
    if config.show_time_remaining:
        # A parent without a total of its own has its sub-phases' ETA (the snapshot's).
        known = shown == "running" and phase.rollup_total is not None and not phase.stalled
        cells["eta"] = f"eta {format_duration(phase.eta)}" if known else ""
    if config.show_rate:
        cells["rate"] = format_rate(phase.rate)  # a rolled-up parent's: its count over its time
    return cells


class RowLayout:
    """Lays out phase rows on one grid, so all operations' columns line up.

    Args:
        rows: the rows to draw, each a phase and the depth to indent it by.
        config: which columns and marks to show.
        width: screen columns.
        now: a clock reading, for the spinner and pulse animation.
        glyphs: what the bars are drawn with.
        closing: draw the closing frame: nothing animated, running phases ``stopped``.
        memory: the live display's layout so far; updated with this frame's.
    """

    def __init__(
        self,
        rows: Sequence[tuple[PhaseSnapshot, int]],
        config: ConsoleConfig,
        width: int,
        now: float,
        glyphs: BarGlyphs,
        closing: bool = False,
        memory: LayoutMemory | None = None,
    ) -> None:
        self.config = config
        self.now = now
        self.glyphs = glyphs
        self.rows = rows
        self._shown = [_shown_as(phase, closing) for phase, _ in rows]
        self._titles = [
            _title_cell(phase, shown, depth) for (phase, depth), shown in zip(rows, self._shown, strict=True)
        ]
        self._values = [_cells(phase, shown, config) for (phase, _), shown in zip(rows, self._shown, strict=True)]
        memory = (memory if memory is not None else LayoutMemory()).at(width)
        self.widths = widths = self._widths(memory)
        self.columns = [name for name in _COLUMNS if widths[name] and name not in memory.dropped]
        need = title_room(max((cells for _, cells in self._titles), default=0), width)
        comfort = min(_BAR_COMFORT, config.bar_width)
        for name in _GIVE_WAY:
            if self._room(width) - comfort >= need:
                break
            if name in self.columns:
                self.columns.remove(name)
                memory.dropped.add(name)
        room = self._room(width)
        # The bar takes at most a third of what the columns leave: titles and messages matter more.
        bar = min(config.bar_width, max(comfort, room // 3))
        if room - bar < need:
            bar = min(bar, max(_BAR_LEAST, room - need))
        if memory.bar is not None:
            bar = min(bar, memory.bar)
        self.bar_width = memory.bar = max(0, min(bar, room - 1))
        self.title_width = max(1, room - self.bar_width)

    def _widths(self, memory: LayoutMemory) -> dict[str, int]:
        """Each column's width: 0 for no column, else its usual width or its widest value."""
        values = self._values
        running = any(shown == "running" for shown in self._shown)
        widths = {name: max((len(row.get(name, "")) for row in values), default=0) for name in _COLUMNS}
        for name in ("eta", "rate"):  # while a row runs, its ETA or rate may appear any moment
            if running and name in (values[0] if values else {}):
                widths[name] = max(widths[name], 1)
        widths["count"] = max([widths["count"], *(_count_width(phase) for phase, _ in self.rows)])
        for name, width in widths.items():
            if width:
                widths[name] = memory.widths[name] = max(width, _USUAL_WIDTHS.get(name, 0), memory.widths.get(name, 0))
        return widths

    def _room(self, width: int) -> int:
        """Cells left for the title and the bar by the columns kept so far."""
        return width - _LEAD - 1 - sum(1 + self.widths[name] for name in self.columns)

    def lines(self) -> list[Text]:
        """One line per row, in the order given."""
        return [self._line(index) for index in range(len(self.rows))]

    def _line(self, index: int) -> Text:
        phase, _ = self.rows[index]
        config = self.config
        name = self._shown[index]
        if name == "stopped":
            mark = Text(_STOPPED[0], style=_STOPPED[1])
        elif name != "running":
            mark = outcome_mark(name)
        elif phase.stalled:  # no spinner: nothing is known to move
            mark = Text(STALLED[0], style=STALLED[1])
        elif config.show_spinner:
            mark = Text(_spinner_frame(self.now), style="yellow" if phase.cancelled else "cyan")
        else:
            mark = Text("•", style="cyan")
        line = Text("  ")
        line.append_text(mark)
        line.append(" ")
        title = self._titles[index][0]
        title.truncate(self.title_width, overflow="ellipsis", pad=True)
        line.append_text(title)
        if self.bar_width:
            line.append(" ")
            line.append_text(_bar(phase, name, self.bar_width, self.now, self.glyphs))
        values = self._values[index]
        for column in self.columns:
            style = "green" if column == "count" and name == "succeeded" else _COLUMN_STYLES[column]
            line.append(" " + values.get(column, "").rjust(self.widths[column]), style=style)
        return line
