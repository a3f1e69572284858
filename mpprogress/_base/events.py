"""Event names, the callback contract, and the JSON form of events (standard library only).

A callback is called as ``callback(event_type=..., **data)``.  The data of each event type:

- ``operation_started``: operation_id, title, description, worker
- ``phase_started``: operation_id, phase_id, parent_phase_id, title, description, total, worker
  (``worker``: the ``Worker(host, pid)`` it came from, ``None`` in the process itself)
- ``progress_update``: operation_id, phase_id, parent_phase_id, title, current, total,
  percentage, message, rate, peak_rate, eta, elapsed, plus the update's metadata
- ``phase_finished``: operation_id, phase_id, parent_phase_id, title, success, reason,
  duration, current, total, rate, outcome (its word: ``succeeded``, ``incomplete``, ``failed``,
  ``cancelled``, ``interrupted`` or ``lost``, see ``outcomes.py``; for a failure, ``reason``
  holds the exception's ``"Type: message"``)
- ``operation_finished``: operation_id, title, success, reason, duration, outcome, and
  phase_outcomes (outcome word -> how many of its phases ended so)
- ``cancel_requested``: operation_id, phase_id (``None`` when the whole operation is cancelled)

Sinks ignore event types they do not know, so new types can be added.

The same events as typed objects (``OperationStarted``, ``PhaseStarted``, ``ProgressUpdate``,
``PhaseFinished``, ``OperationFinished``, ``CancelRequested``): ``event_from(event_type, data)``
builds one from the callback form and ``event.to_data()`` gives the callback form back.  A sink
written against the typed form subclasses ``EventSink`` and implements ``handle(event)``; it is
still an ordinary callback to every tracker.  One event object is handed to every sink, so sinks
treat it as read-only (the classes are not frozen: a frozen dataclass costs about 1.3 us more
to build on this kind of machine, and every delivered update builds one).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, Final, NamedTuple, Protocol, Union

from .formats import timestamp
from .outcomes import operation_outcome, phase_outcome

__all__ = [
    "CANCEL_REQUESTED",
    "EVENT_TYPES",
    "OPERATION_FINISHED",
    "OPERATION_STARTED",
    "PHASE_FINISHED",
    "PHASE_STARTED",
    "PROGRESS_UPDATE",
    "CancelRequested",
    "EventSink",
    "OperationFinished",
    "OperationStarted",
    "PhaseFinished",
    "PhaseStarted",
    "ProgressCallback",
    "ProgressEvent",
    "ProgressEventSerializer",
    "ProgressUpdate",
    "Sink",
    "Worker",
    "event_from",
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

    def close(self) -> None:
        """Release what the sink holds. Idempotent."""


# --- typed events ---------------------------------------------------------------------------


class Worker(NamedTuple):
    """The worker process an operation or a phase came from (multiprocess mode and the relay).

    ``host`` is the parent's host name for a worker on the parent's own machine, else the
    worker's host identity (its boot id and pid namespace).
    """

    host: str
    pid: int


@dataclass(slots=True)
class OperationStarted:
    """An operation began."""

    type: ClassVar[str] = OPERATION_STARTED
    operation_id: str
    title: str = ""
    description: str | None = None
    worker: Worker | None = None

    def to_data(self) -> dict[str, Any]:
        """The callback form's keyword arguments (``event_type`` aside)."""
        return _data_of(self)


@dataclass(slots=True)
class PhaseStarted:
    """A phase began (``parent_phase_id`` is set for a sub-phase)."""

    type: ClassVar[str] = PHASE_STARTED
    operation_id: str
    phase_id: str
    parent_phase_id: str | None = None
    title: str = ""
    description: str | None = None
    total: int | None = None
    worker: Worker | None = None
    resumed_from: int | float | None = None  # the count it resumed at from an earlier run

    def to_data(self) -> dict[str, Any]:
        """The callback form's keyword arguments (``event_type`` aside)."""
        return _data_of(self)


@dataclass(slots=True)
class ProgressUpdate:
    """A phase's state after a change: exact ``current``/``total``, speed figures, metadata.

    ``metadata`` holds the keyword arguments the update was given (the callback form spreads
    them among the other keys).
    """

    type: ClassVar[str] = PROGRESS_UPDATE
    operation_id: str
    phase_id: str
    parent_phase_id: str | None = None
    title: str = ""
    description: str | None = None
    current: int | float = 0
    total: int | None = None
    percentage: float | None = None
    message: str | None = None
    rate: float | None = None
    peak_rate: float | None = None
    eta: float | None = None
    elapsed: float = 0.0
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        """The callback form's keyword arguments: the metadata spread, then the fields."""
        data = dict(self.metadata)
        data.update(_data_of(self, skip="metadata"))
        return data


@dataclass(slots=True)
class PhaseFinished:
    """A phase ended; ``reason`` says why when ``success`` is false (failed, cancelled, lost...)."""

    type: ClassVar[str] = PHASE_FINISHED
    operation_id: str
    phase_id: str
    parent_phase_id: str | None = None
    title: str = ""
    description: str | None = None
    success: bool = True
    reason: str | None = None
    duration: float = 0.0
    current: int | float = 0
    total: int | None = None
    rate: float | None = None
    outcome: str = ""

    def __post_init__(self) -> None:
        if not self.outcome:  # built by hand: the outcome its fields say (outcomes.phase_outcome)
            self.outcome = phase_outcome(self.success, self.reason, self.current, self.total).word

    def to_data(self) -> dict[str, Any]:
        """The callback form's keyword arguments (``event_type`` aside)."""
        return _data_of(self)


@dataclass(slots=True)
class OperationFinished:
    """An operation ended; ``outcome`` is the word of its outcome (``outcomes.py``) and
    ``phase_outcomes`` how its phases ended (outcome word -> how many)."""

    type: ClassVar[str] = OPERATION_FINISHED
    operation_id: str
    title: str = ""
    success: bool = True
    reason: str | None = None
    duration: float = 0.0
    outcome: str = ""
    phase_outcomes: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.outcome:  # built by hand: the outcome its fields say (outcomes.operation_outcome)
            self.outcome = operation_outcome(self.success, self.reason, self.phase_outcomes).outcome.word

    def to_data(self) -> dict[str, Any]:
        """The callback form's keyword arguments (``event_type`` aside)."""
        return _data_of(self)


@dataclass(slots=True)
class CancelRequested:
    """Cooperative cancellation of an operation (``phase_id`` ``None``) or of one phase."""

    type: ClassVar[str] = CANCEL_REQUESTED
    operation_id: str
    phase_id: str | None = None

    def to_data(self) -> dict[str, Any]:
        """The callback form's keyword arguments (``event_type`` aside)."""
        return _data_of(self)


ProgressEvent = Union[  # noqa: UP007  (a runtime alias; ``X | Y`` needs 3.10 objects only)
    OperationStarted, PhaseStarted, ProgressUpdate, PhaseFinished, OperationFinished, CancelRequested
]
"""Any typed event."""

_EVENT_CLASSES: Final[dict[str, Any]] = {
    cls.type: cls
    for cls in (OperationStarted, PhaseStarted, ProgressUpdate, PhaseFinished, OperationFinished, CancelRequested)
}
_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    name: tuple(f.name for f in fields(cls)) for name, cls in _EVENT_CLASSES.items()
}

_FIELD_SETS: Final[dict[str, frozenset[str]]] = {name: frozenset(names) for name, names in _FIELDS.items()}
_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    name: tuple(f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING)
    for name, cls in _EVENT_CLASSES.items()
}


def _data_of(event: Any, skip: str = "") -> dict[str, Any]:
    return {name: getattr(event, name) for name in _FIELDS[event.type] if name != skip}


def event_from(event_type: str, data: Mapping[str, Any]) -> ProgressEvent | None:
    """The typed event for a callback's ``(event_type, **data)``; ``None`` for unknown types.

    Missing keys take the field's default (an id missing is an empty string); a
    ``progress_update``'s keys that are not fields become its ``metadata``.
    """
    cls = _EVENT_CLASSES.get(event_type)
    if cls is None:
        return None
    names = _FIELD_SETS[event_type]
    if data.keys() <= names:  # the usual case: exactly what a tracker sends
        kwargs = dict(data)
    else:
        kwargs = {key: value for key, value in data.items() if key in names}
        if cls is ProgressUpdate:
            kwargs["metadata"] = {key: value for key, value in data.items() if key not in names}
    for name in _REQUIRED[event_type]:
        if name not in kwargs:
            kwargs[name] = ""
    event: ProgressEvent = cls(**kwargs)
    return event


class EventSink:
    """Base of sinks written against typed events: implement ``handle(event)``.

    An instance is an ordinary callback (``sink(event_type=..., **data)``): the call builds the
    typed event and passes it to ``handle``; unknown event types are ignored.  ``close()`` does
    nothing unless overridden.
    """

    def __call__(self, *, event_type: str, **data: Any) -> None:
        event = event_from(event_type, data)
        if event is not None:
            self.handle(event)

    def handle(self, event: ProgressEvent) -> None:
        """Take one event; called in event order, outside the tracker's lock."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the sink holds. Idempotent."""


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
            "timestamp": timestamp(),
            "data": ProgressEventSerializer._clean_data(data),
        }
        return json.dumps(event, ensure_ascii=False)

    @staticmethod
    def _clean_data(data: Mapping[Any, Any]) -> dict[str, Any]:
        return {str(key): _clean_value(value) for key, value in data.items()}


def _clean_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return ProgressEventSerializer._clean_data(value)
    if isinstance(value, (list, tuple)):
        return [_clean_value(item) for item in value]
    return str(value)
