"""The worker side: client operations and phases that report to an aggregator in another process.

They implement the same port as the local tracker, so worker code does not change between modes.
``update()`` only touches the phase's own numbers: no lock, no I/O, no clock.  A link thread (see
``transport.ClientLink``) sends the absolute state of the phases that changed every
``flush_interval``, and sends starts and finishes at once, resending them until acknowledged.

Counting without a lock: ``self.current += increment`` on an attribute is exact on CPython with
the GIL (the interpreter only switches threads at calls and backward jumps; the in-place add of
ints contains neither), which ``tests/integration/test_multiprocess_client.py`` checks with 8
threads x 100,000 updates on one phase under a 1 us switch interval.  On a free-threaded build
the update takes a lock instead, like the local tracker.

Delivery: when a client's last open phase finishes, on ``close()`` and at process exit, the
finishing thread waits (at most ``delivery_timeout``) until every start and finish was
acknowledged, so a worker that is killed right after its task, as ``Pool.terminate()`` does,
has already delivered its final states.  In a worker, ``get_operation(id)`` returns a view of
the parent's operation ``id`` (it is never ``None``: the worker cannot ask the parent without a
round trip); the aggregator drops phases of operations it does not know, and counts them.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import multiprocessing.util
import os
import threading
import uuid
import weakref
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from ..phases import GIL_ENABLED, checked_count
from ..port import PhaseFinishedError, ProgressError, ProgressOperation, ProgressPhase, ProgressTracker, validate_total
from . import wire
from .transport import ClientConfig, ClientLink, SocketSecurity, host_identity

__all__ = ["ClientConfig", "ClientOperation", "ClientPhase", "ClientTracker", "ForwardingLogHandler"]


_ONE = 1  # ``increment is _ONE`` is true for every ``1`` (CPython caches small ints)


def _checked_id(value: str, name: str) -> str:
    value = str(value)
    if not value or len(value.encode("utf-8", "replace")) > wire.MAX_ID:
        raise ValueError(f"{name} must be 1 to {wire.MAX_ID} bytes of UTF-8, got {value[:40]!r}...")
    return value


class _ClientContainer:
    """Starting and finishing phases, shared by client operations and client phases."""

    _client: ClientTracker
    _finished: bool
    operation_id: str
    phases: dict[str, ProgressPhase]
    current_phase: str | None

    def start_phase(
        self, phase_id: str, title: str, total: int | None = None, description: str | None = None
    ) -> ClientPhase:
        return self._client._start_phase(self, phase_id, title, total, description)

    def finish_phase(self, phase_id: str, success: bool = True, *, reason: str | None = None) -> None:
        phase = self.phases.get(phase_id)
        if isinstance(phase, ClientPhase):
            self._client._finish_phase(phase, success, reason)


class ClientPhase(_ClientContainer, ProgressPhase):
    """A phase in a worker; its numbers are sent to the aggregator by the client's link."""

    def __init__(
        self,
        phase_id: str,
        title: str,
        total: int | None,
        description: str | None,
        *,
        container: ClientOperation | ClientPhase,
        handle: int,
    ) -> None:
        super().__init__(phase_id, title, total, description)
        self._client = container._client
        self._container = container
        self.handle = handle
        self.operation_id = container.operation_id
        self.reason: str | None = None
        self._finished = False
        self._cancelled = False
        self._metadata: dict[str, Any] = {}
        self._sent: tuple[Any, ...] | None = None  # (current, total, message) last sent

    def __repr__(self) -> str:
        return f"<client phase {self.title!r} {self.current}/{self.total}>"

    def update(self, increment: int | float = 1, message: str | None = None, **metadata: Any) -> None:
        # The hot path: ``update(1)`` skips the type check (small ints are one object), and
        # message and metadata cost one test.  Every attribute access here costs ~15 ns.
        if increment is not _ONE and (increment.__class__ is not int or increment < 0):  # type: ignore[operator]
            increment = checked_count(increment, "increment")
        if self._finished:  # inlined, not ``_check_open()``
            raise PhaseFinishedError(f"phase {self.title!r} has finished; it cannot be updated")
        self.current += increment  # exact without a lock under the GIL: see the module docstring
        if message is not None or metadata:
            self._note(message, metadata)

    if not GIL_ENABLED:  # free-threaded CPython: ``+=`` on an attribute is not atomic there

        def update(self, increment: int | float = 1, message: str | None = None, **metadata: Any) -> None:
            if increment.__class__ is not int or increment < 0:  # type: ignore[operator]
                increment = checked_count(increment, "increment")
            with self._client._lock:
                self._check_open()
                self.current += increment
                self._note(message, metadata)

    def track(self, iterable: Iterable[Any], message: str | None = None) -> Iterator[Any]:
        if not GIL_ENABLED:
            yield from super().track(iterable, message)
            return
        # The port's ``track`` calls ``update()`` per item; counting inline here halves the cost.
        if self.total is None and hasattr(iterable, "__len__"):
            self.set_total(len(iterable))  # type: ignore[arg-type]
        if message is not None:
            self.update(0, message)
        for item in iterable:
            yield item
            if self._finished:
                raise PhaseFinishedError(f"phase {self.title!r} has finished; it cannot be updated")
            self.current += 1

    def set_progress(self, current: int | float, message: str | None = None, **metadata: Any) -> None:
        current = checked_count(current, "current")
        self._check_open()
        self.current = current
        self._note(message, metadata)

    def _note(self, message: str | None, metadata: dict[str, Any]) -> None:
        if message is not None:
            self.last_message = message
        if metadata:
            self._metadata.update(metadata)

    def _check_open(self) -> None:
        if self._finished:
            raise PhaseFinishedError(f"phase {self.title!r} has finished; it cannot be updated")

    def set_total(self, total: int | None) -> None:
        total = validate_total(total)
        self._check_open()
        self.total = total

    def cancel(self) -> None:
        """Cancel this phase's work in this worker (the parent is not told)."""
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        return self._cancelled or self._container.cancelled

    @property
    def finished(self) -> bool:
        """Whether the phase has finished (successfully or not)."""
        return self._finished

    def _state(self) -> wire.PhaseState:
        return wire.PhaseState(self.handle, self.current, self.total, self.last_message)


class ClientOperation(_ClientContainer, ProgressOperation):
    """An operation in a worker: its own (``owned``) or a view of the parent's."""

    def __init__(self, operation_id: str, title: str, description: str | None, *, client: ClientTracker,
                 owned: bool) -> None:
        super().__init__(operation_id, title, description)
        self._client = client
        self.owned = owned
        self._finished = False
        self._cancelled = False

    def __repr__(self) -> str:
        return f"<client operation {self.title!r}{'' if self.owned else ' (attached)'}>"

    def cancel(self) -> None:
        """Cancel this operation's work in this worker (the parent is not told)."""
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        return self._cancelled


class ClientTracker(ProgressTracker):
    """A tracker in a worker process, connected to an aggregator at ``address``.

    Args:
        address: the aggregator's address (``ipc://...`` or ``tcp://...``).
        config: timing and queue settings.
        security: applied to the socket before it connects (e.g. CURVE client keys).
    """

    def __init__(
        self, address: str, *, config: ClientConfig | None = None, security: SocketSecurity | None = None
    ) -> None:
        self.config = config or ClientConfig()
        self.client_id = uuid.uuid4().hex
        self.pid = os.getpid()
        self._host = host_identity()
        self._lock = threading.RLock()
        self._handles = itertools.count(1)
        self._operations: dict[str, ClientOperation] = {}
        self._live: dict[int, ClientPhase] = {}  # started, and not yet acknowledged as finished
        self._open: dict[int, ClientPhase] = {}
        self._finishes: dict[int, wire.PhaseFinish] = {}
        self._cancelled_operations: dict[str, None] = {}
        self._closed = False
        self._link = ClientLink(address, self, self.config, security)
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
        operation_id = _checked_id(operation_id, "operation_id")
        with self._lock:
            known = self._operations.get(operation_id)
            if known is not None and (known.owned or known.phases):
                raise ValueError(f"Operation {operation_id} already exists")
            op = ClientOperation(operation_id, str(title), description, client=self, owned=True)
            op._cancelled = operation_id in self._cancelled_operations
            self._operations[operation_id] = op
            self._link.send(wire.OperationStart(0, operation_id, op.title, description))
        return op

    def get_operation(self, operation_id: str) -> ClientOperation:
        """This worker's view of operation ``operation_id`` (one of its own, or the parent's)."""
        operation_id = _checked_id(operation_id, "operation_id")
        with self._lock:
            op = self._operations.get(operation_id)
            if op is None:
                op = ClientOperation(operation_id, operation_id, None, client=self, owned=False)
                op._cancelled = operation_id in self._cancelled_operations
                self._operations[operation_id] = op
                self._forget_idle_views()
            return op

    def finish_operation(self, operation_id: str, success: bool = True) -> None:
        """Finish this worker's open phases in the operation, and the operation if it is its own."""
        with self._lock:
            op = self._operations.get(operation_id)
            if op is None or op._finished:
                return
            self._finish_operation_locked(op, success)
        self._wait_if_idle()

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

    def close(self) -> None:
        """Finish what is still open, deliver the final states, and disconnect. Idempotent.

        Phases still open are finished: successfully if they reached a non-zero total, else
        failed with reason ``"unfinished"``; this worker's own operations finish with them.
        Waits at most ``config.delivery_timeout`` for the aggregator's acknowledgements.
        """
        if os.getpid() != self.pid:  # an inherited copy in a forked child: not ours to close
            return
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for phase in list(self._open.values()):
                if not phase._finished:
                    complete = phase.is_complete
                    self._finish_locked(phase, complete, None if complete else "unfinished")
            for op in list(self._operations.values()):
                if op.owned and not op._finished:
                    self._finish_operation_locked(op, all(p.success for p in op.phases.values()))
            self._link.send(wire.Bye(0))
        self._link.wait_delivered(self.config.delivery_timeout)
        self._link.close()

    def log(self, record: logging.LogRecord) -> None:
        """Send a log record to the aggregator (best effort), which re-emits it there."""
        self._link.send_log(
            wire.LogRecord(0, record.levelno, record.name, record.getMessage(), float(record.created))
        )

    # --- phases -----------------------------------------------------------------------------

    def _start_phase(
        self, container: _ClientContainer, phase_id: str, title: str, total: int | None, description: str | None
    ) -> ClientPhase:
        phase_id = _checked_id(phase_id, "phase_id")
        with self._lock:
            if container._finished or self._closed:
                raise ProgressError(f"cannot start phase {title!r}: {container!r} has finished")
            if phase_id in container.phases:
                raise ValueError(f"Phase {phase_id} already exists")
            handle = next(self._handles)
            phase = ClientPhase(phase_id, str(title), total, description, container=container, handle=handle)  # type: ignore[arg-type]
            container.phases[phase_id] = phase
            container.current_phase = phase_id
            self._live[handle] = phase
            self._open[handle] = phase
            self._link.send(self._start_message(phase))
        return phase

    def _start_message(self, phase: ClientPhase) -> wire.PhaseStart:
        parent = phase._container.handle if isinstance(phase._container, ClientPhase) else None
        return wire.PhaseStart(
            0, phase.handle, phase.phase_id, phase.operation_id, parent, phase.title, phase.description, phase.total
        )

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
        if success and phase.cancelled:
            success, reason = False, "cancelled"
        if not success and reason is None:
            reason = "failed"
        for child in phase.phases.values():
            if isinstance(child, ClientPhase) and not child._finished:
                self._finish_locked(child, success, reason)
        phase._finished = True
        phase.completed_at = datetime.now()
        phase.success = success
        phase.reason = None if success else reason
        self._open.pop(phase.handle, None)
        metadata, phase._metadata = phase._metadata, {}
        finish = wire.PhaseFinish(
            0, phase.handle, phase.current, phase.total, phase.last_message, success, phase.reason, metadata
        )
        self._finishes[phase.handle] = finish
        self._link.send(finish)

    def _wait_if_idle(self) -> None:
        """With no phase left open, wait for the acknowledgements (see the module docstring)."""
        if not self._open:
            self._link.wait_delivered(self.config.delivery_timeout)

    def _forget_idle_views(self) -> None:
        if len(self._operations) <= 256:
            return
        for operation_id, op in list(self._operations.items()):
            if not op.owned and all(getattr(p, "_finished", True) for p in op.phases.values()):
                del self._operations[operation_id]

    # --- what the link asks (on its thread) -------------------------------------------------

    def hello(self) -> wire.Hello:
        """The hello message the link sends first and on every resync."""
        return wire.Hello(0, self.client_id, self.pid, self._host)

    def changed_states(self) -> list[wire.PhaseState]:
        """The absolute state of every open phase that changed since it was last sent."""
        with self._lock:
            phases = list(self._open.values())
        states = []
        for phase in phases:
            state = (phase.current, phase.total, phase.last_message)
            metadata = phase._metadata
            if state != phase._sent or metadata:
                if metadata:
                    phase._metadata = {}
                phase._sent = state
                states.append(wire.PhaseState(phase.handle, state[0], state[1], state[2], metadata))
        return states

    def unsent(self, states: list[wire.PhaseState]) -> None:
        """Mark these phases to be sent again."""
        with self._lock:
            for state in states:
                phase = self._live.get(state.handle)
                if phase is not None:
                    phase._sent = None

    def resync_messages(self) -> list[wire.Message]:
        """Every start and pending finish, in an order the aggregator can apply."""
        with self._lock:
            messages: list[wire.Message] = [
                wire.OperationStart(0, op.operation_id, op.title, op.description)
                for op in self._operations.values() if op.owned
            ]
            messages.extend(self._start_message(phase) for phase in self._live.values())
            messages.extend(self._finishes.values())
            messages.extend(
                wire.OperationFinish(0, op.operation_id, bool(op.success))
                for op in self._operations.values() if op.owned and op._finished
            )
            for phase in self._live.values():
                phase._sent = None
        return messages

    def acked(self, message: wire.Message) -> None:
        """Forget what the aggregator has: finished phases and finished operations."""
        with self._lock:
            if isinstance(message, wire.PhaseStart):
                phase = self._live.get(message.handle)
                if phase is not None:
                    phase._sent = None  # states sent before the start was applied were dropped
            elif isinstance(message, wire.PhaseFinish):
                self._finishes.pop(message.handle, None)
                self._live.pop(message.handle, None)
            elif isinstance(message, wire.OperationFinish):
                op = self._operations.get(message.operation_id)
                if op is not None and op._finished:
                    del self._operations[message.operation_id]

    def cancel(self, message: wire.Cancel) -> None:
        """Set the cancelled flag the aggregator asked for."""
        with self._lock:
            if message.handle is not None:
                phase = self._live.get(message.handle)
                if phase is not None:
                    phase._cancelled = True
                return
            op = self._operations.get(message.operation_id)
            if op is not None:
                op._cancelled = True
            self._cancelled_operations[message.operation_id] = None
            while len(self._cancelled_operations) > 1024:
                del self._cancelled_operations[next(iter(self._cancelled_operations))]


class ForwardingLogHandler(logging.Handler):
    """A logging handler that sends records to the aggregator through a client.

    Args:
        client: the client to send through; by default the process's ``get_tracker()`` when it
            is a ``ClientTracker`` at the time of each record (else records are ignored).
        level: the handler's level.
    """

    def __init__(self, client: ClientTracker | None = None, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._client = client

    def emit(self, record: logging.LogRecord) -> None:
        client = self._client
        if client is None:
            from ..current import current_tracker

            tracker = current_tracker()
            client = tracker if isinstance(tracker, ClientTracker) else None
        if client is None or client._closed:
            return
        try:
            client.log(record)
        except Exception:
            self.handleError(record)


# --- closing every client at exit -------------------------------------------------------------

_clients: weakref.WeakSet[ClientTracker] = weakref.WeakSet()
_hooks_pid = 0
_hooks_lock = threading.Lock()


def _new_lock_in_child() -> None:
    global _hooks_lock
    _hooks_lock = threading.Lock()  # a parent thread may have held the old one at fork


os.register_at_fork(after_in_child=_new_lock_in_child)  # this module is only imported on use


def _register_for_exit(client: ClientTracker) -> None:
    """Close ``client`` at exit: ``atexit`` for plain interpreters, a multiprocessing finalizer
    for multiprocessing children (they leave through ``os._exit``, which skips ``atexit``)."""
    global _hooks_pid
    with _hooks_lock:
        if _hooks_pid != os.getpid():
            if _hooks_pid == 0:
                atexit.register(_close_all)
            multiprocessing.util.Finalize(None, _close_all, exitpriority=100)
            _hooks_pid = os.getpid()
        _clients.add(client)


def _close_all() -> None:
    for client in list(_clients):
        if client.pid == os.getpid():
            client.close()
