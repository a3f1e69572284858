"""The messages of the wire between worker clients and the aggregator, and their limits.

Frozen dataclasses, one per kind (``KIND`` is the number on the wire), the sizes every frame
respects, and how text and metadata are cut down to them (``clip``, ``clean_metadata``).
No msgpack, no zmq; ``wire`` packs and unpacks the messages (and re-exports every name here, so
``wire.Hello`` is this ``Hello``).  The protocol that uses them is described in
``link``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from .._base.port import ProgressError
from .._base.text import strip_controls

__all__ = [
    "MAX_BATCH",
    "MAX_COUNT",
    "MAX_DESCRIPTION",
    "MAX_FRAME",
    "MAX_ID",
    "MAX_INT",
    "MAX_KEYS_BYTES",
    "MAX_LOG",
    "MAX_META_ITEMS",
    "MAX_META_KEY",
    "MAX_META_VALUE",
    "MAX_PID",
    "MAX_REASON",
    "MAX_TEXT",
    "MAX_TITLE",
    "RESERVED_METADATA",
    "VERSION",
    "Ack",
    "Bye",
    "Cancel",
    "Heartbeat",
    "Hello",
    "LogRecord",
    "Message",
    "OperationFinish",
    "OperationStart",
    "PhaseFinish",
    "PhaseStart",
    "PhaseState",
    "ProtocolError",
    "Refused",
    "Resumed",
    "Resync",
    "State",
    "checked_keys",
    "clamp_count",
    "clean_metadata",
    "clip",
    "is_wire_key",
]

VERSION: Final = 1
MAX_FRAME: Final = 4096  # bytes; the receiver's MAXMSGSIZE

MAX_ID: Final = 128  # bytes of an operation or phase id, client id, host identity
MAX_TITLE: Final = 256
MAX_TEXT: Final = 256  # the latest message of a phase
MAX_DESCRIPTION: Final = 512
MAX_REASON: Final = 256  # bytes: a failure's "Type: message" (``outcomes.error_text``); older clients sent <= 32
MAX_LOG: Final = 1024
MAX_META_ITEMS: Final = 8
MAX_META_KEY: Final = 32
MAX_META_VALUE: Final = 128
MAX_BATCH: Final = 64  # phase states (or acked seqs) in one frame
MAX_INT: Final = 2**63 - 1  # sequence numbers, handles
MAX_COUNT: Final = 2**53
"""The largest ``current`` or ``total`` on the wire: every integer up to it is exact as a float
too, and it prints in 16 digits.  ``decode`` refuses more (``range``); encoders clamp to it."""
MAX_PID: Final = 2**31 - 1  # a pid is a C int: ``os.kill`` overflows beyond it
MAX_KEYS_BYTES: Final = 2048
"""Bytes of item keys (``phase.track(items, key=...)``) one phase state carries; more wait for the
next one.  A ``RESUMED`` frame carries up to twice as many."""

# Metadata keys that would collide with the fields of a ``progress_update`` event.
RESERVED_METADATA: Final = frozenset(
    {"event_type", "operation_id", "phase_id", "parent_phase_id", "title", "description", "current",
     "total", "percentage", "message", "rate", "peak_rate", "eta", "elapsed", "increment"}
)


# --- what a message may carry ----------------------------------------------------------------


def clip(text: object, limit: int) -> str:
    """``text`` as a string of at most ``limit`` UTF-8 bytes (cut on a character boundary)."""
    value = text if isinstance(text, str) else str(text)
    if len(value) * 4 <= limit:
        return value
    raw = value.encode("utf-8", "replace")
    if len(raw) <= limit:
        return value
    return raw[:limit].decode("utf-8", "ignore")


def clamp_count(value: int | float) -> int | float:
    """A count as it travels: at most ``MAX_COUNT`` (a sender never has its frames refused)."""
    return value if value <= MAX_COUNT else MAX_COUNT


def clean_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata reduced to what the wire carries: a few scalar values under short keys.

    Reserved and over-long keys are dropped; values that are not ``None``, bool, int or finite
    float become clipped strings.
    """
    cleaned: dict[str, Any] = {}
    for key, value in metadata.items():
        if len(cleaned) >= MAX_META_ITEMS:
            break
        if not isinstance(key, str) or not is_wire_key(key):
            continue
        if _is_wire_scalar(value):
            cleaned[key] = value
        else:
            cleaned[key] = clip(value, MAX_META_VALUE)
    return cleaned


def is_wire_key(key: str) -> bool:
    """Whether ``key`` may name a metadata value on the wire (short, an identifier, not reserved)."""
    return key.isidentifier() and key not in RESERVED_METADATA and len(key.encode()) <= MAX_META_KEY


def checked_keys(value: Any, limit: int) -> tuple[str, ...]:
    """Item keys as a decoder takes them: a list of non-empty strings of at most ``limit``
    characters in all, none with a control character (``resume.item_key`` makes none).

    Raises:
        ProtocolError: anything else.
    """
    if not isinstance(value, list) or not all(isinstance(key, str) and key for key in value):
        raise ProtocolError("schema", "item keys must be non-empty strings")
    if sum(len(key) for key in value) > limit or any(strip_controls(key) != key for key in value):
        raise ProtocolError("schema", "item keys too long or not clean")
    return tuple(value)


def _is_wire_scalar(value: object) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -MAX_INT <= value <= MAX_INT
    return isinstance(value, float) and math.isfinite(value)


class ProtocolError(ProgressError, ValueError):
    """A frame that is not a valid message; ``reason`` is a short name for drop counters.

    A ``ValueError`` too, as it was before ``ProgressError`` became the common base.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason



# --- messages ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    """A client introduces itself (also sent again on ``RESYNC``).

    ``host`` carries ``transport.host_identity()`` (on Linux the boot id and pid namespace,
    elsewhere the hostname): only a client whose host equals the aggregator's has its ``pid``
    checked for liveness.  ``decode`` accepts only ``0 < pid <= MAX_PID``.
    """

    KIND: ClassVar[int] = 1
    seq: int
    client_id: str
    pid: int
    host: str


@dataclass(frozen=True)
class Heartbeat:
    """The client is alive; the aggregator answers with an ``ACK``."""

    KIND: ClassVar[int] = 2
    seq: int


@dataclass(frozen=True)
class OperationStart:
    """The client opened an operation of its own."""

    KIND: ClassVar[int] = 3
    seq: int
    operation_id: str
    title: str
    description: str | None


@dataclass(frozen=True)
class OperationFinish:
    """The client finished an operation it opened."""

    KIND: ClassVar[int] = 4
    seq: int
    operation_id: str
    success: bool


@dataclass(frozen=True)
class PhaseStart:
    """A phase started in ``operation_id``, inside the client's phase ``parent`` if not ``None``."""

    KIND: ClassVar[int] = 5
    seq: int
    handle: int
    phase_id: str
    operation_id: str
    parent: int | None
    title: str
    description: str | None
    total: int | None


@dataclass(frozen=True)
class PhaseFinish:
    """A phase finished, with its final state (and metadata not sent yet)."""

    KIND: ClassVar[int] = 6
    seq: int
    handle: int
    current: int | float
    total: int | None
    message: str | None
    success: bool
    reason: str | None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PhaseState:
    """The absolute state of one phase, an entry of ``State``, and item keys done since the last
    one (``keys``: at most ``MAX_KEYS_BYTES``; the entry has a sixth field only when there are some)."""

    handle: int
    current: int | float
    total: int | None
    message: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class State:
    """The state of every phase that changed since the client's previous ``State``."""

    KIND: ClassVar[int] = 7
    seq: int
    phases: tuple[PhaseState, ...]


@dataclass(frozen=True)
class LogRecord:
    """A worker's log record, to be re-emitted in the receiving process."""

    KIND: ClassVar[int] = 8
    seq: int
    level: int
    logger: str
    message: str
    created: float


@dataclass(frozen=True)
class Bye:
    """The client closed; it has no open phases left."""

    KIND: ClassVar[int] = 9
    seq: int


@dataclass(frozen=True)
class Ack:
    """The aggregator applied the client's messages with these sequence numbers."""

    KIND: ClassVar[int] = 16
    seq: int
    acked: tuple[int, ...]


@dataclass(frozen=True)
class Cancel:
    """Cancel the client's phases in an operation (``handle`` ``None``) or one phase."""

    KIND: ClassVar[int] = 17
    seq: int
    operation_id: str
    handle: int | None


@dataclass(frozen=True)
class Resumed:
    """Where the client's phase ``handle`` resumes an earlier run (the reply to its ``PHASE_START``
    when the aggregator resumes one; a worker waits for it, bounded).

    ``current`` ``None``: it starts afresh.  ``done`` item keys were recorded done in all; they
    come in as many ``RESUMED`` frames as they need, each with a part of them in ``keys``.
    """

    KIND: ClassVar[int] = 19
    seq: int
    handle: int
    current: int | float | None
    total: int | None
    finished: bool
    done: int
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resync:
    """The aggregator does not know this client: send hello and every live phase again."""

    KIND: ClassVar[int] = 18
    seq: int


@dataclass(frozen=True)
class Refused:
    """The aggregator refused the client's hello (``reason``: ``too_many_clients`` or ``hijack``):
    nothing it sends is applied until a later hello is acknowledged."""

    KIND: ClassVar[int] = 20
    seq: int
    reason: str


Message = (
    Hello | Heartbeat | OperationStart | OperationFinish | PhaseStart | PhaseFinish | State | LogRecord
    | Bye | Ack | Cancel | Resync | Resumed | Refused
)
"""Any message of the wire."""
