"""Test doubles that ship with the library: a fake clock and a recording callback."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["FakeClock", "RecordedEvent", "RecordingCallback"]


class FakeClock:
    """A monotonic clock that only moves when told to; pass it as ``get_time``.

    Args:
        start: the first reading.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


@dataclass(frozen=True)
class RecordedEvent:
    """One event as a callback received it."""

    type: str
    data: dict[str, Any]


class RecordingCallback:
    """A callback that records every event it receives, thread-safely."""

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []
        self._lock = threading.Lock()

    def __call__(self, *, event_type: str, **data: Any) -> None:
        with self._lock:
            self.events.append(RecordedEvent(event_type, data))

    def of_type(self, event_type: str) -> list[RecordedEvent]:
        """The recorded events of one type, in order."""
        with self._lock:
            return [e for e in self.events if e.type == event_type]

    @property
    def types(self) -> list[str]:
        """The recorded event types, in order."""
        with self._lock:
            return [e.type for e in self.events]

    def close(self) -> None:
        """Nothing to release; here so it can stand in for a sink."""
