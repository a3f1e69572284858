"""Applying decoded worker messages to the aggregator's local tracker.

A message reaches the applier already validated by ``wire.decode`` (numbers finite and
non-negative, text stripped of control characters), so nothing is checked twice: a phase state
goes straight to ``phase.apply_state(current, total, message, metadata)``, one lock round trip
and at most one event.  Everything else goes through the tracker's public API
(``start_operation``, ``get_operation``, ``start_phase`` on an operation or a phase,
``finish_phase``, ``finish_operation``), so the tracker's sinks see remote phases exactly like
local ones.  A worker that attaches to one of the tracker's operations adds its phases there.

What cannot be applied is dropped and counted by reason in ``drops``: a state older than the
newest one applied to its phase (``stale``) or arriving after the phase finished (``late``), a
phase of an unknown operation or parent, too many phases or operations open for one client
(``too_many_phases``, ``too_many_operations``), and so on; what a client that was lost and came
back resends of its old operations and phases is ``after_lost`` (they stay lost: see
``registry``).  Re-applying a resent start or finish does nothing.  A stalled client's open
phases are flagged ``stalled`` (``stall``) for the display while it is in doubt; nothing is
finished until it is known lost (``lose``).  A worker that leaves, saying goodbye (``BYE``) or
lost, is recorded in the tracker's ``departures`` (the dashboard's Workers table shows it
``exited`` or ``lost``, on any host).  Worker log records are re-emitted through
``logging.getLogger(name).handle(...)``.
"""

from __future__ import annotations

import logging
import socket
from collections import Counter
from collections.abc import Callable
from typing import Any

from .._base.events import Worker
from .._base.port import PhaseFinishedError, ProgressError
from .._core.departures import departures
from .._core.phases import BaseProgressOperation, BaseProgressPhase
from .._core.tracker import BaseProgressTracker
from . import wire
from .registry import RemoteClient, RemotePhase
from .resumes import resume_replies

__all__ = ["Applier", "WorkerLogs"]

WORKER_LOGGER = "mpprogress.worker"
"""Where worker records go once ``max_logger_names`` distinct names were used."""


class WorkerLogs:
    """Re-emits worker log records in this process, under their logger's name.

    Args:
        max_logger_names: distinct logger names created for worker records; records under
            further new names go to ``mpprogress.worker`` (loggers are never freed: workers
            must not be able to mint them without bound).
    """

    def __init__(self, max_logger_names: int = 1000) -> None:
        self._max_names = max_logger_names
        self._names: set[str] = set()

    def emit(self, pid: int, message: wire.LogRecord) -> None:
        """Hand the record of worker ``pid`` to this process's logging, if its level is enabled."""
        name = message.logger
        if name not in self._names:
            if len(self._names) >= self._max_names:
                name = WORKER_LOGGER
            else:
                self._names.add(name)
        logger = logging.getLogger(name) if name != "root" else logging.getLogger()
        if not logger.isEnabledFor(message.level):
            return
        record = logger.makeRecord(logger.name, message.level, "(worker)", 0, message.message, (), None)
        record.created = message.created
        record.process = pid
        record.processName = f"worker-{pid}"
        logger.handle(record)


class Applier:
    """Applies one client's messages to ``tracker`` (on the aggregator's thread only).

    Args:
        tracker: the local tracker remote phases are added to.
        drops: where dropped messages are counted, by reason.
        reply: sends a message back to a client (a ``CANCEL`` for a phase that joins an
            operation already cancelled).
        max_phases_per_client: phases one client may have open at once; starts beyond are
            dropped (a runaway or hostile worker cannot exhaust the parent's memory).
        max_operations_per_client: operations of its own one client may have open at once;
            starts beyond are dropped (``too_many_operations``), for the same reason.
        max_phases: phases all clients together may have open; starts beyond are dropped
            (``too_many_phases_total``): the per-client quota times thousands of clients is no bound.
        max_operations: the same for the clients' own operations (``too_many_operations_total``).
        logs: where worker log records go.
    """

    def __init__(
        self,
        tracker: BaseProgressTracker,
        drops: Counter[str],
        reply: Callable[[RemoteClient, wire.Message], object],
        *,
        max_phases_per_client: int = 10_000,
        max_operations_per_client: int = 1000,
        max_phases: int = 50_000,
        max_operations: int = 10_000,
        logs: WorkerLogs | None = None,
    ) -> None:
        self.tracker = tracker
        self._drops = drops
        self._reply = reply
        self._max_phases = max_phases_per_client
        self._max_operations = max_operations_per_client
        self._max_total = (max_phases, max_operations)
        self.open_phases = self.open_operations = 0
        """All clients' open phases and own operations: counted up here as they start, counted
        again from the clients by ``recount`` (finishes, losses and retirements come down then)."""
        self._logs = logs or WorkerLogs()
        self._hostname = socket.gethostname()
        self._handlers: dict[type[Any], Callable[[RemoteClient, Any], None]] = {
            wire.State: self._apply_states,
            wire.PhaseStart: self._start_phase,
            wire.PhaseFinish: self._finish_phase,
            wire.OperationStart: self._start_operation,
            wire.OperationFinish: self._finish_operation,
            wire.LogRecord: lambda client, message: self._logs.emit(client.pid, message),
            wire.Hello: _nothing,  # the registry's
            wire.Heartbeat: _nothing,
            wire.Bye: lambda client, message: self._departures.add(self._worker(client), "exited"),
        }
        self._departures = departures(tracker)

    def apply(self, client: RemoteClient, message: wire.Message) -> None:
        """Apply one message of ``client``; a kind a client never sends is dropped and counted."""
        handler = self._handlers.get(type(message))
        if handler is None:
            self._drops["unexpected_kind"] += 1  # ACK, CANCEL, RESYNC: the aggregator's kinds
            return
        handler(client, message)

    def stall(self, client: RemoteClient, stalled: bool) -> None:
        """Show (or stop showing) ``client``'s open phases as stalled: in doubt, not finished."""
        client.stalled = stalled
        for remote in client.phases.values():
            remote.phase.stalled = stalled

    def lose(self, client: RemoteClient) -> int:
        """Finish a lost client's open phases as failed (``"lost"``), and its own operations.

        Returns:
            How many phases it held (what losing it may give back).
        """
        for remote in client.phases.values():
            if not remote.phase.finished:
                remote.container.finish_phase(remote.phase.phase_id, False, reason="lost")
        for operation_id in client.operations:
            self.tracker.finish_operation(operation_id, False)
        self._departures.add(self._worker(client), "lost")
        return len(client.phases)

    def _apply_states(self, client: RemoteClient, message: wire.State) -> None:
        for entry in message.phases:
            remote = client.phases.get(entry.handle)
            if remote is not None and entry.keys:  # item keys done: recorded however stale the state
                remote.phase.record_done(entry.keys)
            if remote is None:
                self._drop(client, "unknown_phase" if entry.handle not in client.finished else "late")
            elif remote.phase.finished:
                self._drops["late"] += 1
            elif message.seq <= remote.seq:
                self._drops["stale"] += 1
            else:
                remote.seq = message.seq
                try:
                    remote.phase.apply_state(entry.current, entry.total, entry.message, entry.metadata)
                except PhaseFinishedError:  # finished here meanwhile, e.g. with its operation
                    self._drops["late"] += 1

    def _start_phase(self, client: RemoteClient, message: wire.PhaseStart) -> None:
        if message.handle in client.phases or message.handle in client.finished:
            return  # a resend
        op = self.tracker.get_operation(message.operation_id)
        if op is None:
            self._drops["unknown_operation"] += 1
            return
        if len(client.phases) >= self._max_phases:
            self._drops["too_many_phases"] += 1
            return
        if self.open_phases >= self._max_total[0]:
            self._drops["too_many_phases_total"] += 1
            return
        container: BaseProgressOperation | BaseProgressPhase = op
        if message.parent is not None:
            parent = client.phases.get(message.parent)
            if parent is None:
                self._drops["unknown_parent"] += 1
                return
            container = parent.phase
        try:
            phase = container.start_phase(
                message.phase_id, message.title, message.total, message.description, worker=self._worker(client)
            )
        except (ValueError, ProgressError):  # e.g. a phase id the tracker already has
            self._drop(client, "phase_rejected")
            return
        client.phases[message.handle] = RemotePhase(phase, container, message.seq)
        self.open_phases += 1
        client.join(phase.operation_id)
        if self.tracker.resuming:  # the worker waits to hear where its phase resumes
            for reply in resume_replies(message.handle, phase):
                self._reply(client, reply)
        if phase.cancelled:  # it joined an operation that was already cancelled
            self._reply(client, wire.Cancel(0, phase.operation_id, message.handle))

    def _finish_phase(self, client: RemoteClient, message: wire.PhaseFinish) -> None:
        remote = client.phases.pop(message.handle, None)
        if remote is None:
            if message.handle not in client.finished:
                self._drop(client, "unknown_phase")
            return
        client.finished.append(message.handle)
        try:
            remote.phase.apply_state(message.current, message.total, message.message, message.metadata)
        except PhaseFinishedError:  # finished here already, e.g. with its operation
            return
        remote.container.finish_phase(remote.phase.phase_id, message.success, reason=message.reason)

    def _drop(self, client: RemoteClient, reason: str) -> None:
        """Count a dropped message; a returned client's old phases and operations are ``after_lost``."""
        self._drops["after_lost" if client.returned else reason] += 1

    def _worker(self, client: RemoteClient) -> Worker:
        """Who a client is, for events: this host's name for a local worker, else its identity."""
        return Worker(self._hostname if client.here else client.host, client.pid)

    def _start_operation(self, client: RemoteClient, message: wire.OperationStart) -> None:
        if message.operation_id in client.operations:
            return  # a resend
        if len(client.operations) >= self._max_operations:
            self._drops["too_many_operations"] += 1
            return
        if self.open_operations >= self._max_total[1]:
            self._drops["too_many_operations_total"] += 1
            return
        try:
            self.tracker.start_operation(
                message.operation_id, message.title, message.description, worker=self._worker(client)
            )
        except ValueError:
            self._drop(client, "operation_exists")
            return
        client.operations.add(message.operation_id)
        self.open_operations += 1

    def recount(self, clients: list[RemoteClient]) -> None:
        """Count the open phases and operations of ``clients`` (every client there is) again."""
        self.open_phases = sum(len(client.phases) for client in clients)
        self.open_operations = sum(len(client.operations) for client in clients)

    def _finish_operation(self, client: RemoteClient, message: wire.OperationFinish) -> None:
        if message.operation_id in client.operations:
            client.operations.discard(message.operation_id)
            self.tracker.finish_operation(message.operation_id, message.success)


def _nothing(client: RemoteClient, message: wire.Message) -> None:
    """Messages whose only effect is the acknowledgement and the client's ``last_seen``."""
