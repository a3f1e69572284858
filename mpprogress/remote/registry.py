"""Who is connected to an aggregator, and who is gone.

A pure record of the clients (no sockets, no threads, no clock of its own): every method that
depends on time takes ``now``, so tests drive it with a fake clock, and whether a pid names a
live process is asked of an injected function.  The aggregator's thread is its only user.

Liveness: a client on this host (its hello's ``host`` equals the aggregator's
``host_identity()``) is gone when its process is gone or a zombie, or when it has been silent
for ``local_silence_timeout`` (a long GIL-holding call can delay its heartbeats, so a live pid
buys it time, not forever); a client elsewhere, whose pid means nothing here, is gone after
``heartbeat_timeout`` of silence.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..phases import BaseProgressOperation, BaseProgressPhase
from . import wire

__all__ = ["ClientRegistry", "RemoteClient", "RemotePhase", "process_alive"]

_MAX_RESYNC_ASKED = 1024  # routing ids remembered for the resync rate limit
_RESYNC_EVERY = 1.0  # seconds between two resync requests to one sender


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie.

    Never raises: a pid no process can have (``ValueError``, ``OverflowError``) is not alive.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    except (OSError, ValueError, OverflowError):
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rpartition(b")")[2].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill(pid, 0) is all we know
    return state not in (b"Z", b"X")


@dataclass
class RemotePhase:
    """A phase a client started, as the aggregator's tracker holds it."""

    phase: BaseProgressPhase
    container: BaseProgressOperation | BaseProgressPhase
    seq: int  # of the newest frame applied to it


@dataclass
class RemoteClient:
    """One connected client: who it is, when it was last heard, and what it has open."""

    routing_id: bytes
    client_id: str
    pid: int
    local: bool  # on this host: its pid can be checked
    last_seen: float
    phases: dict[int, RemotePhase] = field(default_factory=dict)  # open, by the client's handle
    finished: deque[int] = field(default_factory=lambda: deque(maxlen=1024))  # handles, newest last
    operations: set[str] = field(default_factory=set)  # its own
    joined: dict[str, None] = field(default_factory=dict)  # operations it started phases in, newest last

    def join(self, operation_id: str) -> None:
        """Remember that the client has (had) phases in ``operation_id`` (the newest 256)."""
        self.joined.pop(operation_id, None)
        self.joined[operation_id] = None
        if len(self.joined) > 256:
            del self.joined[next(iter(self.joined))]

    def retire_finished_phases(self) -> None:
        """Move the phases that finished here (e.g. with their operation) to ``finished``."""
        for handle in [h for h, remote in self.phases.items() if remote.phase.finished]:
            del self.phases[handle]
            self.finished.append(handle)


class ClientRegistry:
    """The clients of one aggregator, by ZeroMQ routing id.

    Args:
        host: the aggregator's ``host_identity()``.
        max_clients: clients tracked at once; hellos beyond are refused.
        heartbeat_timeout: silence after which a client on another host is gone.
        local_silence_timeout: silence after which a client on this host is gone anyway.
        process_alive: whether a pid names a live process here (``process_alive`` by default).
    """

    def __init__(
        self,
        host: str,
        *,
        max_clients: int = 4096,
        heartbeat_timeout: float = 3.0,
        local_silence_timeout: float = 30.0,
        process_alive: Callable[[int], bool] = process_alive,
    ) -> None:
        self.host = host
        self.max_clients = max_clients
        self.heartbeat_timeout = heartbeat_timeout
        self.local_silence_timeout = local_silence_timeout
        self.lost = 0
        """Clients found gone (or displaced by another client) so far."""
        self._process_alive = process_alive
        self._clients: dict[bytes, RemoteClient] = {}
        self._resync_asked: dict[bytes, float] = {}

    def __len__(self) -> int:
        return len(self._clients)

    def get(self, routing_id: bytes) -> RemoteClient | None:
        """The client behind ``routing_id``, if known."""
        return self._clients.get(routing_id)

    def clients(self) -> list[RemoteClient]:
        """Every client (a copy: the registry may change while the caller walks it)."""
        return list(self._clients.values())

    def admit(
        self, routing_id: bytes, hello: wire.Hello, now: float
    ) -> tuple[RemoteClient | None, RemoteClient | None]:
        """Take a hello: a new client, a resync, or a known client under a new routing id.

        Returns:
            The client (``None`` when ``max_clients`` are already tracked), and a different
            client that was under this routing id and is now lost (its phases are the
            caller's to finish), or ``None``.
        """
        displaced = None
        client = self._clients.get(routing_id)
        if client is not None:
            if client.client_id == hello.client_id:
                return client, None  # a resync
            displaced = self.remove(client, lost=True)  # another client under the same routing id
        for other in list(self._clients.values()):
            if other.client_id == hello.client_id:  # the same client, reconnected
                del self._clients[other.routing_id]
                other.routing_id = routing_id
                self._clients[routing_id] = other
                return other, displaced
        if len(self._clients) >= self.max_clients:
            return None, displaced
        client = RemoteClient(routing_id, hello.client_id, hello.pid, hello.host == self.host, now)
        self._clients[routing_id] = client
        self._resync_asked.pop(routing_id, None)
        return client, displaced

    def remove(self, client: RemoteClient, *, lost: bool = False) -> RemoteClient:
        """Forget ``client`` (it said bye, or it is ``lost``); return it."""
        if self._clients.get(client.routing_id) is client:
            del self._clients[client.routing_id]
            if lost:
                self.lost += 1
        return client

    def is_gone(self, client: RemoteClient, now: float) -> bool:
        """Whether ``client`` should be given up on at time ``now`` (see the module docstring)."""
        silent = now - client.last_seen
        if client.local:
            return silent > self.local_silence_timeout or not self._process_alive(client.pid)
        return silent > self.heartbeat_timeout

    def should_ask_resync(self, routing_id: bytes, now: float) -> bool:
        """Whether to send ``RESYNC`` to an unknown sender now: at most once a second each."""
        if now - self._resync_asked.get(routing_id, now - 2 * _RESYNC_EVERY) < _RESYNC_EVERY:
            return False
        if len(self._resync_asked) >= _MAX_RESYNC_ASKED:
            self._resync_asked.clear()
        self._resync_asked[routing_id] = now
        return True
