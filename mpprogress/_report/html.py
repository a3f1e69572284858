"""The HTML report: one self-contained page (no script, no network), SVG drawn in place."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any, Final

from . import units
from .figures import OUTCOMES, PhaseFigures, RunFigures, WorkerFigures
from .lanes import LaneGroup, layout
from .svg import Scale, axis, lanes_svg, throughput_svg

__all__ = ["render_html"]

_ROWS: Final = 200  # rows at most in a table of the page (the JSON has them all)

_CSS: Final = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#212529;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.sub{color:#495057;margin:0 0 16px}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:4px 18px;margin:0}
dl.summary dt{color:#495057}dl.summary dd{margin:0}
.chip{display:inline-block;padding:0 7px;border-radius:9px;color:#fff;font-size:12px;margin-right:4px}
.bad{color:#c92a2a;font-weight:600}
table{border-collapse:collapse;margin:4px 0}th,td{padding:3px 10px;text-align:left;border-bottom:1px solid #e9ecef}
th{background:#f1f3f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
details{margin:2px 0}summary{cursor:pointer;color:#343a40}
svg.axis,svg.lanes,svg.throughput{display:block;width:100%;height:auto}
svg text{font-size:11px;fill:#495057}svg .lane-label{fill:#343a40}
svg line{stroke:#adb5bd}svg line.grid{stroke:#f1f3f5}svg .flow{fill:#4c6ef5}
svg .bar{stroke:#fff;stroke-width:.5}svg text.bar-label{fill:#fff;font-size:10px;pointer-events:none}
.legend span{margin-right:14px}.more{color:#868e96}
"""


def _outcome_css() -> str:
    return "".join(f".o-{name}{{fill:{colour}}}.c-{name}{{background:{colour}}}"
                   for name, colour in units.OUTCOME_COLOURS.items())


def _chip(outcome: str, text: str | None = None) -> str:
    return f'<span class="chip c-{outcome}" data-outcome="{outcome}">{escape(text or outcome)}</span>'


def _table(rows: Sequence[Any], columns: Sequence[tuple[str, Callable[[Any], str], bool]], css_id: str) -> str:
    """A table of ``rows``; each column is (heading, cell html, numeric)."""
    head = "".join(f"<th>{escape(name)}</th>" for name, _, _ in columns)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=n" if numeric else ""}>{cell(row)}</td>' for _, cell, numeric in columns)
        + "</tr>"
        for row in rows[:_ROWS]
    )
    more = f'<p class="more">and {len(rows) - _ROWS:,} more (see --format json)</p>' if len(rows) > _ROWS else ""
    return f'<table id="{css_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}'


def _outcome_cell(item: Any) -> str:
    reason = item.reason if item.reason and item.reason != item.outcome else ""
    return _chip(item.outcome) + escape(reason)


_PHASE_COLUMNS: Final[Sequence[tuple[str, Callable[[PhaseFigures], str], bool]]] = (
    ("phase", lambda p: escape(p.title), False),
    ("worker", lambda p: escape("" if p.pid is None else f"{p.host or ''} {p.pid}".strip()), False),
    ("duration", lambda p: units.duration(p.duration), True),
    ("items", lambda p: escape(units.counted(p.current, p.total)), True),  # 25/10 (+15 over) past its total
    ("rate", lambda p: units.rate(p.rate), True),
    ("outcome", _outcome_cell, False),
)

_WORKER_COLUMNS: Final[Sequence[tuple[str, Callable[[WorkerFigures], str], bool]]] = (
    ("worker", lambda w: escape(w.label), False),
    ("ran", lambda w: escape(w.ran), False),
    ("phases", lambda w: units.count(w.phases), True),
    ("busy", lambda w: units.duration(w.busy), True),
    ("idle", lambda w: units.duration(w.idle), True),
    ("busy %", lambda w: f"{100 * w.busy / (w.busy + w.idle):.0f}%" if w.busy + w.idle > 0 else "-", True),
    ("failed", lambda w: units.count(w.failed), True),
    ("lost", lambda w: f'<span class="bad">{w.lost:,}</span>' if w.lost else "0", True),
)


def _summary(figures: RunFigures) -> str:
    run = figures.run
    span = run.end - run.started_at
    closed = ("yes" if run.closed_cleanly else
              '<span class="bad">no: the process was killed or crashed (figures end at its last write)</span>')
    outcomes = " ".join(_chip(name, f"{figures.outcomes[name]:,} {name}") for name in OUTCOMES
                        if figures.outcomes.get(name))
    lost = (f', <span class="bad">{len(figures.lost_workers)} with lost phases</span>'
            if figures.lost_workers else "")
    rows = [
        ("started", escape(units.moment(run.started_at))),
        ("duration", units.duration(span)),
        ("closed cleanly", closed),
        *([("resumed", f"run {run.resumed_from} (phases continued where it left them)")]
          if run.resumed_from is not None else []),
        ("process", escape(f"{run.host} pid {run.pid}, mpprogress {run.version}")),
        ("command", f"<code>{escape(' '.join(run.argv))}</code>"),
        ("operations", f"{len(figures.operations):,}"),
        ("phases", f"{len(figures.phases):,} {outcomes}"),
        ("items", escape(units.items(figures.items, figures.rate, figures.items_earlier))),
        ("workers", f"{len(figures.workers):,}" + lost),
        ("logs", escape(", ".join(f"{n:,} {level.lower()}" for level, n in figures.logs_by_level.items()) or "none")),
    ]
    if run.dropped_logs or run.write_errors:
        rows.append(("journal", f'<span class="bad">{run.dropped_logs:,} log records dropped, '
                                f"{run.write_errors:,} failed writes</span>"))
    if figures.other_runs:
        rows.append(("other runs in this file", escape(", ".join(map(str, figures.other_runs[-20:])))))
    return '<dl class="summary" id="summary">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _group(group: LaneGroup, scale: Scale) -> str:
    counts = ", ".join(f"{group.outcomes[name]:,} {name}" for name in OUTCOMES if group.outcomes.get(name))
    lanes = len(group.lanes) + group.hidden_lanes
    title = f"{group.name}: {lanes:,} lane{'s' * (lanes != 1)}, {group.phases:,} phases ({counts})"
    summary = f"<summary>{escape(title)}</summary>"
    if group.folded:
        summary = (f"<summary>{escape(title)} (click to show or hide each lane)"
                   f"{lanes_svg([group.overview], scale, group.name + ' overview')}</summary>")
    hidden = (f'<p class="more">{group.hidden_lanes:,} more lanes not drawn (see --format json)</p>'
              if group.hidden_lanes else "")
    return (f'<details class="group"{"" if group.folded else " open"}>{summary}'
            f"{lanes_svg(group.lanes, scale, group.name)}{hidden}</details>")


def render_html(figures: RunFigures) -> str:
    """The whole report as one HTML page."""
    run = figures.run
    scale = Scale(min([run.started_at, *(p.started_at for p in figures.phases)]), run.end)
    titles = {op.operation_id: op.title for op in figures.operations}
    groups = layout(figures.phases, titles, scale.start, scale.seconds_per_px)
    legend = "".join(f"<span>{_chip(name)}</span>" for name in OUTCOMES)
    operations = _table(figures.operations, (
        ("operation", lambda o: escape(o.title), False),
        ("duration", lambda o: units.duration(o.duration), True),
        ("phases", lambda o: units.count(o.phases), True),
        ("items", lambda o: units.count(o.items), True),
        ("rate", lambda o: units.rate(o.rate), True),
        ("outcome", _outcome_cell, False),
    ), "operations")
    ranked = (("operation", lambda p: escape(titles.get(p.operation_id, p.operation_id)), False), *_PHASE_COLUMNS)
    failures = (_table(figures.failures, ranked, "failures") if figures.failures
                else '<p id="failures">none</p>')
    by_operation: dict[str, list[PhaseFigures]] = {operation_id: [] for operation_id in titles}
    for phase in figures.phases:
        by_operation.setdefault(phase.operation_id, []).append(phase)
    phase_tables = "".join(  # as the text report has them
        f"<h3>Phases of {escape(titles.get(operation_id, operation_id))}</h3>"
        + _table(phases, _PHASE_COLUMNS, f"phases-{number}")
        for number, (operation_id, phases) in enumerate(by_operation.items()) if phases
    )
    problems = "".join(f"<tr><td>{escape(units.moment(at))}</td><td>{escape(level)}</td><td>{escape(logger)}</td>"
                       f"<td><pre>{escape(message)}</pre></td></tr>" for at, level, logger, message
                       in figures.recent_problems)
    sections = [
        f"<h1>mpprogress run {run.run_id}</h1>",
        f'<p class="sub">{escape(units.moment(run.started_at))}, {escape(units.duration(run.end - run.started_at))}'
        f"{'' if run.closed_cleanly else ' (not closed cleanly)'}</p>",
        _summary(figures),
        '<h2>Timeline</h2><p class="legend">' + legend + "</p>",
        '<div id="timeline">' + axis(scale) + "".join(_group(group, scale) for group in groups) + "</div>",
        "<h2>Throughput</h2>" + throughput_svg(figures.throughput, scale),
        "<h2>Operations</h2>" + operations + phase_tables,
        "<h2>Slowest phases</h2>" + _table(figures.slowest, ranked, "slowest"),
        "<h2>Failures</h2>" + failures,
        "<h2>Workers</h2>" + _table(figures.workers, _WORKER_COLUMNS, "workers"),
    ]
    if problems:
        sections.append("<h2>Recent warnings and errors</h2><table id=\"problems\"><thead><tr><th>time</th>"
                        f"<th>level</th><th>logger</th><th>message</th></tr></thead><tbody>{problems}</tbody></table>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>mpprogress run {run.run_id}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}{_outcome_css()}</style></head><body>" + "\n".join(sections) + "</body></html>\n"
    )
