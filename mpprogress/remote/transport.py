"""ZeroMQ sockets for the client and the aggregator, with the settings DESIGN.md verified.

The only module of the remote side that creates contexts and sockets.  Contexts are made lazily,
one per process (the pid is checked, so a forked child never touches its parent's context or
sockets: it drops the references without closing them).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol, cast

import zmq

from . import wire
from .security import IpcAddressInUseError, check_bind_address, ipc_in_use
from .settings import ADDRESS_ENV, FORWARD_LOGS_ENV
from .wire import MAX_FRAME

__all__ = [
    "ADDRESS_ENV",
    "FORWARD_LOGS_ENV",
    "ZAP_DOMAIN",
    "ClientConfig",
    "ClientLink",
    "LinkSource",
    "SocketSecurity",
    "WakePipe",
    "bind_server",
    "check_bind_address",
    "connect_client",
    "private_ipc_address",
    "process_context",
    "remove_private_dir",
]

ZAP_DOMAIN = b"mpprogress"
IPC_NAME = "progress.sock"

_log = logging.getLogger("mpprogress.remote")


class SocketSecurity(Protocol):
    """Something that configures a socket before it binds or connects (e.g. CURVE keys)."""

    def apply(self, sock: zmq.Socket) -> None:  # type: ignore[type-arg]
        """Set the socket's security options."""


_context: zmq.Context | None = None  # type: ignore[type-arg]
_context_pid = 0
_context_lock = threading.Lock()


def _new_lock_in_child() -> None:
    global _context_lock
    _context_lock = threading.Lock()  # a parent thread may have held the old one at fork


os.register_at_fork(after_in_child=_new_lock_in_child)  # this module is only imported on use


def host_identity() -> str:
    """What a worker and an aggregator compare to know they can see each other's pids.

    On Linux: the kernel's boot id (one per machine and boot; two machines may share a
    hostname, "localhost" or a cloned image's) and this process's pid namespace (containers on
    one machine may have their own).  Elsewhere, the hostname, the best there is.  The hostname
    is left out where the boot id is known: a host renamed after its relay started must not
    turn every local worker into a remote one.
    """
    parts = []
    with contextlib.suppress(OSError), open("/proc/sys/kernel/random/boot_id") as boot:
        parts.append(boot.read().strip())
    with contextlib.suppress(OSError):
        parts.append(os.readlink("/proc/self/ns/pid"))
    if not parts or not parts[0]:
        parts.append(socket.gethostname())
    return wire.clip(" ".join(parts), wire.MAX_ID)


def process_context() -> zmq.Context:  # type: ignore[type-arg]
    """This process's ZeroMQ context, created on first use and again after a fork."""
    global _context, _context_pid
    with _context_lock:
        if _context is None or _context_pid != os.getpid():
            _context = zmq.Context()  # an inherited one is dropped, never closed, in a child
            _context_pid = os.getpid()
        return _context


def _set_heartbeats(sock: zmq.Socket) -> None:  # type: ignore[type-arg]
    """ZMTP heartbeats: a peer silent for 3 s is disconnected (and a client reconnects)."""
    sock.setsockopt(zmq.HEARTBEAT_IVL, 1000)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3000)
    sock.setsockopt(zmq.HEARTBEAT_TTL, 3000)


def connect_client(
    address: str, *, linger_ms: int, sndhwm: int, security: SocketSecurity | None = None
) -> zmq.Socket:  # type: ignore[type-arg]
    """A DEALER connected to ``address``: bounded queue, bounded linger, ZMTP heartbeats."""
    sock = process_context().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, linger_ms)
    sock.setsockopt(zmq.SNDHWM, sndhwm)
    sock.setsockopt(zmq.RECONNECT_IVL, 100)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 5000)
    _set_heartbeats(sock)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME)
    if security is not None:
        security.apply(sock)
    try:
        sock.connect(address)
    except zmq.ZMQError as exc:
        sock.close(linger=0)
        raise ValueError(f"cannot connect to progress address {address!r}: {exc}") from exc
    return sock


def bind_server(
    address: str, *, security: SocketSecurity | None = None
) -> tuple[zmq.Socket, str]:  # type: ignore[type-arg]
    """A ROUTER bound to ``address``; ``tcp://HOST:0`` picks a free port.

    Returns:
        The socket and the address it is bound to (the one clients should use).

    Raises:
        ValueError: the address is refused (``security.check_bind_address`` raises
            ``InsecureBindError``, a ``ValueError``) or cannot be bound.
        IpcAddressInUseError: a live process already listens on this ``ipc://`` path.
    """
    check_bind_address(address, curve=security is not None)
    if address.startswith("ipc://") and ipc_in_use(address):
        raise IpcAddressInUseError(f"another process already listens on {address}")
    if address.startswith("tcp://") and address.endswith(":0"):
        address = address[:-2] + ":*"
    sock = process_context().socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 500)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME)
    sock.setsockopt(zmq.HANDSHAKE_IVL, 5000)
    _set_heartbeats(sock)
    sock.setsockopt(zmq.SNDHWM, 1000)
    # No receive limit.  libzmq 4.3.5 aborts the whole process (stream_engine_base.cpp:310,
    # "!_io_error") when a peer disconnects while its full incoming queue has stopped the
    # reads and we then reply to it (an Ack).  Workers cannot flood: they coalesce their states
    # and bound their log queue; a flood needs a peer past the trust boundary (same user for
    # ipc://, loopback, or an allow-listed CURVE key).
    sock.setsockopt(zmq.RCVHWM, 0)
    sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN)  # never empty: see DESIGN.md
    if security is not None:
        security.apply(sock)
    try:
        sock.bind(address)
    except zmq.ZMQError as exc:
        sock.close(linger=0)
        raise ValueError(f"cannot bind progress address {address!r}: {exc}") from exc
    bound = sock.getsockopt_string(zmq.LAST_ENDPOINT)
    return sock, bound


def private_ipc_address() -> tuple[str, str]:
    """An ``ipc://`` address inside a new private (0700) temporary directory.

    Returns:
        The address and the directory, to be removed with ``remove_private_dir``.
    """
    directory = tempfile.mkdtemp(prefix="mpprogress-")
    os.chmod(directory, 0o700)
    return f"ipc://{os.path.join(directory, IPC_NAME)}", directory


def remove_private_dir(directory: str | None) -> None:
    """Remove a directory made by ``private_ipc_address`` (missing is fine)."""
    if directory:
        shutil.rmtree(directory, ignore_errors=True)


# --- the client's link: one thread owns the DEALER socket -------------------------------------



class WakePipe:
    """A self-pipe that ends a ZeroMQ poll at once: register ``fd``, call ``wake()`` from any thread."""

    def __init__(self) -> None:
        self.fd, self._write_fd = os.pipe()
        os.set_blocking(self.fd, False)
        os.set_blocking(self._write_fd, False)

    def wake(self) -> None:
        """Make the next (or current) poll on ``fd`` return."""
        with contextlib.suppress(OSError):  # a full pipe already holds a wake-up
            os.write(self._write_fd, b"\0")

    def drain(self) -> None:
        """Consume the pending wake-ups (call when ``fd`` polled readable)."""
        with contextlib.suppress(OSError):
            os.read(self.fd, 4096)

    def close(self) -> None:
        """Close both ends. Idempotent."""
        for fd in (self.fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def readable(sock: zmq.Socket) -> bool:  # type: ignore[type-arg]
    """Whether a frame waits on ``sock``: cheaper than a non-blocking read raising ``zmq.Again``."""
    return bool(cast(int, sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN)


@dataclass(frozen=True)
class ClientConfig:
    """Timing and queue settings of a worker's client.

    Args:
        flush_interval: seconds between two batches of changed phase states.
        heartbeat_interval: seconds of silence after which the client says it is alive.
        resend_interval: seconds before an unacknowledged start/finish is sent again.
        delivery_timeout: longest wait for acknowledgements when the last phase finishes, on
            ``close()`` and at exit; shortened to 0.1 s once the receiver has not answered.
        sndhwm: frames queued towards the receiver before sends are dropped (and counted).
        linger_ms: ZeroMQ LINGER of the socket (bounded: never -1).
    """

    flush_interval: float = 0.05
    heartbeat_interval: float = 1.0
    resend_interval: float = 0.5
    delivery_timeout: float = 2.0
    sndhwm: int = 1000
    linger_ms: int = 2000


class LinkSource(Protocol):
    """What the link asks of its client (called on the link's thread)."""

    def hello(self) -> wire.Hello:
        """The hello message (seq ignored)."""

    def changed_states(self) -> list[wire.PhaseState]:
        """The states of the phases that changed since the last call."""

    def unsent(self, states: list[wire.PhaseState]) -> None:
        """These states could not be sent: report them again next time."""

    def resync_messages(self) -> list[wire.Message]:
        """Every start and finish the receiver needs to rebuild this client's state."""

    def acked(self, message: wire.Message) -> None:
        """The receiver applied this reliable message."""

    def cancel(self, message: wire.Cancel) -> None:
        """The receiver asks to cancel an operation or a phase."""


@dataclass
class _Pending:
    message: wire.Message
    frame: bytes
    sent_at: float


class ClientLink:
    """Owns a DEALER socket and the one thread that touches it.

    Other threads hand it messages (``send``, ``send_log``) and wait (``wait_delivered``);
    its thread sends them with sequence numbers, batches phase states every
    ``flush_interval``, resends unacknowledged messages, sends heartbeats and handles what the
    receiver sends back.  Sends never block: when the queue towards the receiver is full the
    frame is dropped and counted (reliable ones are resent later).
    """

    def __init__(
        self,
        address: str,
        source: LinkSource,
        config: ClientConfig,
        security: SocketSecurity | None = None,
    ) -> None:
        self.address = address
        self.config = config
        self.frames_sent = 0
        self.frames_dropped = 0
        self.bad_frames = 0
        self._source = source
        self._sock = connect_client(address, linger_ms=config.linger_ms, sndhwm=config.sndhwm, security=security)
        self._waker = WakePipe()
        self._cond = threading.Condition()
        self._queue: deque[wire.Message] = deque([source.hello()])  # the hello always goes first
        self._queued_logs = 0
        self.logs_dropped = 0
        self._unacked: dict[int, _Pending] = {}
        self._seq = 0
        self._sent_at = 0.0
        self._unresponsive = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="mpprogress-client", daemon=True)
        self._thread.start()

    # --- called from any thread ---------------------------------------------------------------

    def send(self, message: wire.Message) -> None:
        """Queue a reliable message (its seq is assigned when sent) and wake the link."""
        with self._cond:
            self._queue.append(message)
        self._wake()

    def send_log(self, record: wire.LogRecord) -> None:
        """Queue a log record, in order with the other messages but never resent.

        Best effort: past 1,000 records waiting to be sent, new ones are dropped and counted.
        """
        with self._cond:
            if self._queued_logs >= 1000:
                self.logs_dropped += 1
                return
            self._queued_logs += 1
            self._queue.append(record)
        self._wake()

    def wait_delivered(self, timeout: float) -> bool:
        """Wait until every reliable message was acknowledged, at most ``timeout`` seconds.

        Once a wait has timed out, later waits last at most 0.1 s until the receiver answers
        again, so a worker whose parent is gone is never held up more than once.

        Returns:
            Whether everything was acknowledged.
        """
        if threading.current_thread() is self._thread or not self._thread.is_alive():
            return False
        with self._cond:
            if self._unresponsive:
                timeout = min(timeout, 0.1)
            delivered = self._cond.wait_for(lambda: not self._queue and not self._unacked, timeout)
            if not delivered:
                self._unresponsive = True
            return delivered

    def close(self, timeout: float = 1.0) -> None:
        """Stop the thread (it closes the socket with linger 0) and release the wake pipe."""
        self._stopping = True
        self._wake()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self._waker.close()

    def _wake(self) -> None:
        self._waker.wake()

    # --- the link's thread --------------------------------------------------------------------

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._waker.fd, zmq.POLLIN)
        next_flush = time.monotonic()
        try:
            while not self._stopping:
                timeout = max(0.0, next_flush - time.monotonic())
                ready = dict(poller.poll(int(timeout * 1000.0)))
                if self._waker.fd in ready:
                    self._waker.drain()
                now = time.monotonic()
                self._receive(now)
                self._send_queued(now)
                if now >= next_flush:
                    self._send_states(now)
                    self._resend(now)
                    if now - self._sent_at >= self.config.heartbeat_interval:
                        self._send_frame(wire.encode(wire.Heartbeat(self._next_seq())), now)
                    next_flush = now + self.config.flush_interval
        except Exception:  # never let the link die silently: the worker must keep working
            _log.exception("mpprogress client link to %s stopped", self.address)
        finally:
            self._sock.close(linger=0)  # whatever mattered was acknowledged or given up on

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _send_frame(self, frame: bytes, now: float) -> bool:
        try:
            self._sock.send(frame, zmq.NOBLOCK)
        except zmq.ZMQError:  # zmq.Again: queue full; anything else: the socket is unusable
            self.frames_dropped += 1
            return False
        self.frames_sent += 1
        self._sent_at = now
        return True

    def _send_queued(self, now: float) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    if not self._unacked:
                        self._cond.notify_all()  # what was left were log records
                    return
                message = dataclasses.replace(self._queue.popleft(), seq=self._next_seq())
                frame = wire.encode(message)
                if isinstance(message, wire.LogRecord):
                    self._queued_logs -= 1
                else:
                    self._unacked[message.seq] = _Pending(message, frame, now)
            self._send_frame(frame, now)

    def _send_states(self, now: float) -> None:
        states = self._source.changed_states()
        if not states:
            return
        frames = wire.encode_state(states, self._next_seq)
        if not all([self._send_frame(frame, now) for frame in frames]):
            self._source.unsent(states)

    def _resend(self, now: float) -> None:
        with self._cond:
            due = [p for p in self._unacked.values() if now - p.sent_at >= self.config.resend_interval]
        for pending in due:
            pending.sent_at = now
            if not self._send_frame(pending.frame, now):
                return

    def _receive(self, now: float) -> None:
        while True:
            try:
                if not readable(self._sock):
                    return
                frame = self._sock.recv(zmq.NOBLOCK)
                if self._sock.getsockopt(zmq.RCVMORE):  # never sent by an aggregator
                    while self._sock.getsockopt(zmq.RCVMORE):
                        self._sock.recv(zmq.NOBLOCK)
                    raise wire.ProtocolError("multipart")
                message = wire.decode(frame)
            except zmq.Again:
                return
            except (wire.ProtocolError, zmq.ZMQError):
                self.bad_frames += 1
                continue
            self._unresponsive = False
            self._apply(message, now)

    def _apply(self, message: wire.Message, now: float) -> None:
        if isinstance(message, wire.Ack):
            with self._cond:
                done = [self._unacked.pop(seq, None) for seq in message.acked]
                if not self._unacked and not self._queue:
                    self._cond.notify_all()
            for pending in done:
                if pending is not None:
                    self._source.acked(pending.message)
        elif isinstance(message, wire.Cancel):
            self._source.cancel(message)
        elif isinstance(message, wire.Resync):
            rebuild = [self._source.hello(), *self._source.resync_messages()]
            with self._cond:
                self._unacked.clear()
                self._queue.extendleft(reversed(rebuild))
            self._send_queued(now)
