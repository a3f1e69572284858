"""The terminal report (Rich): tables of operations, phases, failures and workers, and a small
chart of throughput over time in block characters.  Text from the journal is always drawn as
plain text, never as markup."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from .._base.outcomes import by_word
from . import units
from .figures import OUTCOMES, UNFINISHED, PhaseFigures, RunFigures, WorkerFigures

__all__ = ["render_text", "sparkline"]

_BLOCKS: Final = " ▁▂▃▄▅▆▇█"
PHASES_PER_OPERATION: Final = 15
FAILURES: Final = 20
WORKERS: Final = 40


def sparkline(values: Sequence[float], width: int) -> str:
    """``values`` in ``width`` block characters (averaged into columns), the tallest one full."""
    if not values or width <= 0:
        return ""
    columns = []
    for column in range(min(width, len(values))):
        low = column * len(values) // min(width, len(values))
        high = max(low + 1, (column + 1) * len(values) // min(width, len(values)))
        columns.append(sum(values[low:high]) / (high - low))
    peak = max(columns) or 1.0
    return "".join(_BLOCKS[0 if value <= 0 else max(1, round(value / peak * (len(_BLOCKS) - 1)))]
                   for value in columns)


def _outcome(outcome: str, reason: str | None = None) -> Text:
    """``✘ failed (RuntimeError: boom)``: the outcome's symbol and word, then what the reason adds."""
    symbol = by_word(outcome).symbol + " " if outcome != UNFINISHED else ""
    text = Text(symbol + outcome, style=f"bold {units.OUTCOME_COLOURS[outcome]}")
    if reason and reason != outcome:
        text.append(f" ({reason})")
    return text


def _table(title: str, rows: Sequence[Any], columns: Sequence[tuple[str, Callable[[Any], Text | str], bool]],
           limit: int) -> RenderableType:
    table = Table(title=Text(title, style="bold"), title_justify="left", show_edge=False, pad_edge=False)
    for name, _, numeric in columns:
        table.add_column(name, justify="right" if numeric else "left", overflow="fold")
    for row in rows[:limit]:
        cells = (make(row) for _, make, _ in columns)
        table.add_row(*(cell if isinstance(cell, Text) else Text(cell) for cell in cells))
    if len(rows) > limit:
        return Group(table, Text(f"  and {len(rows) - limit:,} more (--format json has them all)", style="dim"))
    return table


def _items(phase: PhaseFigures) -> str:
    return units.counted(phase.current, phase.total)  # 25/10 (+15 over) past its total


_PHASE_COLUMNS: Final[Sequence[tuple[str, Callable[[PhaseFigures], Text | str], bool]]] = (
    ("phase", lambda p: p.title, False),
    ("duration", lambda p: units.duration(p.duration), True),
    ("items", _items, True),
    ("rate", lambda p: units.rate(p.rate), True),
    ("outcome", lambda p: _outcome(p.outcome, p.reason), False),
)
_WORKER_COLUMNS: Final[Sequence[tuple[str, Callable[[WorkerFigures], Text | str], bool]]] = (
    ("worker", lambda w: w.label, False),
    ("ran", lambda w: w.ran, False),
    ("phases", lambda w: units.count(w.phases), True),
    ("busy", lambda w: units.duration(w.busy), True),
    ("idle", lambda w: units.duration(w.idle), True),
    ("busy %", lambda w: f"{100 * w.busy / (w.busy + w.idle):.0f}%" if w.busy + w.idle > 0 else "-", True),
    ("failed", lambda w: units.count(w.failed), True),
    ("lost", lambda w: Text(f"{w.lost:,}", style="bold red") if w.lost else "0", True),
)


def _summary(figures: RunFigures) -> RenderableType:
    run = figures.run
    span = run.end - run.started_at
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    closed = Text("yes") if run.closed_cleanly else Text(
        "no: killed or crashed (figures end at its last write)", style="bold red")
    outcomes = Text(f"{len(figures.phases):,}  ")
    for name in OUTCOMES:
        if figures.outcomes.get(name):
            outcomes.append(f"{figures.outcomes[name]:,} {name}  ", style=units.OUTCOME_COLOURS[name])
    rows: list[tuple[str, Text]] = [
        ("started", Text(f"{units.moment(run.started_at)}, for {units.duration(span)}")),
        ("closed cleanly", closed),
        *([("resumed", Text(f"run {run.resumed_from} (phases continued where it left them)"))]
          if run.resumed_from is not None else []),
        ("process", Text(f"{run.host} pid {run.pid}: {' '.join(run.argv)}")),
        ("operations", Text(f"{len(figures.operations):,}")),
        ("phases", outcomes),
        ("items", Text(units.items(figures.items, figures.rate, figures.items_earlier))),
        ("logs", Text(", ".join(f"{n:,} {level.lower()}" for level, n in figures.logs_by_level.items()) or "none")),
    ]
    if run.dropped_logs or run.write_errors:
        rows.append(("journal", Text(f"{run.dropped_logs:,} log records dropped, {run.write_errors:,} failed writes",
                                     style="red")))
    for name, value in rows:
        grid.add_row(name, value)
    return grid


def _chart(figures: RunFigures, width: int) -> RenderableType:
    flow = figures.throughput
    line = sparkline(flow.items_per_second, max(10, width - 2))
    peak = max(flow.items_per_second, default=0.0)
    span = flow.bucket_seconds * len(flow.items_per_second)
    return Group(
        Text("Throughput over time", style="bold"),
        Text(line, style="blue"),
        Text(f"0 to {units.duration(span)}, peak {units.rate(peak)}", style="dim"),
    )


def render_text(figures: RunFigures, console: Console) -> None:
    """Print the report of ``figures`` on ``console``."""
    run = figures.run
    console.print(Text(f"mpprogress run {run.run_id}", style="bold"))
    console.print(_summary(figures))
    console.print()
    console.print(_table("Operations", figures.operations, (
        ("operation", lambda o: o.title, False),
        ("duration", lambda o: units.duration(o.duration), True),
        ("phases", lambda o: units.count(o.phases), True),
        ("items", lambda o: units.count(o.items), True),
        ("rate", lambda o: units.rate(o.rate), True),
        ("outcome", lambda o: _outcome(o.outcome, o.reason), False),
    ), len(figures.operations)))
    titles = {op.operation_id: op.title for op in figures.operations}
    by_operation: dict[str, list[PhaseFigures]] = {operation_id: [] for operation_id in titles}
    for phase in figures.phases:
        by_operation.setdefault(phase.operation_id, []).append(phase)
    for operation_id, phases in by_operation.items():
        console.print()
        console.print(_table(f"Phases of {titles.get(operation_id, operation_id)}", phases, _PHASE_COLUMNS,
                             PHASES_PER_OPERATION))
    console.print()
    ranked = (("operation", lambda p: titles.get(p.operation_id, p.operation_id), False), *_PHASE_COLUMNS)
    console.print(_table("Slowest phases", figures.slowest, ranked, len(figures.slowest)))
    console.print()
    if figures.failures:
        console.print(_table("Failures", figures.failures, ranked, FAILURES))
    else:
        console.print(Text("Failures: none", style="bold"))
    if figures.lost_workers:
        console.print()
        console.print(_table("Lost workers", figures.lost_workers, _WORKER_COLUMNS, WORKERS))
    console.print()
    console.print(_table("Workers", figures.workers, _WORKER_COLUMNS, WORKERS))
    console.print()
    console.print(_chart(figures, min(console.width, 100)))
    if figures.recent_problems:
        console.print()
        console.print(Text("Recent warnings and errors", style="bold"))
        for at, level, logger, message in figures.recent_problems[-5:]:
            console.print(Text(f"{units.moment(at)} {level} {logger}: {message}"))
