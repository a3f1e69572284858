"""The worker side: a tracker whose operations and phases report to an aggregator in another process.

``ClientTracker`` implements the same port as the local tracker, so worker code does not change
between modes, and it is only that port: its operations and phases are in ``client_phases``,
what it has told the aggregator is kept by its private outbox (``outbox``), and the link that
delivers it is in ``link`` (whose docstring describes the protocol).  ``update()`` only touches
the phase's own numbers; the link sends the absolute state of the phases that changed every
``flush_interval``, and sends starts and finishes at once, resending them until acknowledged.

Delivery: when a client's last open phase finishes, on ``close()`` and at process exit, the
finishing thread waits until every start and finish was acknowledged, so a worker that is
killed right after its task, as ``Pool.terminate()`` does, has already delivered its final
states.  It waits as long as the aggregator is alive (connected, or answering), at most
``delivery_cap``, and gives up ``delivery_timeout`` after it stopped showing life (see
"Delivery on close" in ``link``).  A client's first phase start waits (once, while the
aggregator shows life) until the aggregator has it, so a worker is seen even if it ends at
once with ``os._exit`` (see "Introduction" in ``link``).  In a worker, ``get_operation(id)`` returns a view of
the parent's operation ``id`` (it is never ``None``: the worker cannot ask the parent without a
round trip); the aggregator drops phases of operations it does not know, and counts them.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import multiprocessing.util
import os
import weakref
from datetime import datetime

from .._base.errors import finish_outcome
from .._base.forksafe import PerProcess
from .._base.formats import format_title
from .._base.port import ProgressError, ProgressTracker
from .._core.tree import fold
from . import wire
from .client_phases import ClientOperation, ClientPhase, checked_id
from .follow import AddressFollower
from .link import ClientLink
from .outbox import ClientOutbox
from .settings import session_pid
from .transport import ClientConfig, SocketSecurity, host_identity

__all__ = ["ClientConfig", "ClientOperation", "ClientPhase", "ClientTracker", "ForwardingLogHandler"]


class ClientTracker(ProgressTracker):
    """A tracker in a worker process, connected to an aggregator at ``address``.

    Args:
        address: the aggregator's address (``ipc://...`` or ``tcp://...``).
        config: timing and queue settings.
        security: applied to the socket before it connects (e.g. CURVE client keys).
        follow: the address file ``address`` was read from: while the connection is down the
            client reads it again and follows the receiver to a new address (``follow``).

    Raises:
        ValueError: the address cannot be connected (``transport.AddressError``).
    """

    def __init__(
        self, address: str, *, config: ClientConfig | None = None, security: SocketSecurity | None = None,
        follow: str | None = None,
    ) -> None:
        self.config = config or ClientConfig()
        self.client_id = os.urandom(16).hex()  # as unique as uuid4, a tenth of its cost
        self.pid = os.getpid()
        self._outbox = ClientOutbox(wire.Hello(0, self.client_id, self.pid, host_identity()))
        self._lock = self._outbox.lock
        self._handles = itertools.count(1)
        self._closed = False
        self.resume_timeout = 0.0
        """Seconds a phase start waits to hear where it resumes (set when the session resumes)."""
        session = session_pid(address, self._outbox.hello().host)
        follower = AddressFollower(follow) if follow else None
        self._link = ClientLink(address, self._outbox, self.config, security, session_pid=session, follow=follower)
        _register_for_exit(self)

    @property
    def address(self) -> str:
        """The aggregator's address."""
        return self._link.address

    @property
    def frames_dropped(self) -> int:
        """Frames dropped because the queue towards the aggregator was full."""
        return self._link.frames_dropped

    # --- the port ---------------------------------------------------------------------------

    def start_operation(self, operation_id: str, title: str, description: str | None = None) -> ClientOperation:
        operation_id = checked_id(operation_id, "operation_id")
        with self._lock:
            known = self._outbox.operations.get(operation_id)
            if known is not None and (known.owned or known.phases):
                raise ValueError(f"Operation {operation_id} already exists")
            op = ClientOperation(operation_id, format_title(title), description, client=self, owned=True)
            op._cancelled = self._outbox.was_cancelled(operation_id)
            self._outbox.operations[operation_id] = op
            self._link.send(wire.OperationStart(0, operation_id, op.title, description))
        return op

    def get_operation(self, operation_id: str) -> ClientOperation:
        """This worker's view of operation ``operation_id`` (one of its own, or the parent's)."""
        operation_id = checked_id(operation_id, "operation_id")
        with self._lock:
            op = self._outbox.operations.get(operation_id)
            if op is None:
                op = ClientOperation(operation_id, operation_id, None, client=self, owned=False)
                op._cancelled = self._outbox.was_cancelled(operation_id)
                self._outbox.operations[operation_id] = op
                self._outbox.forget_idle_views()
            return op

    def finish_operation(self, operation_id: str, success: bool = True, *, reason: str | None = None) -> None:
        """Finish this worker's open phases in the operation, and the operation if it is its own
        (``reason`` is not sent: the parent knows an operation's end by its success)."""
        with self._lock:
            op = self._outbox.operations.get(operation_id)
            if op is None or op._finished:
                return
            self._finish_operation_locked(op, success)
        self._wait_if_idle()

    def close(self) -> None:
        """Finish what is still open, deliver the final states, and disconnect. Idempotent.

        Phases still open are finished: successfully if they reached a non-zero total, else
        failed with reason ``"unfinished"``; this worker's own operations finish with them.
        Waits for the aggregator's acknowledgements while it is alive (at most
        ``config.delivery_cap``), ``config.delivery_timeout`` once it is not.
        """
        if os.getpid() != self.pid:  # an inherited copy in a forked child: not ours to close
            return
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for phase in list(self._outbox.open.values()):
                if not phase._finished:
                    complete = phase.is_complete
                    self._finish_locked(phase, complete, None if complete else "unfinished")
            for op in list(self._outbox.operations.values()):
                if op.owned and not op._finished:
                    self._finish_operation_locked(op, all(p.success for p in op.phases.values()))
            self._link.send(wire.Bye(0))
        self._link.wait_delivered(self.config.delivery_timeout, final=True)
        self._link.close()

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    def log(self, record: logging.LogRecord) -> None:
        """Send a log record to the aggregator (best effort), which re-emits it there."""
        self._link.send_log(
            wire.LogRecord(0, record.levelno, record.name, record.getMessage(), float(record.created))
        )

    # --- starting and finishing (``client_phases.PhaseOwner``) -------------------------------

    def _start_phase(
        self, container: ClientOperation | ClientPhase, phase_id: str, title: str, total: int | None,
        description: str | None,
    ) -> ClientPhase:
        phase_id = checked_id(phase_id, "phase_id")
        with self._lock:
            if container._finished or self._closed:
                raise ProgressError(f"cannot start phase {title!r}: {container!r} has finished")
            if phase_id in container.phases:
                raise ValueError(f"Phase {phase_id} already exists")
            phase = ClientPhase(
                phase_id, format_title(title), total, description, container=container, handle=next(self._handles)
            )
            container.phases[phase_id] = phase
            container.current_phase = phase_id
            self._link.send(self._outbox.phase_started(phase))
        self._link.wait_introduced(self.config.introduction_timeout)
        return phase

    def _finish_phase(self, phase: ClientPhase, success: bool, reason: str | None) -> None:
        if os.getpid() != self.pid:  # a phase inherited by a forked child: finish it locally only
            phase._finished = True
            return
        with self._lock:
            if phase._finished:
                return
            self._finish_locked(phase, success, reason)
        self._wait_if_idle()

    def _finish_locked(self, phase: ClientPhase, success: bool, reason: str | None) -> None:
        """Finish ``phase`` and its open sub-phases (any depth, no recursion), innermost first."""
        Node = tuple[ClientPhase, tuple[bool, str | None]]

        def open_children(node: Node) -> list[Node]:
            outcome = node[1]
            return [
                (child, finish_outcome(*outcome, child.cancelled))
                for child in node[0].phases.values()
                if isinstance(child, ClientPhase) and not child._finished
            ]

        fold([(phase, finish_outcome(success, reason, phase.cancelled))], open_children, self._send_finish)

    def _send_finish(self, node: tuple[ClientPhase, tuple[bool, str | None]], _: list[None]) -> None:
        phase, (success, reason) = node
        phase._finished = True
        phase.completed_at = datetime.now()
        phase.success = success
        phase.reason = reason
        metadata, phase._metadata = phase._metadata, {}
        finish = wire.PhaseFinish(
            0, phase.handle, phase.current, phase.total, phase.last_message, success, phase.reason, metadata
        )
        self._outbox.phase_finished(finish)
        self._link.send(finish)

    def _finish_operation_locked(self, op: ClientOperation, success: bool) -> None:
        success = success and not op.cancelled
        for phase in list(op.phases.values()):
            if isinstance(phase, ClientPhase) and not phase._finished:
                self._finish_locked(phase, success, None)
        if op.owned:
            op._finished = True
            op.completed_at = datetime.now()
            op.success = success
            self._link.send(wire.OperationFinish(0, op.operation_id, success))

    def _wait_if_idle(self) -> None:
        """With no phase left open, wait for the acknowledgements (see the module docstring)."""
        if not self._outbox.open:
            self._link.wait_delivered(self.config.delivery_timeout)


class ForwardingLogHandler(logging.Handler):
    """A logging handler that sends records to the aggregator through a client.

    Args:
        client: the client to send through; by default the process's ``get_tracker()`` when it
            is a ``ClientTracker`` at the time of each record (else records are ignored).  A
            client made in another process (a forked child's copy) is never used.
        level: the handler's level.
    """

    def __init__(self, client: ClientTracker | None = None, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._client = client

    def emit(self, record: logging.LogRecord) -> None:
        client = self._client
        if client is None:
            from .._core.current import current_tracker

            tracker = current_tracker()
            client = tracker if isinstance(tracker, ClientTracker) else None
        if client is None or client.closed or client.pid != os.getpid():  # a forked child's copy
            return
        try:
            client.log(record)
        except Exception:
            self.handleError(record)


# --- closing every client at exit -------------------------------------------------------------

_atexit_installed = False  # a forked child inherits the parent's atexit hooks, and this flag


def _install_exit_hooks() -> weakref.WeakSet[ClientTracker]:
    """Close this process's clients at exit: ``atexit`` for plain interpreters, a
    multiprocessing finalizer for multiprocessing children (they leave through ``os._exit``,
    which skips ``atexit``, and a forked one starts with no finalizers)."""
    global _atexit_installed
    if not _atexit_installed:
        atexit.register(_close_all)
        _atexit_installed = True
    multiprocessing.util.Finalize(None, _close_all, exitpriority=100)
    return weakref.WeakSet()


_exit_clients: PerProcess[weakref.WeakSet[ClientTracker]] = PerProcess(_install_exit_hooks)


def _register_for_exit(client: ClientTracker) -> None:
    _exit_clients.get().add(client)


def _close_all() -> None:
    for client in list(_exit_clients.peek() or ()):
        client.close()
