"""Event names, the callback contract, and the JSON form of events (standard library only).

A callback is called as ``callback(event_type=..., **data)``.  The data of each event type:

- ``operation_started``: operation_id, title, description
- ``phase_started``: operation_id, phase_id, parent_phase_id, title, description, total
- ``progress_update``: operation_id, phase_id, parent_phase_id, title, current, total,
  percentage, message, rate, peak_rate, eta, elapsed, plus the update's metadata
- ``phase_finished``: operation_id, phase_id, parent_phase_id, title, success, reason,
  duration, current, total, rate
- ``operation_finished``: operation_id, title, success, duration
- ``cancel_requested``: operation_id, phase_id (``None`` when the whole operation is cancelled)

Sinks ignore event types they do not know, so new types can be added.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any, Final, Protocol

__all__ = [
    "CANCEL_REQUESTED",
    "EVENT_TYPES",
    "OPERATION_FINISHED",
    "OPERATION_STARTED",
    "PHASE_FINISHED",
    "PHASE_STARTED",
    "PROGRESS_UPDATE",
    "ProgressCallback",
    "ProgressEventSerializer",
    "Sink",
]

OPERATION_STARTED: Final = "operation_started"
PHASE_STARTED: Final = "phase_started"
PROGRESS_UPDATE: Final = "progress_update"
PHASE_FINISHED: Final = "phase_finished"
OPERATION_FINISHED: Final = "operation_finished"
CANCEL_REQUESTED: Final = "cancel_requested"

EVENT_TYPES: Final = frozenset(
    {OPERATION_STARTED, PHASE_STARTED, PROGRESS_UPDATE, PHASE_FINISHED, OPERATION_FINISHED, CANCEL_REQUESTED}
)


class ProgressCallback(Protocol):
    """What ``tracker.add_callback`` accepts: ``callback(event_type=..., **data)``."""

    def __call__(self, *, event_type: str, **data: Any) -> None: ...


class Sink(ProgressCallback, Protocol):
    """A callback that also holds resources, released by ``close()`` (idempotent)."""

    def close(self) -> None: ...


class ProgressEventSerializer:
    """Turns events into JSON text for web clients (SSE, WebSocket) and JSON-lines logs."""

    @staticmethod
    def serialize_event(event_type: str, **data: Any) -> str:
        """Serialize one event as ``{"type", "timestamp", "data"}`` JSON.

        Args:
            event_type: the event's type, e.g. ``"progress_update"``.
            **data: the event's data; datetimes become ISO text, non-finite floats ``null``,
                and anything else not JSON-native its ``str()``.

        Returns:
            One line of JSON (no newline inside).
        """
        event = {
            "type": event_type,
            "timestamp": datetime.now().isoformat(),
            "data": ProgressEventSerializer._clean_data(data),
        }
        return json.dumps(event, ensure_ascii=False)

    @staticmethod
    def _clean_data(data: dict[Any, Any]) -> dict[str, Any]:
        return {str(key): _clean_value(value) for key, value in data.items()}


def _clean_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return ProgressEventSerializer._clean_data(value)
    if isinstance(value, (list, tuple)):
        return [_clean_value(item) for item in value]
    return str(value)
