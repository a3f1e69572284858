"""Who is connected to an aggregator, and who is gone.

A pure record of the clients (no sockets, no threads, no clock of its own): every method that
depends on time takes ``now``, so tests drive it with a fake clock, and whether a pid names a
live process is asked of an injected function.  The aggregator's thread is its only user.

Identity: a client is known by the id its hello names, and that id is bound to the connection
it came on (its ZeroMQ routing id and, under CURVE, the public key it authenticated with).  A
hello naming a known id from another connection takes the client over only as a reconnect:
when the client's previous connection is gone (``connected`` says ZeroMQ no longer routes to
it), the key is the same, the hello names the same pid and host, and, for a client whose pid
was proven over ``ipc://``, the new connection proves that pid again.  Anything else is
refused as a ``hijack``.  Ids are random and never shown, so only a peer that saw a worker's
hello can name its id: over ``ipc://`` it cannot prove the pid; over plain TCP the id, pid and
host are all there is (CURVE binds the id to the worker's key).

Liveness (``judge``): a client is ``running`` while it is heard from.  After ``stall_timeout``
of silence it is ``stalled``: in doubt, not final (a long GIL-holding call, a stopped process, a
network link down for a while all look like this); its phases stay open and show as stalled.
It is ``lost``, which is final, only when it is known to be gone: a client whose hello claims
this host (its ``host`` equals the aggregator's ``host_identity()``) as soon as the pid it
claims names no live process (or a zombie) and it was silent ``_PROBE_QUIET`` (0.2 s): claiming
a dead pid only loses the claimant.  A
live pid keeps a client stalled, never lost (unless ``local_lost_timeout`` is set), only when
the transport proved the pid (``proven``: over ``ipc://`` the kernel names the peer's pid, and
it is the hello's); any other client, whatever it claims (a forged hello naming this host and
pid 1 costs nothing), is lost after ``lost_timeout`` of silence.  A stalled client that is heard
from again is ``running`` at once and its reports apply as if nothing happened.  A lost client is
forgotten: if it comes back anyway (it was only silent, longer than ``lost_timeout``) its id is
remembered (the newest 1,024) so that it is recognised (``RemoteClient.returned``) and its resync
is counted as ``after_lost`` instead of being mistaken for a hostile peer; its phases stay lost.

Slots: at most ``max_clients`` clients.  When they are all taken, a hello first evicts (as
lost) a client whose connection is gone (ZeroMQ no longer routes to it) and that was silent
for ``_GONE_AFTER`` (0.5 s): connections that said hello and closed cannot keep a worker out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from .._core.phases import BaseProgressOperation, BaseProgressPhase
from . import wire
from .pids import process_alive, process_start

__all__ = ["Admission", "ClientRegistry", "RemoteClient", "RemotePhase", "Verdict"]

_MAX_RESYNC_ASKED = 1024  # routing ids remembered for the resync rate limit
_RESYNC_EVERY = 1.0  # seconds between two resync requests to one sender
_MAX_LOST_IDS = 1024  # ids of lost clients remembered, to recognise one that comes back
_GONE_AFTER = 0.5  # silence after which a client whose connection is gone may be evicted
_MAX_PROBES = 256  # clients probed for a free slot per hello (each probe is one send)
_PROBE_QUIET = 0.2  # silence after which a local client's pid is checked (a frame says it lives)

Verdict = Literal["running", "stalled", "lost"]
"""What ``ClientRegistry.judge`` makes of a client (see the module docstring)."""


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
    local: bool  # proven on this host: a live pid keeps it stalled, never lost
    last_seen: float
    user_id: str = ""  # the ZAP user id of its connection (under CURVE, its public key)
    host: str = ""  # its hello's host identity
    phases: dict[int, RemotePhase] = field(default_factory=dict)  # open, by the client's handle
    finished: deque[int] = field(default_factory=lambda: deque(maxlen=1024))  # handles, newest last
    operations: set[str] = field(default_factory=set)  # its own
    joined: dict[str, None] = field(default_factory=dict)  # operations it started phases in, newest last
    stalled: bool = False  # silent past the stall timeout, and its phases shown so
    returned: bool = False  # its id was lost before: its old phases stay lost
    started: int | None = None  # a local client's process start time (a pid taken again is another)
    here: bool = False  # its hello claims this host: a dead pid makes it lost
    introduced: bool = False  # its first phase start was acknowledged: later ones may wait (``replies``)

    @property
    def name(self) -> str:
        """The client as log lines name it: its pid, and its host when it is not this one."""
        return f"pid {self.pid}" if self.here else f"pid {self.pid} on {self.host}"

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


class Admission(NamedTuple):
    """What became of a hello (``ClientRegistry.admit``)."""

    client: RemoteClient | None
    """The client that said it, or ``None`` when the hello was refused."""
    displaced: RemoteClient | None = None
    """Another client that was under this routing id and is now lost (its phases are the
    caller's to finish)."""
    refused: str | None = None
    """Why the hello was refused, as a drop-counter reason: ``too_many_clients`` or ``hijack``."""
    evicted: RemoteClient | None = None
    """A client whose connection was gone, lost to free its slot (its phases are the caller's to finish)."""


class ClientRegistry:
    """The clients of one aggregator, by ZeroMQ routing id.

    Args:
        host: the aggregator's ``host_identity()``.
        max_clients: clients tracked at once; hellos beyond are refused.
        stall_timeout: silence after which a client is ``stalled`` (in doubt, not final).
        lost_timeout: silence after which a client on another host is ``lost`` (final).
        local_lost_timeout: silence after which a client on this host whose process still
            exists is ``lost`` anyway; ``None``: never (it stays stalled while its pid lives).
        process_alive: whether a pid names a live process here, the one that started at the
            given time if known (``pids.process_alive`` by default).
        connected: whether ZeroMQ still has a connection under a routing id (by default
            always: no client is ever taken over by another connection).
    """

    def __init__(
        self,
        host: str,
        *,
        max_clients: int = 4096,
        stall_timeout: float = 5.0,
        lost_timeout: float = 60.0,
        local_lost_timeout: float | None = None,
        process_alive: Callable[[int, int | None], bool] = process_alive,
        connected: Callable[[bytes], bool] = lambda routing_id: True,
    ) -> None:
        self.host = host
        self.max_clients = max_clients
        self.stall_timeout = stall_timeout
        self.lost_timeout = lost_timeout
        self.local_lost_timeout = local_lost_timeout
        self.lost = 0
        """Clients found gone (or displaced by another client) so far."""
        self._process_alive = process_alive
        self._connected = connected
        self._clients: dict[bytes, RemoteClient] = {}
        self._by_id: dict[str, RemoteClient] = {}
        self._resync_asked: dict[bytes, float] = {}
        self._lost_ids: dict[str, None] = {}  # oldest first

    def __len__(self) -> int:
        return len(self._clients)

    def get(self, routing_id: bytes) -> RemoteClient | None:
        """The client behind ``routing_id``, if known."""
        return self._clients.get(routing_id)

    def clients(self) -> list[RemoteClient]:
        """Every client (a copy: the registry may change while the caller walks it)."""
        return list(self._clients.values())

    def admit(
        self, routing_id: bytes, hello: wire.Hello, now: float, user_id: str = "", peer_pid: int | None = None
    ) -> Admission:
        """Take a hello: a new client, a resync, or a known client reconnected under a new routing id.

        Args:
            routing_id: the connection the hello came on.
            hello: the hello.
            now: the time it arrived.
            user_id: the ZAP user id of the connection (under CURVE, the client's public key).
            peer_pid: the pid the transport proved the connection comes from (``ipc://``), if any.
        """
        displaced = None
        client = self._clients.get(routing_id)
        if client is not None:
            if client.client_id == hello.client_id:
                return Admission(client)  # a resync
            displaced = self.remove(client, lost=True)  # another client under the same routing id
        known = self._by_id.get(hello.client_id)
        if known is not None:
            same = (hello.pid, hello.host) == (known.pid, known.host) and (not known.local or peer_pid == known.pid)
            if known.user_id != user_id or not same or self._connected(known.routing_id):
                return Admission(None, displaced, "hijack")
            del self._clients[known.routing_id]  # the same client, reconnected
            known.routing_id = routing_id
            self._clients[routing_id] = known
            return Admission(known, displaced)
        evicted = self._evict(now) if len(self._clients) >= self.max_clients else None
        if len(self._clients) >= self.max_clients:
            return Admission(None, displaced, "too_many_clients")
        here = hello.host == self.host
        client = RemoteClient(routing_id, hello.client_id, hello.pid, here and peer_pid == hello.pid, now, user_id,
                              hello.host, here=here)
        if here:
            client.started = process_start(client.pid)
        if hello.client_id in self._lost_ids:
            del self._lost_ids[hello.client_id]
            client.returned = True
        self._clients[routing_id] = client
        self._by_id[client.client_id] = client
        self._resync_asked.pop(routing_id, None)
        return Admission(client, displaced, evicted=evicted)

    def _evict(self, now: float) -> RemoteClient | None:
        """Lose the first client (oldest first, of the first ``_MAX_PROBES`` silent ones) whose
        connection is gone, to free its slot; ``None`` if there is none."""
        probes = 0
        for client in list(self._clients.values()):
            if now - client.last_seen < _GONE_AFTER:
                continue
            if not self._connected(client.routing_id):
                return self.remove(client, lost=True)
            probes += 1
            if probes >= _MAX_PROBES:
                break
        return None

    def remove(self, client: RemoteClient, *, lost: bool = False) -> RemoteClient:
        """Forget ``client`` (it said bye, or it is ``lost``); return it."""
        if self._clients.get(client.routing_id) is client:
            del self._clients[client.routing_id]
            del self._by_id[client.client_id]
            if lost:
                self.lost += 1
                self._lost_ids[client.client_id] = None
                if len(self._lost_ids) > _MAX_LOST_IDS:
                    del self._lost_ids[next(iter(self._lost_ids))]
        return client

    def judge(self, client: RemoteClient, now: float) -> Verdict:
        """Whether ``client`` is ``running``, ``stalled`` or ``lost`` at time ``now`` (see the
        module docstring).  Changes nothing."""
        silent = now - client.last_seen
        # A frame within the last _PROBE_QUIET s says it lives: no /proc read for it (hundreds
        # of busy workers, four checks a second); a killed worker is found a check later.
        if client.here and silent >= _PROBE_QUIET and not self._process_alive(client.pid, client.started):
            return "lost"
        if client.local:
            if self.local_lost_timeout is not None and silent > self.local_lost_timeout:
                return "lost"
        elif silent > self.lost_timeout:
            return "lost"
        return "stalled" if silent > self.stall_timeout else "running"

    def should_ask_resync(self, routing_id: bytes, now: float) -> bool:
        """Whether to send ``RESYNC`` to an unknown sender now: at most once a second each."""
        if now - self._resync_asked.get(routing_id, now - 2 * _RESYNC_EVERY) < _RESYNC_EVERY:
            return False
        if len(self._resync_asked) >= _MAX_RESYNC_ASKED:
            self._resync_asked.clear()
        self._resync_asked[routing_id] = now
        return True
