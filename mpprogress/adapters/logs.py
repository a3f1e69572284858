"""Structured logging output: one log record per progress event, throttled per phase.

Works with the standard library's ``logging`` (the event's fields become attributes of the
record through ``extra``, and the whole event is at ``record.progress``) and with structlog-style
loggers (anything whose ``info(event, **fields)`` methods take keyword fields).
"""

from __future__ import annotations

import logging
from typing import Any

from .._base.events import (
    EVENT_TYPES,
    CancelRequested,
    EventSink,
    OperationFinished,
    PhaseFinished,
    PhaseStarted,
    ProgressEvent,
    ProgressEventSerializer,
    ProgressUpdate,
)
from .._base.formats import format_counted, format_percentage, format_seconds, percent_of
from .._base.outcomes import is_detail
from . import TrackerWithSinks

__all__ = ["LoggingProgressTracker", "LoggingSink"]

# Attributes a LogRecord already has: event fields with these names get a "progress_" prefix.
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_PERFORMANCE_FIELDS = ("rate", "peak_rate", "eta", "elapsed")


def _describe(event: ProgressEvent) -> str:
    if isinstance(event, CancelRequested):
        return f"cancel requested: {event.operation_id}"
    title = event.title or event.operation_id
    if isinstance(event, ProgressUpdate):
        text = f"progress {title}: {format_counted(event.current, event.total, str)}"  # 25/10 (+15 over)
        if event.percentage is not None:  # the event's is capped at 100: past its total it says 250%
            text += f" ({format_percentage(percent_of(event.current, event.total))})"
        return text + (f" - {event.message}" if event.message else "")
    if isinstance(event, (PhaseFinished, OperationFinished)):
        what = "phase" if isinstance(event, PhaseFinished) else "operation"
        result = event.outcome + (f" ({event.reason})" if is_detail(event.reason) else "")  # outcomes.py
        return f"{what} {result}: {title} in {format_seconds(event.duration)}"
    what = "phase" if isinstance(event, PhaseStarted) else "operation"
    return f"{what} started: {title}"


class LoggingSink(EventSink):
    """Logs every progress event; ``progress_update`` at most once per ``min_interval`` per phase.

    Each phase's first update is logged at once, later ones when ``min_interval`` seconds (of the
    tracker's clock, from the event's ``elapsed``) have passed since the last one logged.  The
    ``phase_finished`` record always carries the phase's final count.

    Args:
        logger: a ``logging.Logger``, a logger name, or a structlog-style logger; the
            ``"mpprogress.progress"`` logger by default.
        level: level of ordinary events; failures are logged at ``WARNING`` or above.
        json_lines: make each message one line of JSON (``{"type", "timestamp", "data"}``).
        min_interval: seconds between logged progress updates of one phase.
        include_performance_metrics: include rate, peak rate, eta and elapsed in the fields.
    """

    def __init__(
        self,
        logger: logging.Logger | logging.LoggerAdapter[Any] | str | Any = None,
        *,
        level: int | str = logging.INFO,
        json_lines: bool = False,
        min_interval: float = 1.0,
        include_performance_metrics: bool = True,
    ) -> None:
        if logger is None or isinstance(logger, str):
            logger = logging.getLogger(logger or "mpprogress.progress")
        if isinstance(level, str):
            resolved = logging.getLevelName(level.upper())
            if not isinstance(resolved, int):
                raise ValueError(f"unknown logging level {level!r}")
            level = resolved
        if min_interval < 0:
            raise ValueError(f"min_interval must be >= 0, got {min_interval!r}")
        self.logger = logger
        self.level = level
        self.json_lines = json_lines
        self.min_interval = min_interval
        self.include_performance_metrics = include_performance_metrics
        self._stdlib = isinstance(logger, (logging.Logger, logging.LoggerAdapter))
        self._last_logged: dict[str, float] = {}
        self._closed = False

    def handle(self, event: ProgressEvent) -> None:
        """Log ``event`` unless it is a progress update too soon after the phase's last one."""
        if self._closed or event.type not in EVENT_TYPES:  # a type added later: not known here
            return
        if isinstance(event, ProgressUpdate):
            last = self._last_logged.get(event.phase_id)
            if last is not None and event.elapsed - last < self.min_interval:
                return
            self._last_logged[event.phase_id] = event.elapsed
        elif isinstance(event, PhaseFinished):
            self._last_logged.pop(event.phase_id, None)
        level = self.level
        if isinstance(event, (PhaseFinished, OperationFinished)) and event.outcome != "succeeded":
            level = max(level, logging.WARNING)
        self._emit(level, event)

    def _emit(self, level: int, event: ProgressEvent) -> None:
        data = event.to_data()
        if not self.include_performance_metrics:
            for name in _PERFORMANCE_FIELDS:
                data.pop(name, None)
        message = ProgressEventSerializer.serialize_event(event.type, **data) if self.json_lines else _describe(event)
        fields = {"event_type": event.type, **data}
        if self._stdlib:
            extra = {(f"progress_{k}" if k in _RESERVED else k): v for k, v in fields.items()}
            extra["progress"] = fields
            self.logger.log(level, "%s", message, extra=extra)
        else:
            # structlog and friends: keyword fields, method per level ("info", "warning"...).
            method = getattr(self.logger, logging.getLevelName(level).lower(), None) or self.logger.info
            method(message, **{(f"progress_{k}" if k == "event" else k): v for k, v in fields.items()})

    def close(self) -> None:
        """Stop logging. Idempotent."""
        self._closed = True
        self._last_logged.clear()


class LoggingProgressTracker(TrackerWithSinks):
    """A local tracker whose events go to ``logging`` through a ``LoggingSink``.

    Args:
        logger: see ``LoggingSink``.
        level: see ``LoggingSink``.
        json_lines: see ``LoggingSink``.
        min_interval: see ``LoggingSink``.
        include_performance_metrics: see ``LoggingSink``.
        **tracker_kwargs: passed to ``BaseProgressTracker``.
    """

    def __init__(
        self,
        logger: logging.Logger | str | Any = None,
        *,
        level: int | str = logging.INFO,
        json_lines: bool = False,
        min_interval: float = 1.0,
        include_performance_metrics: bool = True,
        **tracker_kwargs: Any,
    ) -> None:
        super().__init__(**tracker_kwargs)
        self.sink = LoggingSink(
            logger,
            level=level,
            json_lines=json_lines,
            min_interval=min_interval,
            include_performance_metrics=include_performance_metrics,
        )
        self.attach(self.sink)
