"""ZeroMQ sockets for the client and the aggregator, with the settings DESIGN.md verified.

Sockets and their security, nothing more: which addresses are accepted, private ``ipc://``
paths and socket files are ``addresses``'s (its names are re-exported here), what travels over
the sockets is ``wire``'s, how a client makes delivery reliable is ``link``'s, and what the
aggregator does with a frame is ``aggregator``'s.  The only module of the remote side that creates contexts and
sockets.  The context is made lazily, once per process (``forksafe.PerProcess``): a forked child
never touches its parent's context or sockets, it drops the references without closing them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

import zmq

from .._base.forksafe import PerProcess
from . import wire
from .addresses import AddressError, IpcFile, check_tcp_address, private_ipc_address, remove_private_dir
from .security import IpcAddressInUseError, check_bind_address, ipc_in_use
from .settings import ADDRESS_ENV, FORWARD_LOGS_ENV
from .wire import MAX_FRAME

__all__ = [
    "ADDRESS_ENV",
    "FORWARD_LOGS_ENV",
    "MAX_RECEIVE",
    "ZAP_DOMAIN",
    "AddressError",
    "ClientConfig",
    "HandshakeMonitor",
    "IpcFile",
    "ServerSecurity",
    "SocketSecurity",
    "bind_server",
    "check_bind_address",
    "check_tcp_address",
    "client_socket",
    "close_monitor",
    "connect_client",
    "connect_socket",
    "host_identity",
    "open_monitor",
    "private_ipc_address",
    "process_context",
    "readable",
    "recv_monitor_event",
    "remove_private_dir",
]

ZAP_DOMAIN = b"mpprogress"
MAX_RECEIVE = 256 * MAX_FRAME
"""The largest frame a listening socket reads (1 MiB), as its ZeroMQ ``MAXMSGSIZE``.

Frames above ``MAX_FRAME`` (4 KiB, the most a client ever sends) and up to this are read, so
that ``wire.decode`` drops and counts them (``oversize``) and their sender stays connected.  A
frame above it cuts its connection as libzmq reads its size header, before anything is
allocated for it; libzmq 4.3's socket monitor reports that cut exactly as it reports a peer
hanging up (``DISCONNECTED``, no reason), so such frames cannot be told apart and are not
counted.  Memory stays bounded per frame; a flood of frames is bounded by the trust boundary,
like any flood (see ``bind_server``)."""


class SocketSecurity(Protocol):
    """Something that configures a socket before it connects or binds (e.g. CURVE keys)."""

    def apply(self, sock: zmq.Socket[bytes]) -> None:
        """Set the socket's security options."""


class ServerSecurity(SocketSecurity, Protocol):
    """The security of a listening socket: options, and a handler that runs while it listens."""

    def start(self, context: zmq.Context[zmq.Socket[bytes]]) -> Callable[[], None]:
        """Start what the socket needs on ``context`` before it binds (CURVE: a ZAP handler).

        Returns:
            The function that stops it, called once when the socket's owner closes.
        """


@dataclass(frozen=True)
class ClientConfig:
    """Timing and queue settings of a worker's client (its link, and the link's socket).

    Args:
        flush_interval: seconds between two batches of changed phase states.
        heartbeat_interval: seconds of silence after which the client says it is alive.
        resend_interval: seconds before an unacknowledged start/finish is sent again (each
            later resend waits twice as long as the one before, at most 8x).
        delivery_timeout: how long a wait for acknowledgements (when the last phase finishes,
            on ``close()`` and at exit) goes on once the receiver shows no sign of life (its
            connection is down and it sent nothing); 0.1 s once a wait has given up, until
            it shows life again.
        delivery_cap: the longest such a wait lasts, however alive the receiver is.
        introduction_timeout: how long the wait, once per client, for the acknowledgement of
            its hello and its first phase start (so even a worker that ends at once with
            ``os._exit`` has been seen) goes on once the receiver shows no sign of life.
        introduction_cap: the longest that wait lasts, however alive the receiver is (a
            receiver that hangs still completes handshakes).
        orphan_grace: in a worker of a session on this host, how long the receiver may show no
            life before the client looks whether the session's process is gone; if it is, the
            client cancels every operation it knows (``phase.cancelled`` turns true).
        sndhwm: frames queued towards the receiver before sends are dropped (and counted).
        linger_ms: ZeroMQ LINGER of the socket (bounded: never -1).
    """

    flush_interval: float = 0.05
    heartbeat_interval: float = 1.0
    resend_interval: float = 0.5
    delivery_timeout: float = 2.0
    delivery_cap: float = 30.0
    introduction_timeout: float = 1.0
    introduction_cap: float = 5.0
    orphan_grace: float = 10.0
    sndhwm: int = 1000
    linger_ms: int = 2000


_boot_id: list[str] | None = None  # [] where unreadable


def host_identity() -> str:
    """What a worker and an aggregator compare to know they can see each other's pids.

    On Linux: the kernel's boot id (one per machine and boot; two machines may share a
    hostname, "localhost" or a cloned image's) and this process's pid namespace (containers on
    one machine may have their own).  Elsewhere, the hostname, the best there is.  The hostname
    is left out where the boot id is known: a host renamed after its relay started must not
    turn every local worker into a remote one.
    """
    global _boot_id
    if _boot_id is None:  # one per boot: read once, and a forked worker inherits it (issue 26)
        _boot_id = []
        with contextlib.suppress(OSError), open("/proc/sys/kernel/random/boot_id") as boot:
            _boot_id = [boot.read().strip()]
    parts = list(_boot_id)
    with contextlib.suppress(OSError):
        parts.append(os.readlink("/proc/self/ns/pid"))
    if not parts or not parts[0]:
        parts.append(socket.gethostname())
    return wire.clip(" ".join(parts), wire.MAX_ID)


_context: PerProcess[zmq.Context[zmq.Socket[bytes]]] = PerProcess(zmq.Context)


def process_context() -> zmq.Context[zmq.Socket[bytes]]:
    """This process's ZeroMQ context, created on first use and again after a fork."""
    return _context.get()


def _set_heartbeats(sock: zmq.Socket[bytes]) -> None:
    """ZMTP heartbeats: a peer silent for 3 s is disconnected (and a client reconnects)."""
    sock.setsockopt(zmq.HEARTBEAT_IVL, 1000)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3000)
    sock.setsockopt(zmq.HEARTBEAT_TTL, 3000)


def client_socket(config: ClientConfig, security: SocketSecurity | None = None) -> zmq.Socket[bytes]:
    """A DEALER, not yet connected: bounded queue, bounded linger, ZMTP heartbeats."""
    sock = process_context().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, config.linger_ms)
    sock.setsockopt(zmq.SNDHWM, config.sndhwm)
    sock.setsockopt(zmq.RECONNECT_IVL, 100)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 5000)
    _set_heartbeats(sock)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME)
    if security is not None:
        security.apply(sock)
    return sock


def connect_socket(sock: zmq.Socket[bytes], address: str) -> None:
    """Connect ``sock`` to ``address`` (the caller closes it if this raises).

    Raises:
        AddressError: the port is out of range (``check_tcp_address``), or ZeroMQ refuses
            the address.
    """
    if check_tcp_address(address, bind=False):
        sock.setsockopt(zmq.IPV6, 1)
    try:
        sock.connect(address)
    except zmq.ZMQError as exc:
        raise AddressError(f"cannot connect to progress address {address!r}: {exc}") from exc


def connect_client(
    address: str, config: ClientConfig, security: SocketSecurity | None = None
) -> zmq.Socket[bytes]:
    """A ``client_socket`` connected to ``address``.

    Raises:
        AddressError: ZeroMQ refuses the address.
    """
    sock = client_socket(config, security)
    try:
        connect_socket(sock, address)
    except AddressError:
        sock.close(linger=0)
        raise
    return sock


def bind_server(
    address: str, *, security: SocketSecurity | None = None
) -> tuple[zmq.Socket[bytes], str]:
    """A ROUTER bound to ``address``; ``tcp://HOST:0`` picks a free port.

    Returns:
        The socket and the address it is bound to (the one clients should use).

    Raises:
        InsecureBindError: a network address without CURVE (``security.check_bind_address``).
        IpcAddressInUseError: a live process already listens on this ``ipc://`` path.
        AddressError: ZeroMQ cannot bind the address, or its port is out of range.
        All three are ``ProgressError``s; the first and the last are ``ValueError``s too.
    """
    check_bind_address(address, curve=security is not None)
    ipv6 = check_tcp_address(address, bind=True)
    if address.startswith("ipc://") and ipc_in_use(address):
        raise IpcAddressInUseError(f"another process already listens on {address}")
    if address.startswith("tcp://") and address.endswith(":0"):
        address = address[:-2] + ":*"
    sock = process_context().socket(zmq.ROUTER)
    if ipv6:
        sock.setsockopt(zmq.IPV6, 1)
    sock.setsockopt(zmq.LINGER, 500)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_RECEIVE)
    sock.setsockopt(zmq.HANDSHAKE_IVL, 5000)
    _set_heartbeats(sock)
    sock.setsockopt(zmq.SNDHWM, 1000)
    sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # a send to a connection that is gone says so
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
        raise AddressError(f"cannot bind progress address {address!r}: {exc}") from exc
    bound = sock.getsockopt_string(zmq.LAST_ENDPOINT)
    return sock, bound


_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)  # plain ints: flag enums cost a microsecond


def readable(sock: zmq.Socket[bytes]) -> bool:
    """Whether a frame waits on ``sock``: cheaper than a non-blocking read raising ``zmq.Again``."""
    return bool(cast(int, sock.getsockopt(_EVENTS)) & _POLLIN)


def open_monitor(sock: zmq.Socket[bytes], events: int) -> zmq.Socket[bytes] | None:
    """A ZeroMQ monitor of ``events`` on ``sock`` (read it on ``sock``'s thread), or ``None``
    if ZeroMQ refuses one (then nothing is watched and nothing else changes)."""
    with contextlib.suppress(zmq.ZMQError):
        return sock.get_monitor_socket(events)
    return None


def recv_monitor_event(monitor: zmq.Socket[bytes], flags: int = 0) -> tuple[int, int]:
    """The next event on a monitor socket: (event id, value), as libzmq 4 sends it.

    ``zmq.utils.monitor`` does the same but imports ``zmq.asyncio``, hence asyncio: 18 ms more
    for every spawned worker.

    Raises:
        zmq.ZMQError: as ``recv`` does (``zmq.Again`` with ``NOBLOCK`` and nothing there).
    """
    frames = monitor.recv_multipart(flags)
    if len(frames) != 2 or len(frames[0]) != 6:
        raise zmq.ZMQError(errno.EINVAL, "not a monitor event")
    event, value = struct.unpack("=hi", frames[0])
    return int(event), int(value)


def close_monitor(sock: zmq.Socket[bytes], monitor: zmq.Socket[bytes] | None) -> None:
    """Stop ``monitor`` (from ``open_monitor``) before ``sock`` closes; ``None`` is fine."""
    if monitor is not None:
        with contextlib.suppress(zmq.ZMQError):
            sock.disable_monitor()
        monitor.close(linger=0)


# Connections a listening socket refused during the ZMTP handshake, by drop-counter reason.
_REFUSED_EVENTS_REASON: dict[int, str] = {
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "handshake_failed",
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "handshake_protocol",
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "handshake_auth",
}
_REFUSED_EVENTS = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)


class HandshakeMonitor:
    """Counts the connections a listening socket refused before any frame (junk on raw TCP, a
    wrong CURVE key).  Use it on the socket's own thread; without a monitor (ZeroMQ refused
    one), refusals go uncounted and nothing else changes."""

    def __init__(self, sock: zmq.Socket[bytes]) -> None:
        self._sock = sock
        self._monitor = open_monitor(sock, _REFUSED_EVENTS)

    def count(self, into: Counter[str]) -> None:
        """Add the refusals seen since the last call to ``into``, by reason."""
        while self._monitor is not None:
            try:
                event, _ = recv_monitor_event(self._monitor, zmq.NOBLOCK)
            except zmq.ZMQError:  # Again: nothing more; anything else: stop counting, keep serving
                return
            into[_REFUSED_EVENTS_REASON.get(event, "handshake_failed")] += 1

    def close(self) -> None:
        """Stop monitoring. Idempotent."""
        monitor, self._monitor = self._monitor, None
        close_monitor(self._sock, monitor)
