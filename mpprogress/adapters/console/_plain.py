"""Plain, timestamped progress lines for output that is not a terminal (CI logs, pipes, files).

No cursor movement and no redraws: one line when an operation or phase starts or finishes, and
one line per ``plain_interval`` seconds of a running phase, so a CI log tells the story.  A phase
that goes quiet that long (no update, or updates too small to matter) gets a "still running"
line from ``heartbeat()``, which the console sink calls from a timer thread, so a long silent
step never looks like a hung job.

A worker's phase that the aggregator shows as stalled (its worker silent past the stall timeout:
in doubt, not final) gets one "stalled" line when the heartbeat first sees it so and one "heard
from again" line when it recovers, and no "still running" lines in between.  A phase that resumed
an earlier run says where on its start line ("resumed at 400/1,000").
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from rich.console import Console
from rich.text import Text

from ..._base.events import (
    CancelRequested,
    EventSink,
    OperationFinished,
    OperationStarted,
    PhaseFinished,
    PhaseStarted,
    ProgressEvent,
    ProgressUpdate,
)
from ..._base.formats import format_counted, format_percentage, format_seconds, percent_of
from ..._base.snapshot import PhaseSnapshot, TrackerSnapshot
from ..._base.text import clean_line
from ._plan import iter_phases
from ._text import STALLED, format_count, format_duration, format_rate, outcome_label, outcome_mark, verdict

__all__ = ["PlainLines"]

_SEPARATOR = " › "  # noqa: RUF001 - a path separator that reads well in logs
_MAX_DEPTH = 20  # how far up a path is followed: a parent cycle in bad remote data cannot hang us
_STALL_LOOK = 1.0  # seconds a worker's phase is quiet before the heartbeat looks whether it stalled


class PlainLines(EventSink):
    """Turns events into plain lines printed on ``console``.

    Events come from the tracker's delivery (one thread at a time, in order) and ``heartbeat()``
    from the sink's timer thread, so the bookkeeping and the printing share one lock.  Neither
    caller holds the tracker's lock.

    Args:
        console: where the lines go; printed as ``Text`` (no markup), never wrapped.
        interval: seconds between lines of one phase: progress lines by the phase's own clock,
            "still running" lines by ``get_time``.
        wall_clock: gives the timestamp of each line; inject a fixed one in tests.
        get_time: monotonic clock for how long a phase has printed nothing; inject a fake one
            in tests.
    """

    def __init__(
        self,
        console: Console,
        interval: float,
        wall_clock: Callable[[], datetime] = datetime.now,
        get_time: Callable[[], float] = time.monotonic,
    ) -> None:
        self._console = console
        self._interval = interval
        self._wall_clock = wall_clock
        self._get_time = get_time
        self._lock = threading.Lock()
        self._operations: dict[str, str] = {}
        self._phases: dict[str, tuple[str, str | None, str]] = {}  # id -> (title, parent, op)
        self._last_line: dict[str, float] = {}  # id -> the phase's elapsed at its latest line
        self._printed_at: dict[str, float] = {}  # id -> get_time() at its (or a sub-phase's) latest line
        self._outcomes: dict[str, Counter[str]] = {}  # operation id -> how its finished phases ended
        self._children: dict[str, tuple[float, int | None]] = {}  # id -> its finished sub-phases' sums
        self._heard: dict[str, float] = {}  # a worker's phase -> get_time() at its latest event
        self._stalled: set[str] = set()  # phases last seen stalled, until seen otherwise

    def handle(self, event: ProgressEvent) -> None:
        """Print the lines ``event`` calls for (none for most progress updates)."""
        with self._lock:
            self._event(event)

    def has_quiet_phase(self) -> bool:
        """Whether ``heartbeat()`` has something to look at: some phase has printed nothing for
        ``interval`` seconds, a worker's phase is quiet (it may have stalled), or one is stalled
        (it may recover).  Cheap, no snapshot."""
        with self._lock:
            now = self._get_time()
            quiet_since, unheard_since = now - self._interval, now - _STALL_LOOK
            return (bool(self._stalled) or any(heard <= unheard_since for heard in self._heard.values())
                    or any(printed <= quiet_since for printed in self._printed_at.values()))

    def heartbeat(self, snapshot: TrackerSnapshot) -> None:
        """Print a "still running" line for each running phase quiet for ``interval`` seconds.

        A phase whose sub-phase is also quiet gets no line of its own: the sub-phase's line
        names it, and counts as its line.

        Args:
            snapshot: the tracker's state now, for each phase's count and elapsed time.
        """
        with self._lock:
            quiet_since = self._get_time() - self._interval
            running = [
                phase
                for operation in snapshot.operations
                for phase, _ in iter_phases(operation)
                if not phase.finished and phase.phase_id in self._printed_at  # seen start, no finish yet
            ]
            self._stalls(running)
            quiet = [
                phase for phase in running if not phase.stalled and self._printed_at[phase.phase_id] <= quiet_since
            ]
            named = {parent for phase in quiet for parent in self._lineage(phase.phase_id)[1:]}
            for phase in quiet:
                if phase.phase_id in named:
                    continue
                self._last_line[phase.phase_id] = phase.elapsed  # the next progress line waits too
                counted = _counted(phase.rollup_current, phase.rollup_total)
                detail = f"still running at {counted} after {format_seconds(phase.elapsed)}"
                self._phase_line(phase.phase_id, Text("·", "bright_black"), detail)

    def _stalls(self, running: list[PhaseSnapshot]) -> None:
        """One line for each phase that stalled, or recovered, since the last heartbeat."""
        for phase in running:
            phase_id = phase.phase_id
            if phase.stalled == (phase_id in self._stalled):
                continue
            counted = _counted(phase.rollup_current, phase.rollup_total)
            if phase.stalled:
                self._stalled.add(phase_id)
                took = format_seconds(phase.elapsed)
                mark, detail = Text(STALLED[0], STALLED[1]), f"{STALLED[2]} (at {counted} after {took})"
            else:
                self._stalled.discard(phase_id)
                mark, detail = Text("·", "bright_black"), f"its worker is heard from again (at {counted})"
            self._last_line[phase_id] = phase.elapsed
            self._phase_line(phase_id, mark, detail)

    def _event(self, event: ProgressEvent) -> None:
        if isinstance(event, ProgressUpdate):
            if event.phase_id in self._heard:
                self._heard[event.phase_id] = self._get_time()
            self._progress(event)
        elif isinstance(event, PhaseStarted):
            phase_id = event.phase_id
            self._phases[phase_id] = (clean_line(event.title, 120), event.parent_phase_id, event.operation_id)
            self._last_line[phase_id] = 0.0
            if event.worker is not None:
                self._heard[phase_id] = self._get_time()
            detail = f"started (total {'unknown' if event.total is None else format_count(event.total)})"
            if event.resumed_from is not None:
                detail += f", resumed at {_counted(event.resumed_from, event.total)}"
            self._phase_line(phase_id, Text("▸", "cyan"), detail)
        elif isinstance(event, PhaseFinished):
            self._phase_finished(event)
        elif isinstance(event, OperationStarted):
            title = clean_line(event.title, 200)
            self._operations[event.operation_id] = title
            detail = "started" + (f" — {clean_line(event.description)}" if event.description else "")
            self._line(Text("▶", "bold cyan"), title, detail)
        elif isinstance(event, OperationFinished):
            title = self._operations.pop(event.operation_id, "") or clean_line(event.title, 200)
            counts = self._outcomes.pop(event.operation_id, Counter())
            result = verdict(event.success, event.reason, Counter(event.phase_outcomes) or counts)
            verb, took = result.verb.lower(), format_seconds(event.duration)
            detail = f"{verb} after {took}{result.suffix}"
            self._line(result.mark(), title, detail)
        elif isinstance(event, CancelRequested):
            if event.phase_id:
                self._phase_line(event.phase_id, outcome_mark("cancelled"), "cancel requested")
            else:
                operation = self._operations.get(event.operation_id, "?")
                self._line(outcome_mark("cancelled"), operation, "cancel requested")

    def _progress(self, event: ProgressUpdate) -> None:
        phase_id = event.phase_id
        if event.elapsed - self._last_line.get(phase_id, 0.0) < self._interval:
            return
        self._last_line[phase_id] = event.elapsed
        detail = _counted(event.current, event.total)
        if event.percentage is not None:  # the event's is capped at 100: past its total it says 250%
            detail += f" {format_percentage(percent_of(event.current, event.total))}"
        if event.rate:
            detail += f" {format_rate(event.rate)}"
        left = event.total is None or event.current < event.total
        if event.eta is not None and left:  # no ETA once no work is left
            detail += f" eta {format_duration(event.eta)}"
        if event.message:
            detail += f" — {clean_line(event.message)}"
        self._phase_line(phase_id, Text("·", "bright_black"), detail, event.title)

    def _phase_finished(self, event: PhaseFinished) -> None:
        phase_id = event.phase_id
        name = event.outcome  # the one vocabulary's word (outcomes.py)
        self._outcomes.setdefault(event.operation_id, Counter())[name] += 1
        current, total, rate = self._rolled_up(event)
        counted = _counted(current, total)
        if name == "succeeded":
            detail = f"succeeded {counted} in {format_seconds(event.duration)}"
            shown = format_rate(rate)
            detail += f" ({shown})" if shown else ""
        else:
            detail = f"{outcome_label(name, event.reason)} at {counted} after {format_seconds(event.duration)}"
        self._phase_line(phase_id, outcome_mark(name), detail, event.title)
        self._phases.pop(phase_id, None)
        self._last_line.pop(phase_id, None)
        self._printed_at.pop(phase_id, None)
        self._heard.pop(phase_id, None)
        self._stalled.discard(phase_id)

    def _rolled_up(self, event: PhaseFinished) -> tuple[float, int | None, float | None]:
        """The count, total and rate a finished phase is shown with, as the snapshot rolls them up.

        A phase without a total of its own, whose sub-phases finished before it, counts their
        items (its own too) and their totals (unknown if one is); its rate is that count over
        its duration.  Every phase's shown count is added to its parent's tally.
        """
        current: float = event.current
        total, rate = event.total, event.rate
        children = self._children.pop(event.phase_id, None)
        if children is not None and total is None:
            current += children[0]
            total = children[1]
            rate = current / event.duration if event.duration > 0 else None
        parent = event.parent_phase_id
        if parent is not None:
            tally = self._children.get(parent, (0, 0))
            summed = None if tally[1] is None or total is None else tally[1] + total
            self._children[parent] = (tally[0] + current, summed)
        return current, total, rate

    def _path(self, phase_id: str, fallback: object = None) -> str:
        """The titles from operation to phase; just ``fallback`` for a phase that began unseen."""
        lineage = self._lineage(phase_id)
        if not lineage:
            return clean_line(fallback if fallback is not None else "?", 120)
        titles = [self._phases[known][0] for known in reversed(lineage)]
        _, parent, operation_id = self._phases[lineage[-1]]
        if parent in self._phases and len(lineage) >= _MAX_DEPTH:
            titles.insert(0, "…")  # nested deeper than a line names
        if operation_id in self._operations:
            titles.insert(0, self._operations[operation_id])
        return _SEPARATOR.join(titles) or "?"

    def _lineage(self, phase_id: str) -> list[str]:
        """``phase_id`` and its known parents, innermost first; empty for an unseen phase."""
        lineage: list[str] = []
        current: str | None = phase_id
        while current in self._phases and len(lineage) < _MAX_DEPTH:
            lineage.append(current)
            current = self._phases[current][1]
        return lineage

    def _phase_line(self, phase_id: str, mark: Text, detail: str, fallback: object = None) -> None:
        """One line about a phase; it names the phase's parents, so it counts as theirs too."""
        self._line(mark, self._path(phase_id, fallback), detail)
        printed = self._get_time()
        for known in self._lineage(phase_id):
            self._printed_at[known] = printed

    def _line(self, mark: Text, subject: str, detail: str) -> None:
        now = self._wall_clock()  # no strftime: it imports a module, which fails at interpreter exit
        line = Text(f"{now.hour:02d}:{now.minute:02d}:{now.second:02d} ", style="dim")
        line.append_text(mark)
        line.append(f" {subject}: ", style="bold")
        line.append(detail)
        self._console.print(line, soft_wrap=True, highlight=False)


def _counted(current: float, total: int | None) -> str:
    return format_counted(current, total, format_count)
