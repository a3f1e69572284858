"""Plain, timestamped progress lines for output that is not a terminal (CI logs, pipes, files).

No cursor movement and no redraws: one line when an operation or phase starts or finishes, and
one line per ``plain_interval`` seconds of a running phase, so a CI log tells the story.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.text import Text

from ..events import (
    CANCEL_REQUESTED,
    OPERATION_FINISHED,
    OPERATION_STARTED,
    PHASE_FINISHED,
    PHASE_STARTED,
    PROGRESS_UPDATE,
)
from .console_render import (
    clean_text,
    format_count,
    format_duration,
    format_rate,
    outcome_label,
    outcome_mark,
    outcome_of,
)

__all__ = ["PlainLines"]

_SEPARATOR = " › "  # noqa: RUF001 - a path separator that reads well in logs


class PlainLines:
    """Turns events into plain lines printed on ``console``.

    Called from the tracker's event delivery, which is one thread at a time and in order, so
    the bookkeeping here needs no lock of its own.

    Args:
        console: where the lines go; printed as ``Text`` (no markup), never wrapped.
        interval: seconds (of the phase's own clock) between progress lines of one phase.
        wall_clock: gives the timestamp of each line; inject a fixed one in tests.
    """

    def __init__(self, console: Console, interval: float, wall_clock: Callable[[], datetime] = datetime.now) -> None:
        self._console = console
        self._interval = interval
        self._wall_clock = wall_clock
        self._operations: dict[str, str] = {}
        self._phases: dict[str, tuple[str, str | None, str]] = {}  # id -> (title, parent, op)
        self._last_line: dict[str, float] = {}

    def __call__(self, event_type: str, data: dict[str, Any]) -> None:
        if event_type == PROGRESS_UPDATE:
            self._progress(data)
        elif event_type == PHASE_STARTED:
            phase_id = data["phase_id"]
            self._phases[phase_id] = (clean_text(data["title"], 120), data.get("parent_phase_id"), data["operation_id"])
            self._last_line[phase_id] = 0.0
            total = data.get("total")
            detail = f"started (total {'unknown' if total is None else total})"
            self._line(Text("▸", "cyan"), self._path(phase_id), detail)
        elif event_type == PHASE_FINISHED:
            self._phase_finished(data)
        elif event_type == OPERATION_STARTED:
            title = clean_text(data["title"], 200)
            self._operations[data["operation_id"]] = title
            description = data.get("description")
            detail = "started" + (f" — {clean_text(description)}" if description else "")
            self._line(Text("▶", "bold cyan"), title, detail)
        elif event_type == OPERATION_FINISHED:
            title = self._operations.pop(data["operation_id"], "") or clean_text(data.get("title", ""), 200)
            if data.get("success"):
                self._line(Text("■", "green"), title, f"completed in {data.get('duration', 0.0):.1f}s")
            else:
                self._line(outcome_mark("failed"), title, f"failed after {data.get('duration', 0.0):.1f}s")
        elif event_type == CANCEL_REQUESTED:
            phase_id = data.get("phase_id")
            path = self._path(phase_id) if phase_id else self._operations.get(data["operation_id"], "?")
            self._line(outcome_mark("cancelled"), path, "cancel requested")

    def _progress(self, data: dict[str, Any]) -> None:
        phase_id = data["phase_id"]
        elapsed = float(data.get("elapsed") or 0.0)
        if elapsed - self._last_line.get(phase_id, 0.0) < self._interval:
            return
        self._last_line[phase_id] = elapsed
        detail = _counted(data.get("current", 0), data.get("total"))
        if data.get("percentage") is not None:
            detail += f" {data['percentage']:.0f}%"
        if data.get("rate"):
            detail += f" {format_rate(data['rate'])}"
        if data.get("eta") is not None:
            detail += f" eta {format_duration(data['eta'])}"
        if data.get("message"):
            detail += f" — {clean_text(data['message'])}"
        self._line(Text("·", "bright_black"), self._path(phase_id, data.get("title")), detail)

    def _phase_finished(self, data: dict[str, Any]) -> None:
        phase_id = data["phase_id"]
        name = outcome_of(data.get("success"), data.get("reason"))
        counted = _counted(data.get("current", 0), data.get("total"))
        duration = float(data.get("duration") or 0.0)
        if name == "finished":
            detail = f"finished {counted} in {duration:.1f}s"
            rate = format_rate(data.get("rate"))
            detail += f" ({rate})" if rate else ""
        else:
            detail = f"{outcome_label(name, data.get('reason'))} at {counted} after {duration:.1f}s"
        self._line(outcome_mark(name), self._path(phase_id, data.get("title")), detail)
        self._phases.pop(phase_id, None)
        self._last_line.pop(phase_id, None)

    def _path(self, phase_id: str, fallback: object = None) -> str:
        """The titles from operation to phase; just ``fallback`` for a phase that began unseen."""
        if phase_id not in self._phases:
            return clean_text(fallback if fallback is not None else "?", 120)
        titles: list[str] = []
        entry = self._phases.get(phase_id)
        operation_id = None
        while entry is not None and len(titles) < 20:
            title, parent, operation_id = entry
            titles.append(title)
            entry = self._phases.get(parent) if parent else None
        if operation_id in self._operations:
            titles.append(self._operations[operation_id])
        return _SEPARATOR.join(reversed(titles)) or "?"

    def _line(self, mark: Text, subject: str, detail: str) -> None:
        line = Text(self._wall_clock().strftime("%H:%M:%S "), style="dim")
        line.append_text(mark)
        line.append(f" {subject}: ", style="bold")
        line.append(detail)
        self._console.print(line, soft_wrap=True, highlight=False)


def _counted(current: float, total: int | None) -> str:
    return format_count(current) if total is None else f"{format_count(current)}/{total}"
