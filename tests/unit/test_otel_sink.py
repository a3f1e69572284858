"""The OpenTelemetry sink, against the SDK's in-memory span exporter and metric reader."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from mpprogress._base.events import (
    CancelRequested,
    OperationFinished,
    OperationStarted,
    PhaseFinished,
    PhaseStarted,
    ProgressUpdate,
    Worker,
)
from mpprogress._core.tracker import BaseProgressTracker
from mpprogress.adapters.otel import OpenTelemetrySink


@dataclass
class Otel:
    """A sink wired to in-memory exporters."""

    sink: OpenTelemetrySink
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    provider: TracerProvider

    def finished(self) -> dict[str, ReadableSpan]:
        return {span.name: span for span in self.spans.get_finished_spans()}

    def points(self, name: str) -> dict[tuple[tuple[str, Any], ...], Any]:
        """Data points of metric ``name`` by sorted attributes: value, or the histogram point."""
        found: dict[tuple[tuple[str, Any], ...], Any] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        for point in metric.data.data_points:
                            key = tuple(sorted(point.attributes.items()))
                            found[key] = getattr(point, "value", point)
        return found


@pytest.fixture
def otel() -> Iterator[Otel]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    sink = OpenTelemetrySink(provider, MeterProvider(metric_readers=[reader]), max_labelled_phases=2)
    yield Otel(sink, spans, reader, provider)
    sink.close()


def test_span_tree_of_nested_phases(otel: Otel) -> None:
    tracker = BaseProgressTracker()
    tracker.add_callback(otel.sink)
    with tracker.operation("job") as op, op.phase("outer") as outer:
        with outer.phase("inner", total=3) as inner:
            with inner.phase("deepest", total=2) as deepest:
                deepest.update(2)
            inner.update(3)
        with outer.phase("second", total=1) as second:
            second.update(1)
    spans = otel.finished()
    assert set(spans) == {"job", "outer", "inner", "deepest", "second"}
    parents = {name: span.parent.span_id if span.parent else None for name, span in spans.items()}
    ids = {name: span.context.span_id for name, span in spans.items()}
    assert parents == {
        "job": None, "outer": ids["job"], "inner": ids["outer"], "deepest": ids["inner"], "second": ids["outer"],
    }
    assert len({span.context.trace_id for span in spans.values()}) == 1
    job, inner = spans["job"], spans["inner"]
    assert job.attributes is not None and inner.attributes is not None
    assert dict(job.attributes) == {
        "cicd.pipeline.name": "job", "cicd.pipeline.run.id": op.operation_id, "cicd.pipeline.result": "success",
        "mpprogress.outcome": "succeeded",
    }
    assert inner.attributes["mpprogress.total"] == 3 and inner.attributes["mpprogress.current"] == 3
    assert inner.attributes["cicd.pipeline.task.name"] == "inner"
    assert inner.attributes["cicd.pipeline.task.run.result"] == "success"
    assert all(span.status.status_code is StatusCode.UNSET for span in spans.values())


def test_times_come_from_the_events(otel: Otel) -> None:
    before = time.time_ns()
    otel.sink.handle(OperationStarted("op", "job"))
    otel.sink.handle(PhaseStarted("op", "p", title="work", total=1))
    time.sleep(0.03)  # the sink sees the end after it happened: the span lasts the event's duration
    otel.sink.handle(PhaseFinished("op", "p", title="work", duration=0.0125, current=1, total=1))
    otel.sink.handle(OperationFinished("op", "job", duration=0.02))
    spans = otel.finished()
    work, job = spans["work"], spans["job"]
    assert work.start_time is not None and work.end_time is not None
    assert job.start_time is not None and job.end_time is not None
    assert before <= job.start_time <= work.start_time
    assert work.end_time - work.start_time == 12_500_000
    assert job.end_time - job.start_time == 20_000_000


def test_an_end_is_never_later_than_when_the_sink_saw_it(otel: Otel) -> None:
    otel.sink.handle(OperationStarted("op", "job"))
    otel.sink.handle(OperationFinished("op", "job", duration=3600.0))
    job = otel.finished()["job"]
    assert job.start_time is not None and job.end_time is not None
    assert job.end_time <= time.time_ns() and job.end_time - job.start_time < 3_600_000_000_000


@pytest.mark.parametrize("reason,result,outcome", [
    ("error", "failure", "failed"), ("failed", "failure", "failed"), ("cancelled", "cancellation", "cancelled"),
    ("lost", "error", "lost"), ("interrupted", "error", "interrupted"),
])
def test_statuses_carry_the_reason(otel: Otel, reason: str, result: str, outcome: str) -> None:
    otel.sink.handle(OperationStarted("op", "job"))
    otel.sink.handle(PhaseStarted("op", "p", title="work"))
    otel.sink.handle(PhaseFinished("op", "p", title="work", success=False, reason=reason))
    otel.sink.handle(OperationFinished("op", "job", success=False, reason=reason))
    for span in otel.finished().values():
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == outcome  # the outcome's word: the reason adds nothing
        assert span.attributes is not None and span.attributes["mpprogress.reason"] == outcome
        assert span.attributes["mpprogress.outcome"] == outcome
    work = otel.finished()["work"]
    assert work.attributes is not None and work.attributes["cicd.pipeline.task.run.result"] == result


def test_failed_phase_of_a_real_tracker(otel: Otel) -> None:
    tracker = BaseProgressTracker()
    tracker.add_callback(otel.sink)
    with pytest.raises(ValueError), tracker.operation("job") as op, op.phase("boom"):
        raise ValueError("x")
    spans = otel.finished()
    assert spans["boom"].status.status_code is StatusCode.ERROR
    assert spans["boom"].status.description == "ValueError: x"  # the exception, kept
    assert spans["boom"].attributes is not None
    assert spans["boom"].attributes["cicd.pipeline.task.run.result"] == "failure"
    assert spans["boom"].attributes["mpprogress.outcome"] == "failed"
    assert spans["boom"].attributes["mpprogress.reason"] == "ValueError: x"
    assert spans["job"].status.status_code is StatusCode.ERROR


def test_a_phase_short_of_its_total_is_incomplete_and_so_is_its_operation(otel: Otel) -> None:
    tracker = BaseProgressTracker()
    tracker.add_callback(otel.sink)
    with tracker.operation("job") as op, op.phase("short", total=2) as phase:
        phase.update(1)
    spans = otel.finished()
    for name in ("short", "job"):
        assert spans[name].attributes is not None and spans[name].attributes["mpprogress.outcome"] == "incomplete"
        assert spans[name].status.status_code is StatusCode.ERROR
        assert spans[name].status.description == "incomplete"
    assert spans["short"].attributes is not None
    assert spans["short"].attributes["cicd.pipeline.task.run.result"] == "failure"


def test_operation_is_child_of_the_users_span(otel: Otel) -> None:
    tracker = BaseProgressTracker()
    tracker.add_callback(otel.sink)
    tracer = otel.provider.get_tracer("user")
    with tracer.start_as_current_span("request") as request:
        with tracker.operation("job") as op, op.phase("p", total=1) as phase:
            phase.update(1)
    spans = otel.finished()
    assert spans["job"].parent is not None
    assert spans["job"].parent.span_id == request.get_span_context().span_id
    assert spans["p"].parent is not None and spans["p"].parent.span_id == spans["job"].context.span_id


def test_phase_from_another_thread_is_a_child_of_the_operation(otel: Otel) -> None:
    tracker = BaseProgressTracker()
    tracker.add_callback(otel.sink)
    with tracker.operation("job") as op:
        def work() -> None:
            with op.phase("threaded", total=1) as phase:
                phase.update(1)
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    spans = otel.finished()
    assert spans["threaded"].parent is not None
    assert spans["threaded"].parent.span_id == spans["job"].context.span_id


def test_worker_host_and_pid(otel: Otel) -> None:
    otel.sink.handle(OperationStarted("op", "job"))
    otel.sink.handle(PhaseStarted("op", "p", title="remote", worker=Worker("box", 42)))
    otel.sink.close()
    remote = otel.finished()["remote"]
    assert remote.attributes is not None
    assert (remote.attributes["host.name"], remote.attributes["process.pid"]) == ("box", 42)


def test_metrics_exact(otel: Otel) -> None:
    sink = otel.sink
    sink.handle(OperationStarted("op", "job"))
    sink.handle(PhaseStarted("op", "a", title="a", total=10))
    sink.handle(PhaseStarted("op", "b", title="b", total=5))
    sink.handle(PhaseStarted("op", "c", title="c"))
    sink.handle(PhaseStarted("op", "c1", parent_phase_id="c", title="c1", total=4))
    sink.handle(ProgressUpdate("op", "a", title="a", current=3, total=10))
    sink.handle(ProgressUpdate("op", "a", title="a", current=7, total=10))
    sink.handle(ProgressUpdate("op", "b", title="b", current=2, total=5))
    sink.handle(ProgressUpdate("op", "c1", parent_phase_id="c", title="c1", current=4, total=4))
    sink.handle(ProgressUpdate("op", "c", title="c", current=4))  # a roll-up: not counted again
    # while running
    assert otel.points("mpprogress.phase.items") == {(("cicd.pipeline.name", "job"),): 13}
    state = "cicd.pipeline.run.state"
    assert otel.points("mpprogress.phase.active") == {((state, "executing"),): 4}
    assert otel.points("cicd.pipeline.run.active") == {(("cicd.pipeline.name", "job"), (state, "executing")): 1}
    current = otel.points("mpprogress.phase.current")
    # max_labelled_phases=2: a and b labelled, c and c1 folded into "other"
    assert current == {
        (("cicd.pipeline.task.name", "a"), ("cicd.pipeline.task.run.id", "a")): 7,
        (("cicd.pipeline.task.name", "b"), ("cicd.pipeline.task.run.id", "b")): 2,
        (("cicd.pipeline.task.name", "other"), ("cicd.pipeline.task.run.id", "other")): 8,
    }
    total = otel.points("mpprogress.phase.total")
    assert total[(("cicd.pipeline.task.name", "other"), ("cicd.pipeline.task.run.id", "other"))] == 4
    sink.handle(CancelRequested("op", "b"))
    assert otel.points("mpprogress.phase.active") == {((state, "executing"),): 3, ((state, "finalizing"),): 1}
    sink.handle(PhaseFinished("op", "a", title="a", duration=1.5, current=10, total=10))
    sink.handle(PhaseFinished("op", "b", title="b", success=False, reason="cancelled", duration=0.5, current=2))
    sink.handle(PhaseFinished("op", "c1", parent_phase_id="c", title="c1", duration=0.25, current=4, total=4))
    sink.handle(PhaseFinished("op", "c", title="c", duration=0.5, current=4))
    sink.handle(OperationFinished("op", "job", duration=2.0))
    # at the end
    assert otel.points("mpprogress.phase.items") == {(("cicd.pipeline.name", "job"),): 16}
    assert otel.points("mpprogress.phase.active") == {((state, "executing"),): 0, ((state, "finalizing"),): 0}
    assert otel.points("mpprogress.phase.current") == {}
    durations = otel.points("mpprogress.phase.duration")
    ok = durations[(("cicd.pipeline.name", "job"), ("cicd.pipeline.result", "success"))]
    assert (ok.count, ok.sum) == (3, 2.25)
    cancelled = durations[(("cicd.pipeline.name", "job"), ("cicd.pipeline.result", "cancellation"))]
    assert (cancelled.count, cancelled.sum) == (1, 0.5)
    runs = otel.points("cicd.pipeline.run.duration")
    assert [(p.count, p.sum) for p in runs.values()] == [(1, 2.0)]


def test_cardinality_bounded_with_ten_thousand_phases(otel: Otel) -> None:
    sink = otel.sink
    for k in range(200):
        sink.handle(OperationStarted(f"op{k}", f"job {k}"))
    for n in range(10_000):
        sink.handle(PhaseStarted(f"op{n % 200}", f"p{n}", title=f"phase {n}", total=10))
        sink.handle(ProgressUpdate(f"op{n % 200}", f"p{n}", title=f"phase {n}", current=5, total=10))
    current = otel.points("mpprogress.phase.current")
    assert len(current) == 3  # two labelled + "other"
    assert current[(("cicd.pipeline.task.name", "other"), ("cicd.pipeline.task.run.id", "other"))] == 5 * 9_998
    items = otel.points("mpprogress.phase.items")
    assert len(items) == 101  # 100 operation names + "other"
    assert sum(items.values()) == 50_000
    for n in range(10_000):
        sink.handle(PhaseFinished(f"op{n % 200}", f"p{n}", title=f"phase {n}", current=10, total=10))
    assert len(otel.points("mpprogress.phase.duration")) == 101
    assert sum(otel.points("mpprogress.phase.items").values()) == 100_000
    assert len(otel.spans.get_finished_spans()) == 10_000


def test_close_ends_open_spans(otel: Otel) -> None:
    otel.sink.handle(OperationStarted("op", "job"))
    otel.sink.handle(PhaseStarted("op", "p", title="work"))
    otel.sink.close()
    otel.sink.close()
    spans = otel.finished()
    assert {name: span.status.description for name, span in spans.items()} == {
        "work": "interrupted", "job": "interrupted",
    }


def test_unknown_phases_are_ignored_and_orphans_end_with_the_operation(otel: Otel) -> None:
    otel.sink.handle(ProgressUpdate("nope", "x", current=3))
    otel.sink.handle(PhaseFinished("nope", "x"))
    otel.sink.handle(OperationStarted("op", "job"))
    otel.sink.handle(PhaseStarted("op", "p", title="orphan"))
    otel.sink.handle(OperationFinished("op", "job"))
    spans = otel.finished()
    assert spans["orphan"].status.description == "incomplete"  # the vocabulary's word for a phase that never ended
    assert spans["job"].status.status_code is StatusCode.UNSET


def test_uses_the_global_providers_by_default() -> None:
    sink = OpenTelemetrySink()
    sink.handle(OperationStarted("op", "job"))
    sink.handle(OperationFinished("op", "job"))
    assert isinstance(trace.get_tracer_provider(), trace.TracerProvider)


def test_parent_is_the_context_of_the_thread_delivering_operation_started(otel: Otel) -> None:
    """The documented rule: while another thread delivers the tracker's events, an operation
    started meanwhile is delivered (and parented) by that thread, so its span is a root."""
    tracker = BaseProgressTracker()
    delivering, release = threading.Event(), threading.Event()

    def blocker(*, event_type: str, **data: Any) -> None:
        if event_type == "operation_started" and data["title"] == "first":
            delivering.set()
            release.wait(10)

    tracker.add_callback(blocker)
    tracker.add_callback(otel.sink)
    first = threading.Thread(target=lambda: tracker.start_operation("op1", "first"))
    first.start()
    assert delivering.wait(10)
    tracer = otel.provider.get_tracer("user")
    with tracer.start_as_current_span("request"):
        tracker.start_operation("op2", "second")  # queued: the other thread delivers it
        release.set()
        first.join(10)
        with tracker.operation("third"):  # nobody else delivering: delivered here, parented here
            pass
    tracker.finish_operation("op2")
    spans = otel.finished()
    assert spans["second"].parent is None
    assert spans["third"].parent is not None and spans["third"].parent.span_id == spans["request"].context.span_id


def test_a_stuck_exporter_never_blocks_the_sink() -> None:
    """With a BatchSpanProcessor, spans are queued; a full queue drops them instead of waiting."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    release = threading.Event()
    exported: list[int] = []

    class Stuck(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            release.wait(30)  # an exporter whose collector does not answer
            exported.append(len(spans))
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Stuck(), max_queue_size=16, max_export_batch_size=4,
                                                   schedule_delay_millis=1))
    sink = OpenTelemetrySink(provider, MeterProvider(metric_readers=[InMemoryMetricReader()]))
    sink.handle(OperationStarted("op", "job"))
    for n in range(1_000):  # finishes although nothing can be exported
        sink.handle(PhaseStarted("op", f"p{n}", title="p"))
        sink.handle(PhaseFinished("op", f"p{n}", title="p"))
    sink.handle(OperationFinished("op", "job"))
    release.set()
    provider.shutdown()
    assert 0 < sum(exported) < 1_001  # what did not fit in the queue was dropped
