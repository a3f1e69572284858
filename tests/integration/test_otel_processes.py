"""Worker processes' phases become spans under the user's span in the parent (fork, spawn, forkserver)."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import mpprogress
from mpprogress.adapters.otel import OpenTelemetrySink
from tests.integration import workers
from tests.integration.conftest import wait_for

PHASES, ITEMS = 2, 20


def items_counted(reader: InMemoryMetricReader) -> float:
    data = reader.get_metrics_data()
    return sum(
        point.value
        for resource in (data.resource_metrics if data else ())
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "mpprogress.phase.items"
        for point in metric.data.data_points
    )


def test_worker_phases_are_children_of_the_users_span(mp_context: BaseContext) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    sink = OpenTelemetrySink(provider, MeterProvider(metric_readers=[reader]))
    tracer = provider.get_tracer("user")
    worker_phases = 2 * PHASES + 2 * 3  # two report_phases tasks, two nested_phases tasks (outer + a + b)
    with mpprogress.session(console=False, sinks=(sink,)) as tracker:
        with tracer.start_as_current_span("request") as request, tracker.operation("job") as op:
            with ProcessPoolExecutor(4, mp_context=mp_context) as pool:
                futures = [pool.submit(workers.report_phases, op.operation_id, PHASES, ITEMS) for _ in range(2)]
                futures += [pool.submit(workers.nested_phases, op.operation_id, ITEMS) for _ in range(2)]
                pids = {future.result(timeout=60) for future in futures}
            assert wait_for(lambda: len(exporter.get_finished_spans()) >= worker_phases)
    sink.close()
    spans = exporter.get_finished_spans()
    assert len(spans) == worker_phases + 2  # and the operation, and the user's span (same exporter)
    by_id = {span.context.span_id: span for span in spans}
    (job,) = [span for span in spans if span.name == "job"]
    assert job.parent is not None and job.parent.span_id == request.get_span_context().span_id
    assert {span.context.trace_id for span in spans} == {request.get_span_context().trace_id}
    flat = [span for span in spans if span.name.split("-")[0].isdigit()]
    assert len(flat) == 2 * PHASES
    assert all(span.parent is not None and span.parent.span_id == job.context.span_id for span in flat)
    outers = [span for span in spans if span.name.startswith("outer ")]
    assert len(outers) == 2 and {int(s.name.split()[1]) for s in outers} <= pids
    for outer in outers:
        assert outer.parent is not None and outer.parent.span_id == job.context.span_id
        inner = sorted(s.name for s in spans if s.parent is not None and s.parent.span_id == outer.context.span_id)
        assert inner == ["inner a", "inner b"]
    for span in spans:
        assert span.status.status_code is StatusCode.UNSET
        assert span.start_time is not None and span.end_time is not None and span.start_time <= span.end_time
        if span.parent is not None and span.parent.span_id in by_id:
            parent = by_id[span.parent.span_id]
            assert parent.start_time is not None and parent.start_time <= span.start_time
    # leaves only: 2 tasks x PHASES x ITEMS, and 2 tasks x 2 inner phases x ITEMS
    assert items_counted(reader) == 2 * PHASES * ITEMS + 2 * 2 * ITEMS
