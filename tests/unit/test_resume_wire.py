"""Item keys and resume points on the wire: bounded frames, old frames still read."""

from __future__ import annotations

import pytest

from mpprogress._base.resume import MAX_ITEM_KEY, ResumePoint
from mpprogress._core.tracker import BaseProgressTracker
from mpprogress._remote import wire
from mpprogress._remote.client_phases import ItemKeys
from mpprogress._remote.resumes import MAX_RESUME_FRAMES, resume_replies


def test_state_entries_carry_item_keys_and_old_entries_still_decode() -> None:
    state = wire.State(3, (wire.PhaseState(1, 5, 10, None, {}, ("a", "b")), wire.PhaseState(2, 1, None, None)))
    assert wire.decode(wire.encode(state)) == state
    old = wire.encode(wire.State(4, (wire.PhaseState(2, 1, None, None),)))
    assert wire.decode(old).phases[0].keys == ()  # type: ignore[union-attr]


def test_item_keys_are_checked_when_decoded() -> None:
    for keys in (("",), ("a\x1b[2J",), ("x" * 1000,) * 3):
        frame = wire.encode(wire.State(1, (wire.PhaseState(1, 1, None, None, {}, keys),)))
        with pytest.raises(wire.ProtocolError):
            wire.decode(frame)


def test_a_client_sends_at_most_max_keys_bytes_per_state_and_puts_back_what_failed() -> None:
    keys = ItemKeys()
    keys.pending.extend(f"{'k' * (MAX_ITEM_KEY - 4)}{n:04}" for n in range(100))
    taken = keys.take()
    assert len(taken) > 0 and sum(map(len, taken)) <= wire.MAX_KEYS_BYTES
    frame = wire.encode(wire.State(1, (wire.PhaseState(1, 2**53, 2**53, "m" * 300, {}, taken),)))
    assert len(frame) <= wire.MAX_FRAME and wire.decode(frame).phases[0].keys == taken  # type: ignore[union-attr]
    keys.put_back(taken)
    assert tuple(keys.pending)[: len(taken)] == taken and len(keys.pending) == 100


class Done:
    resuming = True

    def __init__(self, keys: frozenset[str]) -> None:
        self.keys = keys

    def resume_point(self, operation_key: str, phase_key: str) -> ResumePoint:
        return ResumePoint(len(self.keys), 100_000, done_keys=len(self.keys))

    def done_keys(self, operation_key: str, phase_key: str) -> frozenset[str]:
        return self.keys

    def record_done(self, phase_id: str, keys: object) -> None:
        pass

    def __call__(self, **data: object) -> None:
        pass


def replies(keys: frozenset[str]) -> list[wire.Resumed]:
    tracker = BaseProgressTracker(journal=Done(keys))
    phase = tracker.start_operation("op", "Op").start_phase("p", "Phase")
    return resume_replies(7, phase)


def test_resume_replies_fit_frames_and_a_worker_gets_every_key() -> None:
    keys = frozenset(f"https://example.org/{'p' * 60}/{n}" for n in range(3000))
    frames = replies(keys)
    assert all(len(wire.encode(frame)) <= wire.MAX_FRAME for frame in frames)
    heard = ItemKeys()
    for frame in frames:
        heard.heard(wire.decode(wire.encode(frame)))  # type: ignore[arg-type]
    point = heard.wait(0)
    assert point is not None and point.current == 3000 and heard.done == keys


def test_too_many_keys_are_cut_and_the_count_lowered_to_match() -> None:
    keys = frozenset(f"{'k' * 100}{n:06}" for n in range(MAX_RESUME_FRAMES * 40))
    frames = replies(keys)
    assert len(frames) == MAX_RESUME_FRAMES
    sent = sum(len(frame.keys) for frame in frames)
    assert sent < len(keys) and frames[0].current == sent and frames[0].done == sent


def test_a_phase_that_starts_afresh_gets_one_reply() -> None:
    tracker = BaseProgressTracker()
    phase = tracker.start_operation("op", "Op").start_phase("p", "Phase")
    assert resume_replies(3, phase) == [wire.Resumed(0, 3, None, None, False, 0)]
    missing = ItemKeys()
    assert missing.wait(0.01) is None  # nothing heard: it starts afresh
