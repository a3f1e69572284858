"""The wire between worker clients and the aggregator: msgpack frames, never pickle.

Pure functions, no sockets (this module never imports zmq); the messages themselves (frozen
dataclasses) and their limits are in ``messages``, re-exported here.  One message per frame::

    [VERSION, kind, seq, *fields]

``seq`` is the sender's sequence number, one more per message; progress is carried as absolute
state (current, total, latest message), so a lost or repeated frame never corrupts a count.  The
kinds, and which are acknowledged and resent, are described in ``link`` (the protocol); phases
are named on the wire by a small per-client integer ``handle`` given in ``PHASE_START``.

``decode`` validates every field (types, lengths, finite non-negative numbers, a pid a process
can have), strips control characters from strings with ``mpprogress._base.text.strip_controls``, and
returns a frozen dataclass or raises ``ProtocolError``; encoders clip text so that every frame
fits ``MAX_FRAME`` bytes.  This is the one place where numbers and text from a worker are
checked: the receiver applies what ``decode`` returns without checking it again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, Final

import msgpack

from .._base.text import strip_controls
from .messages import (
    MAX_BATCH,
    MAX_COUNT,
    MAX_DESCRIPTION,
    MAX_FRAME,
    MAX_ID,
    MAX_INT,
    MAX_KEYS_BYTES,
    MAX_LOG,
    MAX_META_ITEMS,
    MAX_META_KEY,
    MAX_META_VALUE,
    MAX_PID,
    MAX_REASON,
    MAX_TEXT,
    MAX_TITLE,
    RESERVED_METADATA,
    VERSION,
    Ack,
    Bye,
    Cancel,
    Heartbeat,
    Hello,
    LogRecord,
    Message,
    OperationFinish,
    OperationStart,
    PhaseFinish,
    PhaseStart,
    PhaseState,
    ProtocolError,
    Refused,
    Resumed,
    Resync,
    State,
    checked_keys,
    clamp_count,
    clean_metadata,
    clip,
    is_wire_key,
)

__all__ = [  # every message and limit, as wire.NAME
    "MAX_BATCH", "MAX_COUNT", "MAX_DESCRIPTION", "MAX_FRAME", "MAX_ID", "MAX_INT", "MAX_LOG", "MAX_META_ITEMS",
    "MAX_META_KEY", "MAX_META_VALUE", "MAX_PID", "MAX_REASON", "MAX_TEXT", "MAX_TITLE", "RESERVED_METADATA",
    "VERSION", "Ack", "Bye", "Cancel", "Heartbeat", "Hello", "LogRecord", "Message", "OperationFinish",
    "OperationStart", "PhaseFinish", "PhaseStart", "PhaseState", "ProtocolError", "Refused", "Resumed", "Resync",
    "State", "clamp_count", "clean_metadata", "clip", "decode", "encode", "encode_state",
]

_UNPACK_LIMITS: Final = {
    "raw": False, "strict_map_key": True, "use_list": True, "max_str_len": MAX_LOG, "max_bin_len": 0,
    "max_ext_len": 0, "max_array_len": 2 * MAX_BATCH, "max_map_len": MAX_META_ITEMS,
}


# --- encoding ---------------------------------------------------------------------------------


def _clip_opt(text: object, limit: int) -> str | None:
    return None if text is None else clip(text, limit)


def _clamp_opt(total: int | None) -> int | None:
    return None if total is None else min(total, MAX_COUNT)


def _body(message: Message) -> list[Any]:
    if isinstance(message, Hello):
        return [clip(message.client_id, MAX_ID), message.pid, clip(message.host, MAX_ID)]
    if isinstance(message, OperationStart):
        return [message.operation_id, clip(message.title, MAX_TITLE),
                _clip_opt(message.description, MAX_DESCRIPTION)]
    if isinstance(message, OperationFinish):
        return [message.operation_id, message.success]
    if isinstance(message, PhaseStart):
        return [message.handle, message.phase_id, message.operation_id, message.parent,
                clip(message.title, MAX_TITLE), _clip_opt(message.description, MAX_DESCRIPTION),
                _clamp_opt(message.total)]
    if isinstance(message, PhaseFinish):
        return [message.handle, clamp_count(message.current), _clamp_opt(message.total),
                _clip_opt(message.message, MAX_TEXT),
                message.success, _clip_opt(message.reason, MAX_REASON), clean_metadata(message.metadata)]
    if isinstance(message, State):
        return [[_state_entry(entry) for entry in message.phases]]
    if isinstance(message, LogRecord):
        return [message.level, clip(message.logger, MAX_ID), clip(message.message, MAX_LOG - 64),
                message.created]
    if isinstance(message, Ack):
        return [list(message.acked)]
    if isinstance(message, Cancel):
        return [message.operation_id, message.handle]
    if isinstance(message, Resumed):
        return [message.handle, message.current, message.total, message.finished, message.done, list(message.keys)]
    if isinstance(message, Refused):
        return [clip(message.reason, MAX_REASON)]
    return []  # Heartbeat, Bye, Resync


def _state_entry(entry: PhaseState) -> list[Any]:
    fields = [entry.handle, clamp_count(entry.current), _clamp_opt(entry.total), _clip_opt(entry.message, MAX_TEXT),
              clean_metadata(entry.metadata)]
    return fields if not entry.keys else [*fields, list(entry.keys)]  # item keys: a sixth field, when any


def encode(message: Message, seq: int | None = None) -> bytes:
    """Pack one message into one frame (numbered ``seq`` if given, else its own ``seq``).

    Text is clipped to the wire's limits; ids are not (an id that is too long would change
    meaning if cut, so clients refuse such ids when they are created).

    Raises:
        ProtocolError: the packed frame is larger than ``MAX_FRAME`` (e.g. a ``State`` with
            too many entries: use ``encode_state``).
    """
    number = message.seq if seq is None else seq
    frame: bytes = msgpack.packb([VERSION, message.KIND, number, *_body(message)], use_bin_type=True)
    if len(frame) > MAX_FRAME:
        raise ProtocolError("oversize", f"{type(message).__name__} packs to {len(frame)} bytes")
    return frame


def encode_state(entries: Iterable[PhaseState], next_seq: Callable[[], int]) -> list[bytes]:
    """Pack phase states into as few ``State`` frames as fit ``MAX_FRAME`` each.

    Args:
        entries: the states to send.
        next_seq: called once per frame for its sequence number.

    Returns:
        The frames, in order; empty if there were no entries.
    """
    packed = [msgpack.packb(_state_entry(entry), use_bin_type=True) for entry in entries]
    frames: list[bytes] = []
    start = 0
    while start < len(packed):
        size, end = 24, start  # 24 bytes: the envelope and the array headers, generously
        while end < len(packed) and end - start < MAX_BATCH and size + len(packed[end]) <= MAX_FRAME:
            size += len(packed[end])
            end += 1
        end = max(end, start + 1)  # one entry always fits: its strings are clipped
        head = msgpack.Packer(use_bin_type=True)
        frame = (
            head.pack_array_header(4) + head.pack(VERSION) + head.pack(State.KIND) + head.pack(next_seq())
            + head.pack_array_header(end - start) + b"".join(packed[start:end])
        )
        frames.append(frame)
        start = end
    return frames


# --- decoding ---------------------------------------------------------------------------------


def decode(frame: bytes) -> Message:
    """Unpack and validate one frame.

    Args:
        frame: the raw bytes received.

    Returns:
        The message, with every string stripped of control characters.

    Raises:
        ProtocolError: the frame is not a valid message of this protocol version; nothing else.
    """
    if len(frame) > MAX_FRAME:
        raise ProtocolError("oversize", f"{len(frame)} bytes")
    try:
        items = msgpack.unpackb(frame, **_UNPACK_LIMITS)
    except Exception as exc:  # msgpack raises several ValueError/TypeError subclasses
        raise ProtocolError("malformed", type(exc).__name__) from exc
    if not isinstance(items, list) or len(items) < 3:
        raise ProtocolError("malformed", "not an envelope")
    version, kind, seq, *fields = items
    if version != VERSION or isinstance(version, bool):
        raise ProtocolError("version", repr(version)[:20])
    parse = _PARSERS.get(kind) if isinstance(kind, int) and not isinstance(kind, bool) else None
    if parse is None:
        raise ProtocolError("kind", repr(kind)[:20])
    arity, build = parse
    if len(fields) != arity:
        raise ProtocolError("schema", f"kind {kind} takes {arity} fields, got {len(fields)}")
    return build(_count(seq, "seq"), fields)


def _count(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_INT:
        raise ProtocolError("schema", f"{name} must be a non-negative int")
    return value


def _opt_count(value: Any, name: str) -> int | None:
    return None if value is None else _count(value, name)


def _number(value: Any, name: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolError("schema", f"{name} must be a number")
    if not (math.isfinite(value) and value >= 0):
        raise ProtocolError("schema", f"{name} must be finite and >= 0")
    return value


def _quantity(value: Any, name: str) -> int | float:
    """A ``current``: a number from 0 to ``MAX_COUNT``."""
    number = _number(value, name)
    if number > MAX_COUNT:
        raise ProtocolError("range", f"{name} is over {MAX_COUNT}")
    return number


def _total(value: Any) -> int | None:
    """A ``total``: ``None`` or an int from 0 to ``MAX_COUNT``."""
    total = None if value is None else _count(value, "total")
    if total is not None and total > MAX_COUNT:
        raise ProtocolError("range", f"total is over {MAX_COUNT}")
    return total


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ProtocolError("schema", f"{name} must be a bool")
    return value


def _text(value: Any, name: str, limit: int, *, keep_lines: bool = False) -> str:
    if not isinstance(value, str):
        raise ProtocolError("schema", f"{name} must be a string")
    if len(value) > limit:  # characters: a cheap bound before encoding
        raise ProtocolError("schema", f"{name} is too long")
    return strip_controls(value, keep_lines=keep_lines)


def _opt_text(value: Any, name: str, limit: int) -> str | None:
    return None if value is None else _text(value, name, limit)


def _ident(value: Any, name: str) -> str:
    text = _text(value, name, MAX_ID)
    if not text:
        raise ProtocolError("schema", f"{name} is empty")
    return text


def _metadata(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError("schema", "metadata must be a map")
    cleaned: dict[str, Any] = {}
    for key, item in value.items():
        key = _text(key, "metadata key", MAX_META_KEY)
        if not is_wire_key(key):
            raise ProtocolError("schema", "bad metadata key")
        if isinstance(item, str):
            item = _text(item, "metadata value", MAX_META_VALUE)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ProtocolError("schema", "metadata value must be finite")
        elif item is not None and not isinstance(item, (bool, int)):
            raise ProtocolError("schema", "metadata value must be a scalar")
        cleaned[key] = item
    return cleaned


def _array(value: Any, name: str, limit: int) -> list[Any]:
    if not isinstance(value, list) or len(value) > limit:
        raise ProtocolError("schema", f"{name} must be an array of at most {limit}")
    return value


def _phase_state(value: Any) -> PhaseState:
    entry = _array(value, "state entry", 6)
    if len(entry) < 5:
        raise ProtocolError("schema", "state entry takes 5 fields (6 with item keys)")
    return PhaseState(_count(entry[0], "handle"), _quantity(entry[1], "current"), _total(entry[2]),
                      _opt_text(entry[3], "message", MAX_TEXT), _metadata(entry[4]),
                      checked_keys(entry[5], MAX_KEYS_BYTES) if len(entry) == 6 else ())


def _pid(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_PID:
        raise ProtocolError("schema", f"pid must be an int in 1..{MAX_PID}")
    return value


def _hello(seq: int, f: list[Any]) -> Hello:
    return Hello(seq, _ident(f[0], "client_id"), _pid(f[1]), _text(f[2], "host", MAX_ID))


def _operation_start(seq: int, f: list[Any]) -> OperationStart:
    return OperationStart(
        seq, _ident(f[0], "operation_id"), _text(f[1], "title", MAX_TITLE),
        _opt_text(f[2], "description", MAX_DESCRIPTION),
    )


def _phase_start(seq: int, f: list[Any]) -> PhaseStart:
    return PhaseStart(
        seq, _count(f[0], "handle"), _ident(f[1], "phase_id"), _ident(f[2], "operation_id"),
        _opt_count(f[3], "parent"), _text(f[4], "title", MAX_TITLE),
        _opt_text(f[5], "description", MAX_DESCRIPTION), _total(f[6]),
    )


def _phase_finish(seq: int, f: list[Any]) -> PhaseFinish:
    return PhaseFinish(
        seq, _count(f[0], "handle"), _quantity(f[1], "current"), _total(f[2]),
        _opt_text(f[3], "message", MAX_TEXT), _flag(f[4], "success"), _opt_text(f[5], "reason", MAX_REASON),
        _metadata(f[6]),
    )


def _log(seq: int, f: list[Any]) -> LogRecord:
    level = _count(f[0], "level")
    created = _number(f[3], "created")
    return LogRecord(seq, min(level, 100), _text(f[1], "logger", MAX_ID),
                     _text(f[2], "message", MAX_LOG, keep_lines=True), float(created))


def _ack(seq: int, f: list[Any]) -> Ack:
    return Ack(seq, tuple(_count(s, "acked seq") for s in _array(f[0], "acked", MAX_BATCH)))


_PARSERS: Final[dict[int, tuple[int, Callable[[int, list[Any]], Message]]]] = {
    Hello.KIND: (3, _hello),
    Heartbeat.KIND: (0, lambda seq, f: Heartbeat(seq)),
    OperationStart.KIND: (3, _operation_start),
    OperationFinish.KIND: (2, lambda seq, f: OperationFinish(seq, _ident(f[0], "operation_id"),
                                                             _flag(f[1], "success"))),
    PhaseStart.KIND: (7, _phase_start),
    PhaseFinish.KIND: (7, _phase_finish),
    State.KIND: (1, lambda seq, f: State(seq, tuple(_phase_state(e) for e in _array(f[0], "phases", MAX_BATCH)))),
    LogRecord.KIND: (4, _log),
    Bye.KIND: (0, lambda seq, f: Bye(seq)),
    Ack.KIND: (1, _ack),
    Cancel.KIND: (2, lambda seq, f: Cancel(seq, _ident(f[0], "operation_id"), _opt_count(f[1], "handle"))),
    Resync.KIND: (0, lambda seq, f: Resync(seq)),
    Refused.KIND: (1, lambda seq, f: Refused(seq, _text(f[0], "reason", MAX_REASON))),
    Resumed.KIND: (6, lambda seq, f: Resumed(
        seq, _count(f[0], "handle"), None if f[1] is None else _quantity(f[1], "current"), _total(f[2]),
        _flag(f[3], "finished"), _count(f[4], "done"), checked_keys(f[5], 2 * MAX_KEYS_BYTES))),
}

