"""What a client's link has to send and what awaits an acknowledgement, in order.

Private to ``link.ClientLink``, which guards a ``SendQueue`` with its own lock and owns the
socket: this module keeps the bookkeeping only (no socket, no thread, no clock).

Reliable messages (everything but log records) are numbered when they leave the queue and kept
until acknowledged.  One the socket refused (``refuse``) is sent again before anything queued
after it (``refused``): reliable messages reach the receiver in the order they were queued, so
a phase's start always arrives before its children's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from . import wire

__all__ = ["MAX_QUEUED_LOGS", "Pending", "SendQueue"]

MAX_QUEUED_LOGS = 1000


@dataclass
class Pending:
    """A reliable message sent (or refused by the socket) and not yet acknowledged."""

    message: wire.Message
    frame: bytes
    sent_at: float
    refused: bool = False
    resends: int = 0
    """Times it was sent again: each doubles the wait before the next (at most 8x ``interval``)."""
    """The socket would not take it: nothing queued after it is sent before it is."""


class SendQueue:
    """Messages waiting to be sent, and reliable ones waiting for their acknowledgement.

    Args:
        first: the message sent before any other (the client's hello).
    """

    def __init__(self, first: wire.Message) -> None:
        self.logs_dropped = 0
        self._queue: deque[wire.Message] = deque([first])
        self._queued_logs = 0
        self._unacked: dict[int, Pending] = {}  # by seq, oldest first
        self._refused = False

    def put(self, message: wire.Message) -> None:
        """Queue a reliable message."""
        self._queue.append(message)

    def put_log(self, record: wire.LogRecord) -> None:
        """Queue a log record, or drop and count it when 1,000 records are waiting already."""
        if self._queued_logs >= MAX_QUEUED_LOGS:
            self.logs_dropped += 1
            return
        self._queued_logs += 1
        self._queue.append(record)

    @property
    def settled(self) -> bool:
        """Whether nothing is queued and nothing awaits an acknowledgement."""
        return not self._queue and not self._unacked

    def take(self, seq: int, now: float) -> tuple[bytes, Pending | None] | None:
        """The next queued message numbered ``seq`` and encoded, with its ``Pending`` record if
        it is reliable; ``None`` when the queue is empty."""
        if not self._queue:
            return None
        message = self._queue.popleft()  # kept with its own seq: only the frame carries ``seq``
        frame = wire.encode(message, seq)
        if isinstance(message, wire.LogRecord):
            self._queued_logs -= 1
            return frame, None
        pending = self._unacked[seq] = Pending(message, frame, now)
        return frame, pending

    def refuse(self, pending: Pending) -> None:
        """The socket would not take this message: it goes again before anything else."""
        pending.refused = self._refused = True

    def refused(self) -> list[Pending]:
        """The refused messages, oldest first (to be sent before anything queued)."""
        if not self._refused:
            return []
        self._refused = False  # set again by ``refuse`` if one is refused again
        return [p for p in self._unacked.values() if p.refused]

    def due(self, now: float, interval: float) -> list[Pending]:
        """Messages not acknowledged ``interval`` seconds after they were sent (twice that after
        one resend, four times after two, eight times after more), oldest first.

        A live connection loses no frame: an acknowledgement is late because the receiver is
        busy, and every resend is one more frame for it to read (issue 26: a loaded parent got
        half again as many frames).  Backing off keeps the resend for a connection that broke.
        """
        return [
            p for p in self._unacked.values()
            if not p.refused and now - p.sent_at >= interval * (1 << min(p.resends, 3))
        ]

    def acknowledge(self, seqs: Iterable[int]) -> list[wire.Message]:
        """Forget the messages these seqs numbered; return the ones that were waiting."""
        done = [self._unacked.pop(seq, None) for seq in seqs]
        return [p.message for p in done if p is not None]

    def restart(self, messages: Iterable[wire.Message]) -> None:
        """Forget what awaited an acknowledgement; send ``messages`` before what is queued."""
        self._unacked.clear()
        self._refused = False
        self._queue.extendleft(reversed(list(messages)))
