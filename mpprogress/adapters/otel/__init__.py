"""Progress as OpenTelemetry traces and metrics (the optional extra ``mpprogress[otel]``).

Traces: one span per operation, one child span per phase (sub-phases under their phase, any
depth).  A span's start is the wall clock (``time.time_ns()``) when the sink saw the
``*_started`` event; its end is that start plus the event's own ``duration`` (the tracker's
monotonic measure, so durations are exact), never later than when the sink saw the end.
Local phases are delivered synchronously, so their starts are within microseconds; a worker's
phase starts when the parent learnt of it (within one flush interval, about 0.1 s).

Names follow the CI/CD semantic conventions where one fits: an operation is a pipeline run
(``cicd.pipeline.name`` = title, ``cicd.pipeline.run.id``, ``cicd.pipeline.result``), a phase a
task run (``cicd.pipeline.task.name``, ``cicd.pipeline.task.run.id``,
``cicd.pipeline.task.run.result``).  Departures (no convention exists): ``mpprogress.total``,
``mpprogress.current`` (final count), ``mpprogress.outcome`` (the outcome's word, ``outcomes.py``)
and ``mpprogress.reason``; a worker's host and pid are the resource conventions' ``host.name``
and ``process.pid``, set on the span.  A span that did not succeed has status ERROR described by
its reason (an exception's ``"RuntimeError: boom"``) or else its outcome's word (incomplete,
cancelled, lost, interrupted).

Parenting: the operation span's parent is the context current in the thread that *delivers*
``operation_started``.  That is the thread that started the operation, except while another
thread is delivering this tracker's events at that instant (the aggregator thread applying
worker updates, say): then the operation is delivered by that thread and its span is a root.
Phases (a worker's included) are children of their operation's span, so in a trace viewer the
workers' phases sit under the job that started them.

Cost: a ``progress_update`` is a dict lookup and two additions (items are reported by an
observable counter at collection time); span work happens only at starts and ends.  The sink
never exports: spans go to the provider's span processors, so configure a
``BatchSpanProcessor`` (its ``on_end`` only queues; a full queue drops spans rather than
blocking).  A ``SimpleSpanProcessor`` exports in the thread that ends the span.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import Span, Status, StatusCode, TracerProvider

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
from ..._base.outcomes import INCOMPLETE, INTERRUPTED, SUCCEEDED, is_detail
from ._metrics import OtelMetrics, PhaseGauge, result_of

__all__ = ["OpenTelemetrySink"]

_SCOPE = "mpprogress"
_EXECUTING = {"cicd.pipeline.run.state": "executing"}
_FINALIZING = {"cicd.pipeline.run.state": "finalizing"}


@dataclass(slots=True)
class _Open:
    """An operation or phase whose span is open."""

    span: Span
    context: otel_context.Context  # what its children are parented to
    start_ns: int
    name: str  # the (capped) operation title used as a metric attribute
    gauge: PhaseGauge | None = None  # phases only
    counted: float = 0.0  # the highest count already added to the items counter
    leaf: bool = True  # a phase with sub-phases is not counted (its roll-up would count twice)
    state: Mapping[str, str] = field(default_factory=lambda: _EXECUTING)


class OpenTelemetrySink(EventSink):
    """Turns progress events into OpenTelemetry spans and metrics.

    Args:
        tracer_provider: where spans go; the global provider when ``None``.
        meter_provider: where metrics go; the global provider when ``None``.
        max_labelled_phases: running phases that the ``mpprogress.phase.current``/``total``
            gauges report one series each (the oldest running); the rest are one ``"other"``
            series.
        max_operation_names: distinct operation titles used as metric attribute values; more
            titles are reported as ``"other"``.
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        *,
        max_labelled_phases: int = 20,
        max_operation_names: int = 100,
    ) -> None:
        self._tracer = trace.get_tracer(_SCOPE, tracer_provider=tracer_provider)
        meter = metrics.get_meter(_SCOPE, meter_provider=meter_provider)
        self._lock = threading.Lock()
        self._operations: dict[str, _Open] = {}
        self._phases: dict[tuple[str, str], _Open] = {}  # insertion order: oldest first
        self._metrics = OtelMetrics(
            meter, self._lock, self._gauges, max_labelled_phases, max_operation_names
        )
        self._handlers: dict[str, Any] = {
            ProgressUpdate.type: self._updated,
            OperationStarted.type: self._operation_started,
            PhaseStarted.type: self._phase_started,
            PhaseFinished.type: self._phase_finished,
            OperationFinished.type: self._operation_finished,
            CancelRequested.type: self._cancel_requested,
        }

    def handle(self, event: ProgressEvent) -> None:
        """Start, update or end the span and metrics that ``event`` concerns."""
        handler = self._handlers.get(event.type)
        if handler is not None:  # a type added later: not known here
            handler(event)

    def close(self) -> None:
        """End every span still open with status ERROR ("interrupted"). Idempotent."""
        now = time.time_ns()
        with self._lock:
            phases, self._phases = list(self._phases.values()), {}
            operations, self._operations = list(self._operations.values()), {}
        for record in reversed(phases):
            self._metrics.phases_active.add(-1, record.state)
            _end(record.span, now, INTERRUPTED.word, None, "cicd.pipeline.task.run.result")
        for record in operations:
            self._metrics.runs_active.add(-1, {**record.state, "cicd.pipeline.name": record.name})
            _end(record.span, now, INTERRUPTED.word, None, "cicd.pipeline.result")

    # --- events ------------------------------------------------------------------------------

    def _updated(self, event: ProgressUpdate) -> None:
        record = self._phases.get((event.operation_id, event.phase_id))
        if record is None or record.gauge is None:
            return
        record.gauge.current = event.current
        record.gauge.total = event.total
        if record.leaf and event.current > record.counted:
            self._count(record, event.current)

    def _count(self, record: _Open, current: float) -> None:
        items = self._metrics.items
        with self._lock:
            items[record.name] = items.get(record.name, 0) + (current - record.counted)
        record.counted = current

    def _operation_started(self, event: OperationStarted) -> None:
        start = time.time_ns()
        name = self._metrics.name(event.title)
        attributes = {"cicd.pipeline.name": event.title, "cicd.pipeline.run.id": event.operation_id}
        span = self._tracer.start_span(
            event.title or "operation", context=otel_context.get_current(),
            attributes=attributes, start_time=start,
        )
        record = _Open(span, trace.set_span_in_context(span), start, name)
        with self._lock:
            self._operations[event.operation_id] = record
        self._metrics.runs_active.add(1, {**_EXECUTING, "cicd.pipeline.name": name})

    def _phase_started(self, event: PhaseStarted) -> None:
        start = time.time_ns()
        operation = self._operations.get(event.operation_id)
        key = (event.operation_id, event.phase_id)
        parent = operation
        if event.parent_phase_id is not None:
            parent = self._phases.get((event.operation_id, event.parent_phase_id), operation)
        attributes: dict[str, Any] = {
            "cicd.pipeline.task.name": event.title,
            "cicd.pipeline.task.run.id": event.phase_id,
            "cicd.pipeline.run.id": event.operation_id,
        }
        if event.total is not None:
            attributes["mpprogress.total"] = event.total
        attributes.update(_worker_attributes(getattr(event, "worker", None)))
        span = self._tracer.start_span(
            event.title or "phase",
            # no known parent: a root span (not the delivering thread's context, which may be
            # unrelated, e.g. the aggregator thread's)
            context=parent.context if parent is not None else otel_context.Context(),
            attributes=attributes, start_time=start,
        )
        name = operation.name if operation is not None else self._metrics.name("")
        gauge = PhaseGauge(event.phase_id, event.title, 0, event.total)
        record = _Open(span, trace.set_span_in_context(span), start, name, gauge)
        with self._lock:
            self._phases[key] = record
            if parent is not None and parent.gauge is not None:
                parent.leaf = False
        self._metrics.phases_active.add(1, _EXECUTING)

    def _phase_finished(self, event: PhaseFinished) -> None:
        key = (event.operation_id, event.phase_id)
        with self._lock:
            record = self._phases.pop(key, None)
        if record is None:
            return
        if record.leaf and event.current > record.counted:
            self._count(record, event.current)
        result = result_of(event.outcome)
        self._metrics.phases_active.add(-1, record.state)
        self._metrics.phase_duration.record(
            event.duration, {"cicd.pipeline.name": record.name, "cicd.pipeline.result": result}
        )
        span = record.span
        span.set_attribute("mpprogress.current", event.current)
        if event.total is not None:
            span.set_attribute("mpprogress.total", event.total)
        end = _end_time(record.start_ns, event.duration)
        _end(span, end, event.outcome, event.reason, "cicd.pipeline.task.run.result")

    def _operation_finished(self, event: OperationFinished) -> None:
        with self._lock:
            record = self._operations.pop(event.operation_id, None)
            # phases never finished (a worker gone without a word) end with their operation
            orphans = [k for k in self._phases if k[0] == event.operation_id] if record else []
            leftovers = [self._phases.pop(k) for k in orphans]
        if record is None:
            return
        end = _end_time(record.start_ns, event.duration)
        for phase in reversed(leftovers):
            self._metrics.phases_active.add(-1, phase.state)
            _end(phase.span, end, INCOMPLETE.word, "unfinished", "cicd.pipeline.task.run.result")
        result = result_of(event.outcome)
        self._metrics.runs_active.add(-1, {**record.state, "cicd.pipeline.name": record.name})
        self._metrics.run_duration.record(
            event.duration, {"cicd.pipeline.name": record.name, "cicd.pipeline.result": result}
        )
        _end(record.span, end, event.outcome, event.reason, "cicd.pipeline.result")

    def _cancel_requested(self, event: CancelRequested) -> None:
        """A cancelled operation or phase is ``finalizing`` until it ends."""
        if event.phase_id is None:
            record = self._operations.get(event.operation_id)
            if record is not None and record.state is _EXECUTING:
                name = {"cicd.pipeline.name": record.name}
                self._metrics.runs_active.add(-1, {**_EXECUTING, **name})
                self._metrics.runs_active.add(1, {**_FINALIZING, **name})
                record.state = _FINALIZING
            with self._lock:
                targets = [k for k in self._phases if k[0] == event.operation_id]
        else:
            targets = [(event.operation_id, event.phase_id)]
        for key in targets:
            phase = self._phases.get(key)
            if phase is not None and phase.state is _EXECUTING:
                self._metrics.phases_active.add(-1, _EXECUTING)
                self._metrics.phases_active.add(1, _FINALIZING)
                phase.state = _FINALIZING

    def _gauges(self) -> Iterable[PhaseGauge]:
        """The running phases, oldest first (called under the lock by the metric reader)."""
        return [record.gauge for record in self._phases.values() if record.gauge is not None]


def _end_time(start_ns: int, duration: float) -> int:
    """The start plus the event's duration, never later than now."""
    return min(start_ns + int(duration * 1e9), time.time_ns())


def _end(span: Span, end_ns: int, outcome: str, reason: str | None, result_key: str) -> None:
    """End a span with its outcome's word (``mpprogress.outcome``), the conventions' result and,
    unless it succeeded, status ERROR described by the reason (``"RuntimeError: boom"``) or the
    word."""
    span.set_attribute(result_key, result_of(outcome))
    span.set_attribute("mpprogress.outcome", outcome)
    if outcome != SUCCEEDED.word:
        why = reason if is_detail(reason) else outcome
        span.set_attribute("mpprogress.reason", why or outcome)
        span.set_status(Status(StatusCode.ERROR, why or outcome))
    span.end(end_time=end_ns)


def _worker_attributes(worker: Any) -> dict[str, Any]:
    """``host.name``/``process.pid`` of a worker given as an object or a mapping, if any."""
    if worker is None:
        return {}
    if isinstance(worker, Mapping):
        host, pid = worker.get("host"), worker.get("pid")
    else:
        host, pid = getattr(worker, "host", None), getattr(worker, "pid", None)
    found: dict[str, Any] = {}
    if isinstance(host, str):
        found["host.name"] = host
    if isinstance(pid, int):
        found["process.pid"] = pid
    return found
