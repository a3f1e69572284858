"""Cancellation flowing back to the workers: from the tracker's events to ``CANCEL`` messages.

The aggregator subscribes a ``CancelRequests`` to its tracker.  A ``cancel_requested`` event
(an operation or a phase cancelled in the parent), or an operation that finishes as failed (an
error or Ctrl-C in the parent: work still running in it is wasted), queues a request and wakes
the aggregator's thread, which turns it into a ``CANCEL`` for every client with phases in that
operation (or owning that phase).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from .._base.events import (
    CANCEL_REQUESTED,
    OPERATION_FINISHED,
    CancelRequested,
    EventSink,
    OperationFinished,
    ProgressEvent,
)
from . import wire
from .registry import RemoteClient

__all__ = ["CancelRequests"]


class CancelRequests(EventSink):
    """A tracker callback that queues cancellations for the aggregator's thread.

    Args:
        wake: called after a request is queued (from the thread that delivers the event).
    """

    def __init__(self, wake: Callable[[], None]) -> None:
        self._pending: deque[tuple[str, str | None]] = deque()  # appends and pops are thread-safe
        self._wake = wake

    def __call__(self, *, event_type: str, **data: Any) -> None:
        # Every progress update passes through here too: only two types are worth an object.
        if event_type in (CANCEL_REQUESTED, OPERATION_FINISHED):
            super().__call__(event_type=event_type, **data)

    def handle(self, event: ProgressEvent) -> None:
        """Queue the cancellation ``event`` asks for, if any, and wake the aggregator."""
        if isinstance(event, CancelRequested):
            self._pending.append((event.operation_id, event.phase_id))
        elif isinstance(event, OperationFinished) and not event.success:
            self._pending.append((event.operation_id, None))
        else:
            return
        self._wake()

    def __bool__(self) -> bool:
        return bool(self._pending)

    def take_messages(self, clients: Iterable[RemoteClient]) -> list[tuple[RemoteClient, wire.Cancel]]:
        """Empty the queue: the ``CANCEL`` each of ``clients`` should receive, in order."""
        clients = list(clients)
        messages = []
        while self._pending:
            operation_id, phase_id = self._pending.popleft()
            for client in clients:
                if phase_id is None:
                    if operation_id in client.operations or operation_id in client.joined:
                        messages.append((client, wire.Cancel(0, operation_id, None)))
                    continue
                messages.extend(
                    (client, wire.Cancel(0, operation_id, handle))
                    for handle, remote in client.phases.items()
                    if remote.phase.phase_id == phase_id
                )
        return messages
