"""The receiving side: a thread that applies worker frames to a local tracker.

The aggregator owns a ROUTER socket and the one thread that touches it.  Every frame is decoded
by the pure ``wire.decode``; frames that fail are dropped and counted by reason, never raised.
Valid messages are applied through the tracker's public API (``start_operation``,
``get_operation``, ``start_phase`` on an operation or a phase, ``set_progress``, ``set_total``,
``finish_phase``, ``finish_operation``), so the tracker's sinks see remote phases exactly like
local ones.  A worker that attaches to one of the tracker's operations adds its phases there.

State frames carry absolute numbers and a per-client sequence number: a frame older than the
last one applied to a phase is ignored.  Starts, finishes, hellos and heartbeats are
acknowledged; re-applying a resent one does nothing.  A frame from a sender the aggregator does
not know (it restarted, or the sender reconnected) gets a ``RESYNC`` reply.

Liveness: a client on this host whose process is gone (or a zombie), or a client elsewhere that
has been silent for ``heartbeat_timeout``, has its open phases finished with ``success=False``
and ``reason="lost"``, and its own operations finished as failed.

Cancellation flows back: the aggregator subscribes to the tracker's ``cancel_requested`` events
and sends a ``CANCEL`` to every client with phases in that operation (or owning that phase);
an operation that finishes as failed (an error or Ctrl-C in the parent) is cancelled the same
way, so workers stop work nobody will see.
Worker log records are re-emitted through ``logging.getLogger(name).handle(...)``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import zmq
from zmq.utils.monitor import recv_monitor_message

from ..events import CANCEL_REQUESTED, OPERATION_FINISHED
from ..phases import BaseProgressOperation, BaseProgressPhase
from ..port import ProgressError
from ..tracker import BaseProgressTracker
from . import wire
from .transport import (
    SocketSecurity,
    WakePipe,
    bind_server,
    host_identity,
    private_ipc_address,
    process_context,
    readable,
    remove_private_dir,
)

__all__ = ["Aggregator", "AggregatorConfig", "AggregatorStats"]

_log = logging.getLogger("mpprogress.remote")


@dataclass(frozen=True)
class AggregatorConfig:
    """Timing settings of the aggregator.

    Args:
        poll_interval: longest the thread sleeps while no frame comes (it also wakes at once
            for a cancellation or ``close()``, and for each liveness check).
        batch_interval: shortest time between two passes over the received frames: frames
            arriving meanwhile wait (in ZeroMQ's queue) and are applied together, so that 32
            workers sending 20 times a second cost at most 200 wake-ups a second, not 640.
        liveness_interval: seconds between two liveness checks.
        heartbeat_timeout: silence after which a client on another host is lost.
        local_silence_timeout: silence after which a client on this host whose process still
            exists is lost anyway (a long GIL-holding call can delay its heartbeats).
        max_clients: clients tracked at once; hellos beyond are dropped.
        max_phases_per_client: phases one client may have open at once; starts beyond are
            dropped (a runaway or hostile worker cannot exhaust the parent's memory).
        max_logger_names: distinct logger names created for worker records; records under
            further new names are re-emitted through the ``mpprogress.worker`` logger.
    """

    poll_interval: float = 0.25
    batch_interval: float = 0.005
    liveness_interval: float = 0.25
    heartbeat_timeout: float = 3.0
    local_silence_timeout: float = 30.0
    max_clients: int = 4096
    max_phases_per_client: int = 10_000
    max_logger_names: int = 1000


@dataclass(frozen=True)
class AggregatorStats:
    """Counters of an aggregator: frames applied, frames dropped by reason, clients."""

    frames: int
    dropped: dict[str, int]
    clients: int
    lost: int

    @property
    def total_dropped(self) -> int:
        """All dropped frames (and state entries), whatever the reason."""
        return sum(self.dropped.values())


@dataclass
class _RemotePhase:
    phase: BaseProgressPhase
    container: BaseProgressOperation | BaseProgressPhase
    seq: int  # of the newest frame applied to it


@dataclass
class _Client:
    client_id: str
    pid: int
    hostname: str
    local: bool
    last_seen: float
    phases: dict[int, _RemotePhase] = field(default_factory=dict)
    finished: deque[int] = field(default_factory=lambda: deque(maxlen=1024))
    operations: set[str] = field(default_factory=set)  # its own
    joined: dict[str, None] = field(default_factory=dict)  # operations it started phases in, newest last

    def join(self, operation_id: str) -> None:
        self.joined.pop(operation_id, None)
        self.joined[operation_id] = None
        if len(self.joined) > 256:
            del self.joined[next(iter(self.joined))]


# Connections the socket refused during the ZMTP handshake, counted among the drops by reason.
_REFUSED_EVENTS_REASON = {
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "handshake_failed",
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "handshake_protocol",
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "handshake_auth",
}
_REFUSED_EVENTS = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)

_ACK_DELAY = 0.01  # longest an applied frame waits for its acknowledgement within a pass
_LONGEST_PASS = 0.1  # then cancellations and liveness get their turn
_ACKED = (wire.Hello, wire.Heartbeat, wire.OperationStart, wire.OperationFinish, wire.PhaseStart,
          wire.PhaseFinish, wire.Bye)


class Aggregator:
    """Receives worker frames on ``address`` and applies them to ``tracker``.

    Binding happens in the constructor (so a bad address fails there); the thread starts at
    once.  Close it with ``close()`` or use it as a context manager.

    Args:
        tracker: the local tracker remote phases are added to.
        address: where to listen; a private ``ipc://`` path by default, or e.g.
            ``tcp://127.0.0.1:0`` (a free port; read ``address`` for the one bound).
        config: timing settings.
        security: applied to the socket before it binds (e.g. CURVE server keys); when it has
            an ``authenticator(context)`` method (``CurveServerKeys``), the ZAP handler it starts
            runs until ``close()``.
    """

    def __init__(
        self,
        tracker: BaseProgressTracker,
        address: str | None = None,
        *,
        config: AggregatorConfig | None = None,
        security: SocketSecurity | None = None,
    ) -> None:
        self.tracker = tracker
        self.config = config or AggregatorConfig()
        self._private_dir: str | None = None
        if address is None:
            address, self._private_dir = private_ipc_address()
        self._auth: Any = None
        try:
            start_auth = getattr(security, "authenticator", None)
            if start_auth is not None:
                self._auth = start_auth(process_context())
            self._sock, self.address = bind_server(address, security=security)
        except Exception:
            self._stop_auth()
            remove_private_dir(self._private_dir)
            raise
        self._host = host_identity()
        self._clients: dict[bytes, _Client] = {}
        self._resync_asked: dict[bytes, float] = {}
        self._cancels: deque[tuple[str, str | None]] = deque()
        self._frames = 0
        self._acks: dict[bytes, list[int]] = {}  # routing id -> seqs applied in this batch
        self._lost = 0
        self._dropped: Counter[str] = Counter()
        self._logger_names: set[str] = set()
        self._stopping = threading.Event()
        self._closed = False
        # Closing and cancelling wake the thread at once instead of after its poll interval.
        self._waker = WakePipe()
        tracker.add_callback(self._on_event)
        self._thread = threading.Thread(target=self._run, name="mpprogress-aggregator", daemon=True)
        self._thread.start()

    def __enter__(self) -> Aggregator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def stats(self) -> AggregatorStats:
        """A copy of the counters."""
        return AggregatorStats(self._frames, dict(self._dropped), len(self._clients), self._lost)

    def close(self, timeout: float = 2.0) -> None:
        """Send pending cancellations, stop the thread, close the socket. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.tracker.remove_callback(self._on_event)
        self._stopping.set()
        self._waker.wake()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self._waker.close()
        self._stop_auth()
        remove_private_dir(self._private_dir)

    def _stop_auth(self) -> None:
        auth, self._auth = self._auth, None
        if auth is not None:
            auth.stop()

    def _on_event(self, *, event_type: str, **data: Any) -> None:
        if event_type == CANCEL_REQUESTED:
            self._cancels.append((data["operation_id"], data.get("phase_id")))
            self._waker.wake()
        elif event_type == OPERATION_FINISHED and not data.get("success"):
            # The operation failed (an error, Ctrl-C): work still running in it is wasted.
            self._cancels.append((data["operation_id"], None))
            self._waker.wake()

    # --- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        sock = self._sock
        next_check = time.monotonic()
        monitor = None
        with contextlib.suppress(zmq.ZMQError):  # without a monitor, refusals go uncounted
            monitor = sock.get_monitor_socket(_REFUSED_EVENTS)
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(self._waker.fd, zmq.POLLIN)
        waker_only = zmq.Poller()  # between two batches: only close() and cancellations
        waker_only.register(self._waker.fd, zmq.POLLIN)
        next_batch = time.monotonic()
        try:
            while not self._stopping.is_set():
                now = time.monotonic()
                quiet = now < next_batch  # too soon for another pass: only a wake-up counts
                wait = min(self.config.poll_interval, next_check - now)
                if quiet:
                    wait = min(wait, next_batch - now)
                ready = dict((waker_only if quiet else poller).poll(max(0, math.ceil(wait * 1000))))
                if self._waker.fd in ready:
                    self._waker.drain()
                if sock in ready:
                    now = time.monotonic()
                    self._receive_batch(now)
                    next_batch = now + self.config.batch_interval
                if self._cancels:
                    self._send_cancels()
                now = time.monotonic()
                if now >= next_check:
                    self._check_liveness(now)
                    if monitor is not None:
                        self._count_refused(monitor)
                    next_check = now + self.config.liveness_interval
            self._receive_batch(time.monotonic())  # what came during the last quiet period
            self._send_cancels()
        except Exception:  # a bug here must not take the parent down; say it loudly
            _log.exception("mpprogress aggregator on %s stopped", self.address)
        finally:
            if monitor is not None:
                self._count_refused(monitor)
                with contextlib.suppress(zmq.ZMQError):
                    sock.disable_monitor()
                monitor.close(linger=0)
            sock.close(linger=500)  # lets the last cancellations out, never blocks longer

    def _count_refused(self, monitor: zmq.Socket) -> None:  # type: ignore[type-arg]
        """Count connections refused before any frame (junk on raw TCP, a wrong CURVE key)."""
        while True:
            try:
                event = recv_monitor_message(monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            except zmq.ZMQError:  # the monitor is unusable: stop counting, keep serving
                return
            self._dropped[_REFUSED_EVENTS_REASON.get(event["event"], "handshake_failed")] += 1  # type: ignore[call-overload]

    def _receive_batch(self, now: float) -> None:
        try:
            self._receive_frames(now)
        finally:
            self._send_acks()

    def _receive_frames(self, now: float) -> None:
        sock = self._sock
        started = time.monotonic()
        for _ in range(1000):  # then look at cancellations and liveness again
            elapsed = time.monotonic() - started
            if elapsed >= _ACK_DELAY:  # slow sinks: no client waits long for its acknowledgement
                self._send_acks()
                if elapsed >= _LONGEST_PASS:
                    return
            try:
                if not readable(sock):
                    return
                parts = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            except zmq.ZMQError:
                self._dropped["recv_error"] += 1
                return
            if len(parts) != 2:
                self._dropped["multipart"] += 1
                continue
            try:
                self._handle(parts[0], parts[1], now)
            except Exception:  # a tracker call we did not foresee failing: drop, count, go on
                _log.exception("mpprogress aggregator could not apply a frame")
                self._dropped["apply_error"] += 1

    def _send_acks(self) -> None:
        """One acknowledgement per client for everything applied in the batch (sends cost)."""
        acks, self._acks = self._acks, {}
        for routing_id, seqs in acks.items():
            for start in range(0, len(seqs), wire.MAX_BATCH):
                self._send(routing_id, wire.Ack(0, tuple(seqs[start : start + wire.MAX_BATCH])))

    def _send(self, routing_id: bytes, message: wire.Message) -> None:
        try:
            self._sock.send_multipart([routing_id, wire.encode(message)], zmq.NOBLOCK)
        except zmq.ZMQError:
            self._dropped["send_failed"] += 1

    def _handle(self, routing_id: bytes, payload: bytes, now: float) -> None:
        try:
            message = wire.decode(payload)
        except wire.ProtocolError as exc:
            self._dropped[exc.reason] += 1
            return
        if isinstance(message, wire.Hello):
            client = self._hello(routing_id, message, now)
        else:
            client = self._clients.get(routing_id)
        if client is None:
            self._dropped["unknown_client"] += 1
            self._ask_resync(routing_id, now)
            return
        client.last_seen = now
        self._frames += 1
        self._apply(client, message)
        if isinstance(message, _ACKED):
            self._acks.setdefault(routing_id, []).append(message.seq)
        if isinstance(message, wire.Bye):
            del self._clients[routing_id]

    def _hello(self, routing_id: bytes, hello: wire.Hello, now: float) -> _Client | None:
        client = self._clients.get(routing_id)
        if client is not None:
            if client.client_id == hello.client_id:
                return client  # a resync
            self._lose(routing_id, client)  # another client under the same routing id
        for other_id, other in list(self._clients.items()):
            if other.client_id == hello.client_id:  # the same client, reconnected
                del self._clients[other_id]
                self._clients[routing_id] = other
                return other
        if len(self._clients) >= self.config.max_clients:
            self._dropped["too_many_clients"] += 1
            return None
        client = _Client(hello.client_id, hello.pid, hello.hostname, hello.hostname == self._host, now)
        self._clients[routing_id] = client
        self._resync_asked.pop(routing_id, None)
        return client

    def _ask_resync(self, routing_id: bytes, now: float) -> None:
        if now - self._resync_asked.get(routing_id, -1e9) < 1.0:
            return
        if len(self._resync_asked) >= 1024:
            self._resync_asked.clear()
        self._resync_asked[routing_id] = now
        self._send(routing_id, wire.Resync(0))

    # --- applying messages ------------------------------------------------------------------

    def _apply(self, client: _Client, message: wire.Message) -> None:
        if isinstance(message, wire.State):
            for entry in message.phases:
                self._apply_state(client, message.seq, entry)
        elif isinstance(message, wire.PhaseStart):
            self._start_phase(client, message)
        elif isinstance(message, wire.PhaseFinish):
            self._finish_phase(client, message)
        elif isinstance(message, wire.OperationStart):
            if message.operation_id not in client.operations:
                try:
                    self.tracker.start_operation(message.operation_id, message.title, message.description)
                except ValueError:
                    self._dropped["operation_exists"] += 1
                    return
                client.operations.add(message.operation_id)
        elif isinstance(message, wire.OperationFinish):
            if message.operation_id in client.operations:
                client.operations.discard(message.operation_id)
                self.tracker.finish_operation(message.operation_id, message.success)
        elif isinstance(message, wire.LogRecord):
            self._emit_log(client, message)
        elif isinstance(message, (wire.Ack, wire.Cancel, wire.Resync)):
            self._dropped["unexpected_kind"] += 1

    def _start_phase(self, client: _Client, message: wire.PhaseStart) -> None:
        if message.handle in client.phases or message.handle in client.finished:
            return  # a resend
        op = self.tracker.get_operation(message.operation_id)
        if op is None:
            self._dropped["unknown_operation"] += 1
            return
        if len(client.phases) >= self.config.max_phases_per_client:
            self._dropped["too_many_phases"] += 1
            return
        container: BaseProgressOperation | BaseProgressPhase = op
        if message.parent is not None:
            parent = client.phases.get(message.parent)
            if parent is None:
                self._dropped["unknown_parent"] += 1
                return
            container = parent.phase
        try:
            phase = container.start_phase(message.phase_id, message.title, message.total, message.description)
        except (ValueError, ProgressError):
            self._dropped["phase_rejected"] += 1
            return
        client.phases[message.handle] = _RemotePhase(phase, container, message.seq)
        client.join(phase.operation_id)
        if phase.cancelled:  # it joined an operation that was already cancelled
            self._send_to(client, wire.Cancel(0, phase.operation_id, message.handle))

    def _apply_state(self, client: _Client, seq: int, entry: wire.PhaseState) -> None:
        remote = client.phases.get(entry.handle)
        if remote is None:
            self._dropped["unknown_phase" if entry.handle not in client.finished else "late"] += 1
            return
        if remote.phase.finished:
            self._dropped["late"] += 1
            return
        if seq <= remote.seq:
            self._dropped["stale"] += 1
            return
        remote.seq = seq
        remote.phase.apply_state(entry.current, entry.total, entry.message, entry.metadata)

    def _finish_phase(self, client: _Client, message: wire.PhaseFinish) -> None:
        remote = client.phases.pop(message.handle, None)
        if remote is None:
            if message.handle not in client.finished:
                self._dropped["unknown_phase"] += 1
            return
        client.finished.append(message.handle)
        if not remote.phase.finished:
            remote.phase.apply_state(message.current, message.total, message.message, message.metadata)
            remote.container.finish_phase(remote.phase.phase_id, message.success, reason=message.reason)

    def _emit_log(self, client: _Client, message: wire.LogRecord) -> None:
        name = message.logger
        if name not in self._logger_names:
            if len(self._logger_names) >= self.config.max_logger_names:
                name = "mpprogress.worker"  # loggers are never freed: do not let workers mint them
            else:
                self._logger_names.add(name)
        logger = logging.getLogger(name) if name != "root" else logging.getLogger()
        if not logger.isEnabledFor(message.level):
            return
        record = logger.makeRecord(logger.name, message.level, "(worker)", 0, message.message, (), None)
        record.created = message.created
        record.process = client.pid
        record.processName = f"worker-{client.pid}"
        logger.handle(record)

    # --- cancellation and liveness ----------------------------------------------------------

    def _send_to(self, client: _Client, message: wire.Message) -> None:
        for routing_id, known in self._clients.items():
            if known is client:
                self._send(routing_id, message)
                return

    def _send_cancels(self) -> None:
        while self._cancels:
            operation_id, phase_id = self._cancels.popleft()
            for routing_id, client in list(self._clients.items()):
                if phase_id is None:
                    if operation_id in client.operations or operation_id in client.joined:
                        self._send(routing_id, wire.Cancel(0, operation_id, None))
                    continue
                for handle, remote in client.phases.items():
                    if remote.phase.phase_id == phase_id:
                        self._send(routing_id, wire.Cancel(0, operation_id, handle))

    def _check_liveness(self, now: float) -> None:
        for routing_id, client in list(self._clients.items()):
            silent = now - client.last_seen
            if client.local:
                gone = silent > self.config.local_silence_timeout or not _process_alive(client.pid)
            else:
                gone = silent > self.config.heartbeat_timeout
            if gone:
                self._lose(routing_id, client)
            else:
                for handle in [h for h, r in client.phases.items() if r.phase.finished]:
                    del client.phases[handle]  # finished here (e.g. with their operation)
                    client.finished.append(handle)

    def _lose(self, routing_id: bytes, client: _Client) -> None:
        del self._clients[routing_id]
        self._lost += 1
        for remote in client.phases.values():
            if not remote.phase.finished:
                remote.container.finish_phase(remote.phase.phase_id, False, reason="lost")
        for operation_id in client.operations:
            self.tracker.finish_operation(operation_id, False)


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rpartition(b")")[2].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill(pid, 0) is all we know
    return state not in (b"Z", b"X")
