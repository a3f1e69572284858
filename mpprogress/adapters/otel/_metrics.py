"""The OpenTelemetry sink's metrics: live progress while spans are still open.

OpenTelemetry has no convention for progress, so the instruments are ``mpprogress.*``; their
attributes borrow the CI/CD conventions' names where one fits (``cicd.pipeline.name``,
``cicd.pipeline.run.state``, ``cicd.pipeline.result``, ``cicd.pipeline.task.*``), and the
operation-level metrics are the conventions' own ``cicd.pipeline.run.active`` and
``cicd.pipeline.run.duration``.

Cardinality is bounded by construction: operation titles used as attribute values are capped
(``max_names`` distinct, the rest become ``"other"``), and the per-phase gauges label at most
``max_labelled`` running phases (the oldest running ones), folding the rest into one series
whose ``cicd.pipeline.task.run.id`` is ``"other"``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from ..._base.outcomes import CANCELLED, FAILED, INCOMPLETE, INTERRUPTED, LOST, SUCCEEDED

__all__ = ["OTHER", "OtelMetrics", "PhaseGauge", "result_of"]

OTHER: Final = "other"


def result_of(outcome: str) -> str:
    """The ``cicd.pipeline.result`` value for an outcome's word (``outcomes.py``; the
    conventions' enum): ``success``; ``failure`` when the work itself failed or fell short
    (failed, incomplete); ``cancellation``; ``error`` when the machinery failed (lost,
    interrupted)."""
    return _RESULTS.get(outcome, "failure")


_RESULTS = {
    SUCCEEDED.word: "success",
    INCOMPLETE.word: "failure",
    FAILED.word: "failure",
    CANCELLED.word: "cancellation",
    INTERRUPTED.word: "error",
    LOST.word: "error",
}


@dataclass(slots=True)
class PhaseGauge:
    """A running phase as the gauges see it (read by the metric reader's thread)."""

    phase_id: str
    title: str
    current: float = 0.0
    total: int | None = None


class _Names:
    """Caps the distinct values an attribute may take: the first ``limit``, then ``"other"``."""

    def __init__(self, limit: int) -> None:
        self._seen: set[str] = set()
        self._limit = limit

    def __call__(self, name: str) -> str:
        if name in self._seen:
            return name
        if len(self._seen) >= self._limit:
            return OTHER
        self._seen.add(name)
        return name


class OtelMetrics:
    """The instruments, and the numbers the observable ones report at collection time.

    Args:
        meter: where the instruments are created.
        lock: the sink's lock (held by the sink while it changes ``running``).
        running: the sink's running phases, oldest first (read under ``lock``).
        max_labelled: running phases reported one series each by the gauges.
        max_names: distinct operation titles used as attribute values.
    """

    def __init__(
        self,
        meter: Meter,
        lock: threading.Lock,
        running: Callable[[], Iterable[PhaseGauge]],
        max_labelled: int = 20,
        max_names: int = 100,
    ) -> None:
        self._lock = lock
        self._running = running
        self._max_labelled = max_labelled
        self.name = _Names(max_names)
        # Items are summed here and reported by an observable counter: the update path adds
        # to a dict entry instead of going through the SDK's synchronous instrument (~µs).
        self.items: dict[str, float] = {}
        meter.create_observable_counter(
            "mpprogress.phase.items", [self._observe_items], unit="{item}",
            description="Items completed, counted at the phases without sub-phases",
        )
        self.phases_active = meter.create_up_down_counter(
            "mpprogress.phase.active", unit="{phase}", description="Running phases by state"
        )
        self.runs_active = meter.create_up_down_counter(
            "cicd.pipeline.run.active", unit="{run}", description="Running operations by state"
        )
        self.phase_duration = meter.create_histogram(
            "mpprogress.phase.duration", unit="s", description="Durations of finished phases"
        )
        self.run_duration = meter.create_histogram(
            "cicd.pipeline.run.duration", unit="s", description="Durations of finished operations"
        )
        meter.create_observable_gauge(
            "mpprogress.phase.current", [self._observe_current], unit="{item}",
            description="Count of each running phase (the oldest labelled, the rest as 'other')",
        )
        meter.create_observable_gauge(
            "mpprogress.phase.total", [self._observe_total], unit="{item}",
            description="Total of each running phase that has one",
        )

    def _observe_items(self, options: CallbackOptions) -> Iterator[Observation]:
        with self._lock:
            counts = list(self.items.items())
        for name, value in counts:
            yield Observation(value, {"cicd.pipeline.name": name})

    def _observe_current(self, options: CallbackOptions) -> Iterator[Observation]:
        return self._observe(lambda phase: phase.current)

    def _observe_total(self, options: CallbackOptions) -> Iterator[Observation]:
        return self._observe(lambda phase: phase.total)

    def _observe(self, value_of: Callable[[PhaseGauge], float | None]) -> Iterator[Observation]:
        with self._lock:
            phases = [(p.phase_id, p.title, value_of(p)) for p in self._running()]
        rest: float | None = None
        for index, (phase_id, title, value) in enumerate(phases):
            if index < self._max_labelled:
                if value is not None:
                    attributes = {"cicd.pipeline.task.run.id": phase_id, "cicd.pipeline.task.name": title}
                    yield Observation(value, attributes)
            elif value is not None:
                rest = (rest or 0) + value
        if rest is not None:
            yield Observation(rest, {"cicd.pipeline.task.run.id": OTHER, "cicd.pipeline.task.name": OTHER})
