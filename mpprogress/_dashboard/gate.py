"""Who may hold a connection to the dashboard, and for how long (standard library only).

A visitor of the page must never cost the job its file descriptors: a connection is a file
descriptor of the job's process, and a peer that opens many and sends half a request each would
otherwise hold them for ever (aiohttp has no header timeout of its own).  The ``Gate`` stands
between the listening socket and aiohttp's protocol (``Door``: one per connection) and holds:

- a **deadline**: a connection that has not sent one complete request (its TLS handshake
  included) within ``header_timeout`` seconds of being accepted is closed;
- a **cap in total** (``max_connections``, by default an eighth of the process's open-file
  limit, at most 512) and a **cap per peer address** on connections not trusted yet
  (``max_untrusted_per_peer``).  A connection is *trusted* once it made a request that passed
  the server's checks as the owner's (``Gate.trust``: the token, or on a loopback bind without
  one, this user's own uid).  A newcomer over a cap pushes out the oldest untrusted connection
  (one still silent first, then one of another user); when every connection is trusted it is
  refused: trusted ones are never pushed out for anyone.

``Gate.stats`` counts what it refused, pushed out and timed out.
"""

from __future__ import annotations

import asyncio
import resource
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Door", "Gate", "GateLimits", "GateStats", "default_limits", "tls_context"]


_EARLY_LIMIT = 65536  # bytes kept of a request that came with the TLS handshake's last message


@dataclass(frozen=True)
class GateLimits:
    """How many connections the dashboard holds, and how long a silent one may stay.

    Args:
        max_connections: connections open at once, from everyone.
        max_untrusted_per_peer: connections not trusted yet, from one peer address.
        header_timeout: seconds a new connection has to send one complete request.
    """

    max_connections: int
    max_untrusted_per_peer: int
    header_timeout: float = 10.0


def default_limits(header_timeout: float = 10.0, open_files: int | None = None, *, total: int | None = None,
                   per_peer: int | None = None) -> GateLimits:
    """Limits well below the process's open-file limit (``RLIMIT_NOFILE``): an eighth of it,
    16 to 512 connections; untrusted ones from one peer: an eighth of that, 4 to 32 (``total``
    and ``per_peer`` given win)."""
    if open_files is None:
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        open_files = 65536 if soft == resource.RLIM_INFINITY or soft <= 0 else soft
    total = total or max(16, min(512, open_files // 8))
    return GateLimits(total, per_peer or max(4, min(32, total // 8)), header_timeout)


@dataclass(frozen=True)
class GateStats:
    """What the gate did so far."""

    open: int
    trusted: int
    refused: int  # newcomers closed at once: every connection was trusted
    evicted: int  # untrusted connections pushed out by a newcomer
    expired: int  # connections closed for sending no complete request in time


class Door(asyncio.Protocol):
    """One accepted connection, handed on to aiohttp's protocol once admitted (and TLS is up)."""

    def __init__(self, gate: Gate) -> None:
        self._gate = gate
        self.raw: asyncio.Transport | None = None
        self.inner: Any = None  # aiohttp's RequestHandler
        self.handed: asyncio.BaseTransport | None = None  # the transport aiohttp got (TLS's, over raw)
        self.peer = ""
        self.requested = False  # made one complete request
        self.trusted = False
        self._timer: asyncio.TimerHandle | None = None
        self._lost = False
        self._handshaking: asyncio.Task[None] | None = None
        self._early = bytearray()  # what TLS decrypted before the handshake's waiter woke us

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        raw: asyncio.Transport = transport  # type: ignore[assignment]
        self.raw = raw
        peer = raw.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else ""
        if not self._gate.admit(self):
            raw.abort()
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._gate.limits.header_timeout, self._expire)
        if self._gate.tls is None:
            self._open(raw)
        else:
            raw.pause_reading()  # nothing is read before the handshake takes the socket over
            self._handshaking = loop.create_task(self._handshake(loop, self._gate.tls))

    async def _handshake(self, loop: asyncio.AbstractEventLoop, tls: ssl.SSLContext) -> None:
        assert self.raw is not None
        try:
            secure = await loop.start_tls(self.raw, self, tls, server_side=True,
                                          ssl_handshake_timeout=self._gate.limits.header_timeout)
        except (OSError, ssl.SSLError, asyncio.TimeoutError, RuntimeError):  # refused, or too slow
            secure = None
        if secure is None or self._lost:  # None: the connection closed during the handshake
            self.raw.abort()
            self.connection_lost(None)  # the TLS layer does not tell a protocol it never connected
            return
        self._open(secure)

    def _open(self, transport: asyncio.Transport) -> None:
        self.inner = self._gate.make_handler()
        self._gate.opened(self, transport)
        self.inner.connection_made(transport)
        if self._early:
            early, self._early = bytes(self._early), bytearray()
            self.inner.data_received(early)

    def _expire(self) -> None:
        if not self.requested and not self._lost:
            self._gate.expired += 1
            self.close()

    def close(self) -> None:
        """Drop the connection now."""
        if self.raw is not None:
            self.raw.abort()

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)
        elif len(self._early) + len(data) <= _EARLY_LIMIT:
            self._early += data
        else:
            self.close()

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        if self._timer is not None:
            self._timer.cancel()
        self._gate.forget(self)
        if self.inner is not None:
            self.inner.connection_lost(exc)


class Gate:
    """The connections of one server (see the module's note).

    Args:
        limits: the caps and the deadline.
        make_handler: makes aiohttp's protocol for an admitted connection.
        tls: the server's TLS context, when it serves HTTPS (the handshake is the gate's).
    """

    def __init__(self, limits: GateLimits, make_handler: Callable[[], Any],
                 tls: ssl.SSLContext | None = None) -> None:
        self.limits = limits
        self.make_handler = make_handler
        self.tls = tls
        self._doors: dict[Door, None] = {}  # in the order they were accepted
        self._by_transport: dict[asyncio.BaseTransport, Door] = {}
        self.refused = self.evicted = self.expired = 0

    def door(self) -> Door:
        """The protocol factory for ``loop.create_server``."""
        return Door(self)

    def admit(self, door: Door) -> bool:
        """Make room for ``door`` (pushing out the oldest untrusted connections); ``False``: refused."""
        mine = [d for d in self._doors if d.peer == door.peer and not d.trusted]
        if len(mine) >= self.limits.max_untrusted_per_peer:
            self._evict(mine)
        if len(self._doors) >= self.limits.max_connections and not self._evict(list(self._doors)):
            self.refused += 1
            return False
        self._doors[door] = None
        return True

    def _evict(self, doors: list[Door]) -> bool:
        # the silent first (they have not said what they want), then other users' viewers
        for silent_only in (True, False):
            for door in doors:
                if not door.trusted and not (silent_only and door.requested) and door in self._doors:
                    self.forget(door)
                    door.close()
                    self.evicted += 1
                    return True
        return False

    def opened(self, door: Door, transport: asyncio.BaseTransport) -> None:
        """``door`` hands ``transport`` to aiohttp (requests know their connection by it)."""
        door.handed = transport
        self._by_transport[transport] = door

    def forget(self, door: Door) -> None:
        """``door`` closed (or was pushed out)."""
        self._doors.pop(door, None)
        if door.handed is not None:
            self._by_transport.pop(door.handed, None)

    def requested(self, transport: asyncio.BaseTransport | None, trusted: bool) -> None:
        """A complete request came on ``transport``; ``trusted``: it passed as the owner's."""
        door = self._by_transport.get(transport) if transport is not None else None
        if door is not None:
            door.requested = True
            door.trusted = door.trusted or trusted

    def is_trusted(self, transport: asyncio.BaseTransport | None) -> bool:
        """Whether the connection of ``transport`` is trusted."""
        door = self._by_transport.get(transport) if transport is not None else None
        return door is not None and door.trusted

    def close_all(self) -> None:
        """Drop every connection (the server stops)."""
        for door in list(self._doors):
            door.close()

    def stats(self) -> GateStats:
        """Open and trusted connections now; refused, pushed out and timed out so far."""
        return GateStats(len(self._doors), sum(d.trusted for d in self._doors), self.refused, self.evicted,
                         self.expired)


def tls_context(certfile: str, keyfile: str | None) -> ssl.SSLContext:
    """A server context for ``certfile`` (and ``keyfile``, when the key is not in ``certfile``).

    Raises:
        OSError: a file cannot be read (its name in the message).
        ValueError: what is wrong with the files, in one line naming them (OpenSSL says only
            "PEM lib").
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile, keyfile, password=_no_passphrase)
    except ssl.SSLError as exc:
        if "encrypted" in str(exc):
            raise
        raise ValueError(_pem_problem(certfile, keyfile)) from exc
    except OSError as exc:  # OpenSSL does not say which file
        for path in (certfile, keyfile):
            try:
                if path is not None:
                    open(path, "rb").close()
            except OSError as unreadable:
                raise OSError(unreadable.errno, f"{unreadable.strerror}: {path}") from exc
        raise
    return context


def _pem_problem(certfile: str, keyfile: str | None) -> str:
    """Why a certificate and its key do not load, from what the files hold."""
    def holds(path: str, marker: bytes) -> bool:
        try:
            with open(path, "rb") as pem:
                return marker in pem.read(1 << 20)
        except OSError:
            return False

    if not holds(certfile, b"-----BEGIN CERTIFICATE-----"):
        return f"{certfile} holds no PEM certificate"
    if keyfile is None and not holds(certfile, b"PRIVATE KEY-----"):
        return (f"{certfile} holds a certificate but not its private key: "
                "name the key file too (MPPROGRESS_DASHBOARD_KEY)")
    if keyfile is not None and not holds(keyfile, b"PRIVATE KEY-----"):
        return f"{keyfile} holds no PEM private key"
    return f"the private key in {keyfile or certfile} is not the key of the certificate in {certfile}"


def _no_passphrase() -> str:
    """Asked for an encrypted key's passphrase (OpenSSL would prompt on the terminal): refuse."""
    raise ssl.SSLError("the private key is encrypted: give the dashboard an unencrypted key file, "
                       "readable by this user only")
