"""The receiving side: one thread that reads worker frames and hands them on.

The aggregator owns a ROUTER socket and the one thread that touches it, and is only the loop:
it decodes each frame with the pure ``wire.decode`` (frames that fail are dropped and counted by
reason, never raised), asks the ``registry.ClientRegistry`` who sent it, lets the
``applier.Applier`` apply it to the local tracker, and acknowledges what it applied (one
``ACK`` per client per pass; a phase start nobody waits for may wait for the next: ``replies``).
A frame from a sender it does not know (it restarted, or reconnected) gets a ``RESYNC`` reply.
Every ``liveness_interval`` it asks the registry how each client stands: a stalled client's open
phases show as stalled (in doubt: nothing is finished; its next frame clears it), a lost one's
finish with ``success=False`` and ``reason="lost"`` (``registry`` says when; logged on
``mpprogress._remote``).  Cancellations from the tracker (``cancels.CancelRequests``) go out as
``CANCEL`` messages (protocol: ``link``).

Nothing a frame, a handler or the liveness check raises can end the loop: the error is
contained, counted in ``stats().dropped`` by reason (``handler_error``, ``liveness_error``,
``cancel_error``) and logged once per reason, and the loop goes on.  If the thread ends anyway
(the socket fails, or a ``BaseException`` such as a sink's ``sys.exit()`` passes every guard),
it says so loudly: an error is logged, ``failure`` holds the exception and ``check()`` raises
``AggregatorStopped``; the relay polls it and exits non-zero, a session asks on exit.

Time: ``get_time`` decides the protocol (last seen, stalled, lost, resync, liveness), so tests
move a fake clock; pacing (batching reads, a pass's length) follows the real monotonic clock.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import zmq

from .._base.port import ProgressError
from .._core.tracker import BaseProgressTracker
from .._core.wakepipe import WakePipe
from . import wire
from .addresses import IpcFile, private_ipc_address, remove_private_dir
from .aggregator_config import AggregatorConfig
from .applier import Applier, WorkerLogs
from .cancels import CancelRequests
from .memory import RELEASE_AFTER, give_back_memory
from .pids import process_alive
from .registry import ClientRegistry
from .replies import Replies
from .transport import HandshakeMonitor, ServerSecurity, bind_server, host_identity, process_context, readable

__all__ = ["Aggregator", "AggregatorConfig", "AggregatorStats", "AggregatorStopped"]

_log = logging.getLogger("mpprogress.remote")

_ACK_DELAY = 0.01  # longest an applied frame waits for its acknowledgement within a pass
_LONGEST_PASS = 0.1  # then cancellations and liveness get their turn
_FRAMES_PER_PASS = 1000
_ACKED = (wire.Hello, wire.Heartbeat, wire.OperationStart, wire.OperationFinish, wire.PhaseStart,
          wire.PhaseFinish, wire.Bye)


class AggregatorStopped(ProgressError, RuntimeError):
    """The aggregator's thread ended while it was meant to run: frames sent since were not read."""


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


class Aggregator:
    """Receives worker frames on ``address`` and applies them to ``tracker``.

    Binding happens in the constructor (so a bad address fails there); the thread starts at
    once.  Close it with ``close()`` or use it as a context manager.

    Args:
        tracker: the local tracker remote phases are added to.
        address: where to listen; a private ``ipc://`` path by default, or e.g.
            ``tcp://127.0.0.1:0`` (a free port; read ``address`` for the one bound).
        config: timing settings.
        security: applied to the socket before it binds (e.g. ``CurveServerKeys``); what its
            ``start`` starts (a ZAP handler) runs until ``close()``.
        get_time: the clock of the protocol's decisions (see the module docstring).
        process_alive: whether a pid names a live process on this host (the one that started
            at the given time, if known).

    Raises:
        ValueError: the address is refused or cannot be bound (see ``transport.bind_server``).
    """

    def __init__(
        self,
        tracker: BaseProgressTracker,
        address: str | None = None,
        *,
        config: AggregatorConfig | None = None,
        security: ServerSecurity | None = None,
        get_time: Callable[[], float] = time.monotonic,
        process_alive: Callable[[int, int | None], bool] = process_alive,
    ) -> None:
        self.tracker = tracker
        self.config = config = config or AggregatorConfig()
        self._get_time = get_time
        self._private_dir: str | None = None
        if address is None:
            address, self._private_dir = private_ipc_address()
        self._stop_security: Callable[[], None] | None = None
        self._ipc_file: IpcFile | None = None
        try:
            if security is not None:
                self._stop_security = security.start(process_context())
            self._sock, self.address = bind_server(address, security=security)
            self._ipc_file = IpcFile.of(self.address)
        except BaseException:
            self._release()
            raise
        self._frames = 0
        self._states_read = False  # the last pass read a frame nobody waits for: the next one waits
        self._drops: Counter[str] = Counter()
        self._faults_logged: set[str] = set()
        self._replies = Replies(self._sock, self._drops)
        # Frames carry the key they came with (ZAP user id) and, over ipc://, the sender's pid.
        self._ipc = self.address.startswith("ipc://")
        self._keyed = security is not None or self._ipc
        self._registry = ClientRegistry(
            host_identity(), max_clients=config.max_clients, stall_timeout=config.stall_timeout,
            lost_timeout=config.lost_timeout, local_lost_timeout=config.local_lost_timeout,
            process_alive=process_alive, connected=self._replies.connected,
        )
        self._released = 0  # phases of lost clients since memory was last given back
        self._applier = Applier(
            tracker, self._drops, lambda client, message: self._replies.send(client.routing_id, message),
            max_phases_per_client=config.max_phases_per_client, logs=WorkerLogs(config.max_logger_names),
            max_operations_per_client=config.max_operations_per_client, max_phases=config.max_phases,
            max_operations=config.max_operations,
        )
        self._stopping = threading.Event()
        self._closed = False
        self._failure: BaseException | None = None
        self._waker = WakePipe()  # closing and cancelling wake the thread at once
        self._cancels = CancelRequests(self._waker.wake)
        tracker.add_callback(self._cancels)
        self._thread = threading.Thread(target=self._run, name="mpprogress-aggregator", daemon=True)
        self._thread.start()

    def __enter__(self) -> Aggregator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def stats(self) -> AggregatorStats:
        """A copy of the counters."""
        return AggregatorStats(self._frames, dict(self._drops), len(self._registry), self._registry.lost)

    @property
    def failure(self) -> BaseException | None:
        """What ended the thread while it was meant to run, or ``None`` (healthy, or closed)."""
        return self._failure

    def check(self) -> None:
        """Raise if the thread has failed (see ``failure``); do nothing while it is healthy.

        Raises:
            AggregatorStopped: the thread ended on its own; from the exception that ended it.
        """
        failure = self._failure
        if failure is not None:
            raise AggregatorStopped(
                f"the aggregator on {self.address} stopped ({failure!r}): progress sent since was not received"
            ) from failure

    def close(self, timeout: float = 2.0) -> None:
        """Send pending cancellations, stop the thread, close the socket, and remove the
        ``ipc://`` socket file it created (if it is still that file). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.tracker.remove_callback(self._cancels)
        self._stopping.set()
        self._waker.wake()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self._waker.close()
        self._release()

    def _release(self) -> None:
        stop, self._stop_security = self._stop_security, None
        try:
            if stop is not None:
                stop()
        finally:
            if self._ipc_file is not None:
                self._ipc_file.remove()
            remove_private_dir(self._private_dir)

    # --- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        sock = self._sock
        monitor = HandshakeMonitor(sock)
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(self._waker.fd, zmq.POLLIN)
        waker_only = zmq.Poller()  # between two passes: only close() and cancellations
        waker_only.register(self._waker.fd, zmq.POLLIN)
        next_check = self._get_time()
        next_pass = time.monotonic()
        try:
            while not self._stopping.is_set():
                paced = time.monotonic()
                quiet = paced < next_pass  # too soon for another pass: only a wake-up counts
                wait = min(self.config.poll_interval, next_check - self._get_time())
                if quiet:
                    wait = min(wait, next_pass - paced)
                held = self._replies.held_until()
                if held is not None:  # acknowledgements held for a client's next one fall due
                    wait = min(wait, held - paced)
                ready = dict((waker_only if quiet else poller).poll(max(0, math.ceil(wait * 1000))))
                if self._waker.fd in ready:
                    self._waker.drain()
                if sock in ready:
                    paced = time.monotonic()
                    self._states_read = False
                    self._receive()
                    # States and logs can wait to be read together; a pass of only starts,
                    # finishes and hellos cannot: their senders wait for the acknowledgement
                    # (thousands of short tasks: 5 ms per task otherwise).
                    next_pass = paced + (self.config.batch_interval if self._states_read else 0.0)
                if held is not None:
                    self._replies.flush()
                if self._cancels:
                    self._send_cancels()
                now = self._get_time()
                if now >= next_check:
                    self._check_liveness(now)
                    monitor.count(self._drops)
                    next_check = now + self.config.liveness_interval
            self._receive()  # what came during the last quiet period
            self._replies.flush(everything=True)
            self._send_cancels()
        except BaseException as exc:  # the socket failing, or a BaseException past every guard
            self._failure = exc
            _log.critical("mpprogress aggregator on %s stopped: progress sent to it is no longer received",
                          self.address, exc_info=True)
        finally:
            monitor.count(self._drops)
            monitor.close()
            self._sock.close(linger=500)  # lets the last cancellations out, never blocks longer

    def _receive(self) -> None:
        """One pass over the frames waiting; acknowledgements go out at least every 10 ms."""
        sock, now = self._sock, self._get_time()
        started = time.monotonic()
        flush_at = started + _ACK_DELAY
        try:
            for _ in range(_FRAMES_PER_PASS):  # then look at cancellations and liveness again
                paced = time.monotonic()
                if paced >= flush_at:  # slow sinks: no client waits long for its acknowledgement
                    self._replies.flush()
                    flush_at = paced + _ACK_DELAY
                    if paced - started >= _LONGEST_PASS:
                        return
                try:
                    if not readable(sock):
                        return
                    parts: list[bytes] | list[zmq.Frame] = sock.recv_multipart(zmq.NOBLOCK, copy=not self._keyed)
                except zmq.Again:
                    return
                except zmq.ZMQError:
                    self._drops["recv_error"] += 1
                    return
                if len(parts) != 2:
                    self._drops["multipart"] += 1
                    continue
                try:
                    routing_id = parts[0] if isinstance(parts[0], bytes) else parts[0].bytes
                    self._handle(routing_id, parts[1], now)
                except Exception:
                    self._fault("handler_error")
        finally:
            self._replies.flush()

    def _handle(self, routing_id: bytes, payload: bytes | zmq.Frame, now: float) -> None:
        try:
            message = wire.decode(payload if isinstance(payload, bytes) else payload.bytes)
        except wire.ProtocolError as exc:
            self._drops[exc.reason] += 1
            self._states_read = True
            return
        if not isinstance(message, _ACKED):  # states, logs: no sender waits for them
            self._states_read = True
        if isinstance(message, wire.Hello):
            before = self._registry.get(routing_id)
            peer_pid = _peer_pid(payload) if self._ipc else None
            client, displaced, refused, evicted = self._registry.admit(routing_id, message, now, _user_id(payload),
                                                                       peer_pid)
            for gone in (displaced, evicted):
                if gone is not None:
                    self._released += self._applier.lose(gone)
            if refused is not None:
                self._drops[refused] += 1
                self._replies.send(routing_id, wire.Refused(0, refused))  # its waits end at once
                return
            if client is not None and client.returned and client is not before:
                _log.warning("mpprogress: worker %s came back after it was marked lost; its earlier phases "
                             "stay lost (raise AggregatorConfig.lost_timeout)", client.name)
        else:
            client = self._registry.get(routing_id)
        if client is None:
            self._drops["unknown_client"] += 1
            if self._registry.should_ask_resync(routing_id, now):
                self._replies.send(routing_id, wire.Resync(0))
            return
        client.last_seen = now
        if client.stalled:
            self._applier.stall(client, False)
            _log.info("mpprogress: worker %s is reporting again", client.name)
        self._frames += 1
        if isinstance(message, _ACKED):  # even if applying it fails: a resend would fail alike
            starts = isinstance(message, wire.PhaseStart)  # only the first is waited for (``replies``)
            self._replies.ack(routing_id, message.seq, lazy=starts and client.introduced)
            client.introduced = client.introduced or starts
        if isinstance(message, wire.Bye):
            self._registry.remove(client)
        self._applier.apply(client, message)

    def _send_cancels(self) -> None:
        try:
            for client, message in self._cancels.take_messages(self._registry.clients()):
                self._replies.send(client.routing_id, message)
        except Exception:
            self._fault("cancel_error")

    def _check_liveness(self, now: float) -> None:
        for client in self._registry.clients():
            try:
                verdict, silent = self._registry.judge(client, now), now - client.last_seen
                if verdict == "lost":
                    self._registry.remove(client, lost=True)
                    self._released += self._applier.lose(client)
                    _log.warning("mpprogress: worker %s is lost (%s); its open phases end as lost", client.name,
                                 "its process is gone" if client.here and silent < self.config.lost_timeout
                                 else f"silent for {silent:.1f} s")
                    continue
                if (verdict == "stalled") != client.stalled:
                    self._applier.stall(client, not client.stalled)
                    if client.stalled:
                        _log.info("mpprogress: worker %s silent for %.1f s: stalled", client.name, silent)
                client.retire_finished_phases()
            except Exception:  # one client's trouble must not spare the others their check
                self._fault("liveness_error")
        self._applier.recount(self._registry.clients())
        if self._released >= RELEASE_AFTER:  # many phases of lost clients: return their pages
            self._released = 0
            give_back_memory()

    def _fault(self, reason: str) -> None:
        """Count a contained error (call it in an ``except`` block); log it once per reason."""
        self._drops[reason] += 1
        if reason not in self._faults_logged:
            self._faults_logged.add(reason)
            _log.exception("mpprogress aggregator on %s: %s (contained; later ones are only counted)",
                           self.address, reason)


def _peer_pid(payload: bytes | zmq.Frame) -> int | None:
    """The pid of an ``ipc://`` frame's sender as the kernel names it (libzmq's ``Peer-Address``
    there is ``HOST:UID:GID:PID``, from ``SO_PEERCRED``), else ``None``."""
    if isinstance(payload, bytes):
        return None
    try:
        fields = str(payload.get("Peer-Address")).rsplit(":", 3)
    except zmq.ZMQError:
        return None
    return int(fields[3]) if len(fields) == 4 and fields[3].isdigit() else None


def _user_id(payload: bytes | zmq.Frame) -> str:
    """The ZAP user id a frame came with (under CURVE, the sender's public key), else ``""``."""
    if isinstance(payload, bytes):
        return ""
    try:
        return str(payload.get("User-Id"))
    except zmq.ZMQError:  # no ZAP handler authenticated the connection
        return ""
