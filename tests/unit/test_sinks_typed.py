"""Every sink is an ``EventSink``: ``handle(typed event)`` is its entry point, and the callback
form ``sink(event_type=..., **data)`` gives exactly the same output."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from rich.console import Console

from mpprogress import BaseProgressTracker
from mpprogress._base import events as events_module
from mpprogress._base.events import EventSink, ProgressEvent, event_from
from mpprogress.adapters.console import ConsoleConfig, ConsoleSink
from mpprogress.adapters.console._plain import PlainLines
from mpprogress.adapters.jsonlines import JsonLinesSink
from mpprogress.adapters.logs import LoggingSink
from mpprogress.adapters.web import EventStream, WebSocketSink
from mpprogress.testing import FakeClock


def recorded_events() -> list[tuple[str, dict[str, Any]]]:
    """One run with every event type, as the tracker delivers them (callback form)."""
    events: list[tuple[str, dict[str, Any]]] = []
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, auto_flush=False, max_update_rate=None)
    tracker.add_callback(lambda *, event_type, **data: events.append((event_type, data)))
    op = tracker.start_operation("op", "Op", "what it does")
    phase = op.start_phase("p", "Phase", 10)
    for step in range(4):
        clock.advance(6.0)
        phase.update(2, f"step {step}", url=f"u{step}")
    sub = phase.start_phase("s", "Sub", None)
    sub.update(3)
    sub.cancel()
    phase.finish_phase("s", success=False, reason="lost")
    op.finish_phase("p")
    op.cancel()
    tracker.finish_operation("op")
    tracker.close()
    return events


def plain_console() -> Console:
    return Console(file=io.StringIO(), force_terminal=False, width=200)


def console_text(console: Console) -> str:
    return console.file.getvalue()  # type: ignore[attr-defined]


class Emitted:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def emit(self, event: str, data: str) -> None:
        payload = json.loads(data)
        del payload["timestamp"]
        self.sent.append((event, payload))


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [{k: v for k, v in json.loads(line).items() if k != "timestamp"} for line in stream.getvalue().splitlines()]


def run(make: Callable[[], tuple[EventSink, Callable[[], object]]], typed: bool) -> object:
    sink, output = make()
    for event_type, data in recorded_events():
        if typed:
            event: ProgressEvent | None = event_from(event_type, data)
            assert event is not None
            sink.handle(event)
        else:
            sink(event_type=event_type, **data)
    return output()


FIXED = datetime(2024, 1, 2, 3, 4, 5)


def make_plain() -> tuple[EventSink, Callable[[], object]]:
    console = plain_console()
    return PlainLines(console, 5.0, wall_clock=lambda: FIXED, get_time=FakeClock()), lambda: console_text(console)


def make_console() -> tuple[EventSink, Callable[[], object]]:
    console = plain_console()
    tracker = BaseProgressTracker(auto_flush=False)
    sink = ConsoleSink(tracker, console=console, config=ConsoleConfig(plain_interval=0, show_summary=False))
    sink._plain._wall_clock = lambda: FIXED  # type: ignore[union-attr]
    return sink, lambda: console_text(console)


def make_logging() -> tuple[EventSink, Callable[[], object]]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("test.sinks.typed")
    logger.handlers[:] = [Keep()]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    sink = LoggingSink(logger, min_interval=10.0)
    return sink, lambda: [(r.levelno, r.getMessage(), r.progress) for r in records]  # type: ignore[attr-defined]


def make_websocket() -> tuple[EventSink, Callable[[], object]]:
    handler = Emitted()
    return WebSocketSink(handler), lambda: handler.sent


def make_json_lines() -> tuple[EventSink, Callable[[], object]]:
    stream = io.StringIO()
    return JsonLinesSink(stream), lambda: json_lines(stream)


def make_event_stream() -> tuple[EventSink, Callable[[], object]]:
    stream = EventStream()
    reader = stream.subscribe()

    def messages() -> list[str]:
        got = []
        while (message := reader.get(timeout=0)) is not None:
            got.append(message.split("\n")[0] + json.dumps(json.loads(message.split("data: ", 1)[1])["data"]))
        return got

    return stream, messages


@pytest.mark.parametrize(
    "make", [make_plain, make_console, make_logging, make_websocket, make_json_lines, make_event_stream]
)
def test_handle_and_the_callback_form_give_the_same_output(make: Callable[[], tuple[EventSink, Any]]) -> None:
    by_callback = run(make, typed=False)
    by_handle = run(make, typed=True)
    assert by_callback == by_handle
    assert by_callback  # the run produced output at all


def test_the_logging_sink_keeps_the_callback_forms_fields_in_order() -> None:
    events = recorded_events()
    logged = run(make_logging, typed=True)
    update = next(data for event_type, data in events if event_type == "progress_update")
    fields = next(progress for _, _, progress in logged if progress["event_type"] == "progress_update")  # type: ignore[attr-defined]
    assert list(fields) == ["event_type", *update]
    assert fields["url"] == "u0"


def _never(event_type: str, data: object) -> None:
    raise AssertionError(f"a sink rebuilt a typed event ({event_type}) on the handle path")


def live_console_sink() -> tuple[EventSink, Callable[[], object]]:
    console = Console(file=io.StringIO(), force_terminal=True, color_system=None, width=100, height=20)
    tracker = BaseProgressTracker(auto_flush=False)
    sink = ConsoleSink(tracker, console=console, config=ConsoleConfig(refresh_rate=0.01))
    return sink, lambda: console_text(console)


@pytest.mark.parametrize(
    "make",
    [make_plain, make_console, live_console_sink, make_logging, make_websocket, make_json_lines, make_event_stream],
)
def test_handle_never_rebuilds_typed_events(
    make: Callable[[], tuple[EventSink, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The dispatcher builds each typed event once and calls handle(event): a sink that went
    # back to the callback form (event_from) would pay for building it again on every update.
    typed = [event_from(event_type, data) for event_type, data in recorded_events()]
    sink, output = make()
    monkeypatch.setattr(events_module, "event_from", _never)
    for event in typed:
        assert event is not None
        sink.handle(event)
    sink.close()
    assert output()


def test_no_adapter_names_event_from() -> None:
    import importlib.util
    import pkgutil
    import types

    import mpprogress.adapters

    def names(code: types.CodeType) -> set[str]:
        found = set(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                found |= names(const)
        return found

    for info in pkgutil.iter_modules(mpprogress.adapters.__path__):
        # Found, not imported: a sink whose extra is missing (OpenTelemetry) is read all the same.
        spec = importlib.util.find_spec(f"mpprogress.adapters.{info.name}")
        assert spec is not None and spec.origin is not None
        with open(spec.origin, encoding="utf-8") as source:
            code = compile(source.read(), spec.origin, "exec")
        assert "event_from" not in names(code), info.name


class _NewKind:
    """An event of a type added after these sinks were written (``events``: sinks ignore it)."""

    type = "worker_departed"
    operation_id = "op"
    phase_id = None

    def to_data(self) -> dict[str, Any]:
        return {"operation_id": "op", "host": "h", "pid": 1}


def make_otel() -> tuple[EventSink, Callable[[], object]]:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from mpprogress.adapters.otel import OpenTelemetrySink

    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    return OpenTelemetrySink(provider, MeterProvider()), lambda: [span.name for span in spans.get_finished_spans()]


def make_journal(tmp_path: Any) -> tuple[EventSink, Callable[[], object]]:
    import sqlite3

    from mpprogress.adapters.journal import JournalSink

    path = tmp_path / "runs.db"
    sink = JournalSink(path)

    def phases() -> object:
        sink.close()
        with sqlite3.connect(path) as db:
            return db.execute("select count(*) from phases").fetchone()[0]

    return sink, phases


@pytest.mark.parametrize(
    "make",
    [make_plain, make_console, live_console_sink, make_logging, make_websocket, make_json_lines, make_event_stream,
     make_otel, make_journal],
)
def test_every_sink_ignores_an_event_type_it_does_not_know(make: Any, tmp_path: Any) -> None:
    sink, output = make(tmp_path) if make is make_journal else make()
    typed = [event_from(event_type, data) for event_type, data in recorded_events()]
    sink.handle(typed[0])  # type: ignore[arg-type]
    sink.handle(_NewKind())  # type: ignore[arg-type]
    sink(event_type=_NewKind.type, **_NewKind().to_data())
    for event in typed[1:]:
        sink.handle(event)  # type: ignore[arg-type]
    sink.close()
    assert output()  # the known events after it were all handled
