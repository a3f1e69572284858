"""The link's send queue: numbering, acknowledgements, refused frames first, bounded logs."""

from __future__ import annotations

import dataclasses

from mpprogress._remote import wire
from mpprogress._remote.sendqueue import MAX_QUEUED_LOGS, Pending, SendQueue


def _start(handle: int, parent: int | None = None) -> wire.PhaseStart:
    return wire.PhaseStart(0, handle, f"p{handle}", "op", parent, f"phase {handle}", None, 10)


def _take(queue: SendQueue, seq: int) -> tuple[bytes, Pending | None]:
    taken = queue.take(seq, now=0.0)
    assert taken is not None
    return taken


def test_a_refused_message_goes_again_before_anything_queued_after_it() -> None:
    queue = SendQueue(wire.Heartbeat(0))
    queue.put(_start(1))
    queue.put(_start(2, parent=1))
    _, hello = _take(queue, 1)
    frame, start = _take(queue, 2)
    assert start is not None and start.message == _start(1)  # as queued: the frame carries the seq
    assert wire.decode(frame) == dataclasses.replace(start.message, seq=2)
    queue.refuse(start)
    assert queue.refused() == [start]
    assert queue.refused() == []  # handed out once: refused again only if the socket says so
    assert queue.due(now=10.0, interval=0.5) == [hello]  # a refused one is not "sent": not due
    start.refused = False  # the link sent it
    assert queue.due(now=10.0, interval=0.5) == [hello, start]
    assert wire.decode(_take(queue, 3)[0]) == dataclasses.replace(_start(2, parent=1), seq=3)


def test_acknowledged_messages_are_forgotten_and_settle_the_queue() -> None:
    queue = SendQueue(wire.Heartbeat(0))
    queue.put(_start(1))
    _take(queue, 1)
    _take(queue, 2)
    assert queue.take(3, now=0.0) is None
    assert not queue.settled
    assert queue.acknowledge([1, 2, 99]) == [wire.Heartbeat(0), _start(1)]
    assert queue.settled


def test_restart_sends_the_rebuild_first_and_forgets_the_unacknowledged() -> None:
    queue = SendQueue(wire.Heartbeat(0))
    queue.put(_start(1))
    _take(queue, 1)
    _take(queue, 2)
    queue.put(_start(2))
    queue.restart([wire.Heartbeat(0), _start(1)])
    order = [wire.decode(_take(queue, seq)[0]) for seq in (10, 11, 12)]
    assert order == [wire.Heartbeat(10), dataclasses.replace(_start(1), seq=11), dataclasses.replace(_start(2), seq=12)]
    assert queue.acknowledge([1, 2]) == []  # seqs 1 and 2 of before the restart is forgotten


def test_log_records_are_bounded_and_never_kept_for_acknowledgement() -> None:
    queue = SendQueue(wire.Heartbeat(0))
    record = wire.LogRecord(0, 20, "x", "message", 0.0)
    for _ in range(MAX_QUEUED_LOGS + 5):
        queue.put_log(record)
    assert queue.logs_dropped == 5
    _take(queue, 1)  # the first message
    frame, pending = _take(queue, 2)
    assert pending is None and wire.decode(frame) == dataclasses.replace(record, seq=2)
    assert queue.acknowledge([1]) == [wire.Heartbeat(0)]
    assert not queue.settled  # 999 records still queued


def test_each_resend_doubles_the_wait_before_the_next_up_to_eight_times() -> None:
    queue = SendQueue(wire.Heartbeat(0))
    _, hello = _take(queue, 1)
    assert hello is not None
    waits = []
    for resends in range(5):
        hello.resends, hello.sent_at = resends, 0.0
        waits.append(next(w for w in (0.5, 1.0, 2.0, 4.0, 8.0) if queue.due(now=w, interval=0.5)))
    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0]
