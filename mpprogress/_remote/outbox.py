"""A client's outbox: what it told the aggregator, and what it must be able to tell it again.

Private to one ``ClientTracker``.  The client's port methods record here, under ``lock``, the
operations and phases they start and finish; the client's link (``link.ClientLink``) reads it on
its own thread through the ``Outbox`` protocol (defined here, used by ``link``): the states that changed, what to send
again after a ``RESYNC``, what an ``ACK`` lets it forget, and the cancellations that came back.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from . import wire
from .client_phases import ClientOperation, ClientPhase

__all__ = ["ClientOutbox", "Outbox"]

_MAX_VIEWS = 256  # views of the parent's operations kept before idle ones are forgotten
_MAX_CANCELLED = 1024  # cancelled operation ids remembered for operations not seen yet


class Outbox(Protocol):
    """What the link asks of its client's outbox (always on the link's thread)."""

    def hello(self) -> wire.Hello:
        """The hello message (its seq is ignored)."""

    def active(self) -> bool:
        """Whether some phase is open (only then can a state change between two frames)."""

    def changed_states(self) -> list[wire.PhaseState]:
        """The states of the phases that changed since the last call."""

    def unsent(self, states: list[wire.PhaseState]) -> None:
        """These states could not be sent: report them again next time."""

    def resync_messages(self) -> list[wire.Message]:
        """Every start and finish the receiver needs to rebuild this client's state."""

    def acked(self, message: wire.Message) -> None:
        """The receiver applied this reliable message."""

    def cancel_received(self, message: wire.Cancel) -> None:
        """The receiver asks to cancel an operation or a phase."""

    def orphaned(self) -> None:
        """The session that started this worker is gone: cancel everything."""

    def resumed(self, message: wire.Resumed) -> None:
        """The receiver says where a phase resumes an earlier run."""


def start_message(phase: ClientPhase) -> wire.PhaseStart:
    """The ``PHASE_START`` that introduces ``phase`` to the aggregator."""
    return wire.PhaseStart(
        0, phase.handle, phase.phase_id, phase.operation_id, phase.parent_handle, phase.title,
        phase.description, phase.total,
    )


class ClientOutbox:
    """Operations and phases of one client, and what the aggregator has of them.

    Args:
        hello: the client's hello, sent first and again on every resync.
    """

    def __init__(self, hello: wire.Hello) -> None:
        self.lock = threading.RLock()
        self.operations: dict[str, ClientOperation] = {}
        """The client's own operations and its views of the parent's, by id."""
        self.open: dict[int, ClientPhase] = {}
        """Phases started and not finished, by handle."""
        self._hello = hello
        self._live: dict[int, ClientPhase] = {}  # started, and not yet acknowledged as finished
        self._finishes: dict[int, wire.PhaseFinish] = {}  # sent, not yet acknowledged
        # (current, total, message) last sent, by handle; read and written on the link's thread
        # only, apart from a new phase's first entry
        self._sent: dict[int, tuple[Any, ...]] = {}
        self._cancelled_operations: dict[str, None] = {}  # oldest first

    # --- the client's side (its threads, under ``lock``) --------------------------------------

    def phase_started(self, phase: ClientPhase) -> wire.PhaseStart:
        """Record a new phase; return the message that announces it."""
        # Its start carries its first state: no state frame until it changes (the link has not
        # seen the handle yet, so this one write from the client's thread races with nothing).
        self._sent[phase.handle] = (0, phase.total, None)
        self._live[phase.handle] = phase
        self.open[phase.handle] = phase
        return start_message(phase)

    def phase_finished(self, finish: wire.PhaseFinish) -> None:
        """Record a finished phase's final message, kept until the aggregator acknowledges it."""
        self.open.pop(finish.handle, None)
        self._finishes[finish.handle] = finish

    def was_cancelled(self, operation_id: str) -> bool:
        """Whether the aggregator cancelled this operation before the client knew it."""
        return operation_id in self._cancelled_operations

    def forget_idle_views(self) -> None:
        """Drop views of the parent's operations whose phases all finished (past 256 views)."""
        if len(self.operations) <= _MAX_VIEWS:
            return
        for operation_id, op in list(self.operations.items()):
            if not op.owned and all(getattr(p, "_finished", True) for p in op.phases.values()):
                del self.operations[operation_id]

    # --- the link's side (``link.Outbox``, on the link's thread) ------------------------------

    def hello(self) -> wire.Hello:
        """The hello message the link sends first and on every resync."""
        return self._hello

    def active(self) -> bool:
        """Whether some phase is open."""
        return bool(self.open)

    def changed_states(self) -> list[wire.PhaseState]:
        """The absolute state of every open phase that changed since it was last sent."""
        with self.lock:
            phases = list(self.open.values())
        states = []
        for phase in phases:
            state = (phase.current, phase.total, phase.last_message)
            metadata = phase._metadata
            if state != self._sent.get(phase.handle) or metadata or phase.keys.pending:
                if metadata:
                    phase._metadata = {}
                self._sent[phase.handle] = state
                keys = phase.keys.take()  # item keys done (resume), bounded per state
                states.append(wire.PhaseState(phase.handle, state[0], state[1], state[2], metadata, keys))
        return states

    def unsent(self, states: list[wire.PhaseState]) -> None:
        """Mark these phases to be sent again (their item keys too)."""
        for state in states:
            self._sent.pop(state.handle, None)
            phase = self.open.get(state.handle)
            if state.keys and phase is not None:
                phase.keys.put_back(state.keys)

    def resumed(self, message: wire.Resumed) -> None:
        """Where a phase resumes (the aggregator's reply to its start)."""
        phase = self._live.get(message.handle)
        if phase is not None:
            phase.keys.heard(message)

    def resync_messages(self) -> list[wire.Message]:
        """Every start and pending finish, in an order the aggregator can apply."""
        with self.lock:
            owned = [op for op in self.operations.values() if op.owned]
            messages: list[wire.Message] = [
                wire.OperationStart(0, op.operation_id, op.title, op.description) for op in owned
            ]
            messages.extend(start_message(phase) for phase in self._live.values())
            messages.extend(self._finishes.values())
            messages.extend(wire.OperationFinish(0, op.operation_id, bool(op.success)) for op in owned if op._finished)
        self._sent.clear()
        return messages

    def acked(self, message: wire.Message) -> None:
        """Forget what the aggregator has: finished phases and finished operations."""
        if isinstance(message, wire.PhaseStart):
            # The receiver has the state the start carried; a state sent before the start was
            # applied was dropped, and differs from it unless nothing changed: sent again then.
            self._sent[message.handle] = (0, message.total, None)
        elif isinstance(message, wire.PhaseFinish):
            self._sent.pop(message.handle, None)
            with self.lock:
                self._finishes.pop(message.handle, None)
                self._live.pop(message.handle, None)
        elif isinstance(message, wire.OperationFinish):
            with self.lock:
                op = self.operations.get(message.operation_id)
                if op is not None and op._finished:
                    del self.operations[message.operation_id]

    def orphaned(self) -> None:
        """The session that started this worker is gone: cancel every operation known here,
        as a ``CANCEL`` from it would (its phases, and theirs, then read ``cancelled``)."""
        with self.lock:
            for operation_id in list(self.operations):
                self.cancel_received(wire.Cancel(0, operation_id, None))

    def cancel_received(self, message: wire.Cancel) -> None:
        """Set the cancelled flag the aggregator asked for."""
        with self.lock:
            if message.handle is not None:
                phase = self._live.get(message.handle)
                if phase is not None:
                    phase._cancelled = True
                return
            op = self.operations.get(message.operation_id)
            if op is not None:
                op._cancelled = True
            self._cancelled_operations[message.operation_id] = None
            while len(self._cancelled_operations) > _MAX_CANCELLED:
                del self._cancelled_operations[next(iter(self._cancelled_operations))]
