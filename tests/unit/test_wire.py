"""The wire codec: round trips, clipping to the frame size, and a decoder that only raises ProtocolError."""

from __future__ import annotations

import contextlib
import itertools
import subprocess
import sys

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpprogress._base.port import ProgressError
from mpprogress._base.text import strip_controls
from mpprogress._remote import wire
from mpprogress._remote.wire import ProtocolError


def test_importing_the_wire_does_not_import_zmq() -> None:
    code = "import mpprogress._remote.wire, sys; print('zmq' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


MESSAGES: list[wire.Message] = [
    wire.Hello(1, "client-1", 4242, "host"),
    wire.Heartbeat(2),
    wire.OperationStart(3, "op", "Scrape", None),
    wire.OperationFinish(4, "op", False),
    wire.PhaseStart(5, 7, "phase-id", "op", None, "Links", "find them", 10),
    wire.PhaseStart(6, 8, "child-id", "op", 7, "Child", None, None),
    wire.PhaseFinish(7, 7, 10, 10, "done", True, None, {"pages": 3}),
    wire.PhaseFinish(8, 8, 2.5, None, None, False, "lost"),
    wire.State(9, (wire.PhaseState(7, 3, 10, "url", {"size": 12, "ok": True, "ratio": 0.5, "n": None}),)),
    wire.LogRecord(10, 30, "worker.log", "line one\nline two", 1700000000.25),
    wire.Bye(11),
    wire.Ack(0, (1, 5, 7)),
    wire.Cancel(0, "op", None),
    wire.Cancel(0, "op", 7),
    wire.Resync(0),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip(message: wire.Message) -> None:
    assert wire.decode(wire.encode(message)) == message


def test_control_characters_are_stripped_and_text_is_clipped() -> None:
    start = wire.PhaseStart(1, 1, "p", "o", None, "t\x1b[31mred\x07" + "é" * 500, "a\nb\u202e", 1)
    decoded = wire.decode(wire.encode(start))
    assert isinstance(decoded, wire.PhaseStart)
    assert decoded.title.startswith("t[31mred")
    assert len(decoded.title.encode()) <= wire.MAX_TITLE
    assert decoded.description == "ab"
    log = wire.decode(wire.encode(wire.LogRecord(2, 20, "x", "a\tb\nc\x1b\r", 1.0)))
    assert isinstance(log, wire.LogRecord) and log.message == "a\tb\nc"


def test_text_is_cleaned_with_the_one_sanitiser_and_errors_share_the_base() -> None:
    title = "a\u2066b\x9bc\x1bd\u202ee"
    decoded = wire.decode(wire.encode(wire.OperationStart(1, "op", title, None)))
    assert isinstance(decoded, wire.OperationStart)
    assert decoded.title == strip_controls(title) == "abcde"
    assert issubclass(ProtocolError, ProgressError) and issubclass(ProtocolError, ValueError)
    assert wire.decode(wire.encode(wire.Hello(1, "c", wire.MAX_PID, "h"))) == wire.Hello(1, "c", wire.MAX_PID, "h")


def test_metadata_is_reduced_to_scalars_under_safe_keys() -> None:
    cleaned = wire.clean_metadata(
        {"url": "u", "event_type": "x", "current": 3, "bad-key": 1, "obj": object(), "inf": float("inf"), "n": 1}
    )
    assert set(cleaned) == {"url", "obj", "inf", "n"}
    assert isinstance(cleaned["obj"], str) and isinstance(cleaned["inf"], str)


def test_state_batches_split_to_fit_the_frame_limit() -> None:
    seqs = itertools.count(1)
    entries = [wire.PhaseState(i, i, 1000, "m" * 1000, {"k": "v" * 500}) for i in range(300)]
    frames = wire.encode_state(entries, lambda: next(seqs))
    assert len(frames) > 1
    assert all(len(frame) <= wire.MAX_FRAME for frame in frames)
    decoded = [wire.decode(frame) for frame in frames]
    assert [m.seq for m in decoded] == list(range(1, len(frames) + 1))
    handles = [entry.handle for m in decoded if isinstance(m, wire.State) for entry in m.phases]
    assert handles == list(range(300))
    assert wire.encode_state([], lambda: next(seqs)) == []


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        ([2, wire.Heartbeat.KIND, 1], "version"),
        ([1, 99, 1], "kind"),
        ([1, True, 1], "kind"),
        ([1, wire.Heartbeat.KIND, -1], "schema"),
        ([1, wire.Heartbeat.KIND, 1, "extra"], "schema"),
        ([1, wire.State.KIND, 1, [[1, -5, None, None, {}]]], "schema"),
        ([1, wire.State.KIND, 1, [[1, float("nan"), None, None, {}]]], "schema"),
        ([1, wire.State.KIND, 1, [[1, 1, 2.5, None, {}]]], "schema"),
        ([1, wire.State.KIND, 1, [[1, 1, None, None, {"event_type": 1}]]], "schema"),
        ([1, wire.State.KIND, 1, [[1, 1, None, None, {"k": [1]}]]], "schema"),
        ([1, wire.PhaseFinish.KIND, 1, 1, 1, None, None, 1, None, {}], "schema"),
        ([1, wire.PhaseStart.KIND, 1, 1, "", "op", None, "t", None, None], "schema"),
        ([1, wire.Hello.KIND, 1, "c", 2**31, "h"], "schema"),  # os.kill would overflow on it
        ([1, wire.Hello.KIND, 1, "c", 0, "h"], "schema"),  # kill(0) signals the receiver's own group
        ([1, wire.Hello.KIND, 1, "c", True, "h"], "schema"),
        ({"a": 1}, "malformed"),
    ],
)
def test_invalid_frames_name_their_reason(items: object, reason: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        wire.decode(msgpack.packb(items))
    assert caught.value.reason == reason


def test_limits_refuse_oversize_bin_ext_and_deep_nesting() -> None:
    with pytest.raises(ProtocolError, match="oversize"):
        wire.decode(b"\x90" * (wire.MAX_FRAME + 1))
    for frame in (
        msgpack.packb([1, 2, b"bytes"]),
        msgpack.packb([1, 2, msgpack.ExtType(1, b"x")]),
        b"\x91" * 4000 + b"\x90",
        msgpack.packb([1, wire.Hello.KIND, 1, "x" * 2000, 1, "h"]),
        msgpack.packb(list(range(500))),
        b"",
        b"\xc1",
    ):
        with pytest.raises(ProtocolError):
            wire.decode(frame)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_raise_only_protocol_error(frame: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        wire.decode(frame)


_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20), st.binary(max_size=5))
_values = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 20), st.lists(_values, max_size=9))
def test_random_structured_frames_raise_only_protocol_error(kind: int, fields: list[object]) -> None:
    try:
        frame = msgpack.packb([1, kind, 1, *fields], use_bin_type=True)
    except (OverflowError, ValueError):
        return
    try:
        message = wire.decode(frame)
    except ProtocolError:
        return
    assert message.seq == 1


@pytest.mark.parametrize(
    "items",
    [
        [1, wire.State.KIND, 1, [[1, 1.7e308, None, None, {}]]],  # finite, and a 309-digit number
        [1, wire.State.KIND, 1, [[1, 2**53 + 1, None, None, {}]]],
        [1, wire.State.KIND, 1, [[1, 1, 2**63 - 1, None, {}]]],
        [1, wire.PhaseStart.KIND, 1, 1, "p", "op", None, "t", None, 2**53 + 1],
        [1, wire.PhaseFinish.KIND, 1, 1, 2.0**60, None, None, True, None, {}],
        [1, wire.PhaseFinish.KIND, 1, 1, 1, 2**63 - 1, None, True, None, {}],
    ],
)
def test_counts_beyond_exact_floats_are_refused_as_out_of_range(items: object) -> None:
    with pytest.raises(ProtocolError) as caught:
        wire.decode(msgpack.packb(items))
    assert caught.value.reason == "range"


def test_counts_up_to_the_limit_pass_and_larger_ones_are_clamped_by_the_sender() -> None:
    assert wire.MAX_COUNT == 2**53  # every integer up to it is exact as a float too
    state = wire.State(1, (wire.PhaseState(1, wire.MAX_COUNT, wire.MAX_COUNT, None),))
    assert wire.decode(wire.encode(state)) == state
    huge = wire.decode(wire.encode(wire.PhaseFinish(2, 1, 1.8e308, 10**18, None, True, None)))
    assert isinstance(huge, wire.PhaseFinish) and (huge.current, huge.total) == (wire.MAX_COUNT, wire.MAX_COUNT)
    start = wire.decode(wire.encode(wire.PhaseStart(3, 1, "p", "op", None, "t", None, 2**63 - 1)))
    assert isinstance(start, wire.PhaseStart) and start.total == wire.MAX_COUNT
    (frame,) = wire.encode_state([wire.PhaseState(1, 10**30, 10**30, None)], lambda: 4)
    decoded = wire.decode(frame)
    assert isinstance(decoded, wire.State) and decoded.phases[0].current == decoded.phases[0].total == wire.MAX_COUNT


def test_a_failure_reason_carries_the_exception_up_to_its_bound() -> None:
    from mpprogress._base.errors import failure_reason

    reason = failure_reason(RuntimeError("the upstream service answered 503 " + "x" * 400))
    assert len(reason) == 200
    decoded = wire.decode(wire.encode(wire.PhaseFinish(3, 1, 2, 5, None, False, reason)))
    assert isinstance(decoded, wire.PhaseFinish) and decoded.reason == reason  # whole: it was cut at 32
    old = wire.decode(wire.encode(wire.PhaseFinish(4, 1, 2, 5, None, False, "error")))  # an older client's
    assert isinstance(old, wire.PhaseFinish) and old.reason == "error"
