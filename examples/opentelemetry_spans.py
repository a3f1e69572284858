"""Progress as OpenTelemetry traces: worker processes' phases under the span of the job.

Run ``python examples/opentelemetry_spans.py`` (needs ``pip install 'mpprogress[otel]'``).  The
example records spans in memory and prints the tree; to send them to a collector instead, give
the tracer provider an OTLP exporter (``opentelemetry-exporter-otlp``)::

    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))

Last line (for scripts and tests):  RESULT spans=6 phases=4 items=400/400 parent=job
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import mpprogress

__all__ = ["main", "resize"]


def resize(operation_id: str, items: int) -> int:
    """A worker: one phase of ``items`` steps in the parent's operation."""
    op = mpprogress.get_tracker().get_operation(operation_id)
    with op.phase(f"worker {os.getpid()}", total=items) as phase:
        for _ in range(items):
            phase.update(1)
    return os.getpid()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--items", type=int, default=100)
    args = parser.parse_args(argv)

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sink = mpprogress.OpenTelemetrySink(tracer_provider=provider)
    tracer = provider.get_tracer("example")
    try:
        with (
            tracer.start_as_current_span("job"),
            mpprogress.session(console=False, sinks=(sink,)) as tracker,
            tracker.operation("Resize images") as op,
            ProcessPoolExecutor(args.workers) as pool,
        ):
            list(pool.map(resize, [op.operation_id] * args.workers, [args.items] * args.workers))
    finally:
        sink.close()

    spans = {span.context.span_id: span for span in exporter.get_finished_spans()}
    def show(span_id: int | None, depth: int) -> None:
        for span in sorted((s for s in spans.values() if (s.parent.span_id if s.parent else None) == span_id),
                           key=lambda s: s.name):
            count = (span.attributes or {}).get("mpprogress.current", "")
            print(f"{'  ' * depth}{span.name} {count}".rstrip())
            show(span.context.span_id, depth + 1)

    show(None, 0)
    phases = [s for s in spans.values() if s.name.startswith("worker")]
    items = sum(int((s.attributes or {}).get("mpprogress.current", 0)) for s in phases)
    job = next(s for s in spans.values() if s.name == "job")
    operation = next(s for s in spans.values() if s.name == "Resize images")
    parent = "job" if operation.parent and operation.parent.span_id == job.context.span_id else "none"
    print(f"RESULT spans={len(spans)} phases={len(phases)} items={items}/{args.workers * args.items} parent={parent}")


if __name__ == "__main__":
    main()
