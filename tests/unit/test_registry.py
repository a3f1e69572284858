"""The aggregator's client registry and liveness rules, driven by a fake clock (no sleeping)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import msgpack
import pytest

from mpprogress._core.tracker import BaseProgressTracker
from mpprogress._remote import wire
from mpprogress._remote.pids import process_alive
from mpprogress._remote.registry import Admission, ClientRegistry, RemoteClient, RemotePhase
from mpprogress.testing import FakeClock

HOST = "boot-id pid:[4026531836]"


class Pids:
    """A fake ``process_alive``: the pids it calls alive, and every pid it was asked about."""

    def __init__(self, *alive: int) -> None:
        self.alive = set(alive)
        self.asked: list[int] = []

    def __call__(self, pid: int, started: int | None = None) -> bool:
        self.asked.append(pid)
        return pid in self.alive


class Connections:
    """A fake ``connected``: the routing ids ZeroMQ still has a connection under."""

    def __init__(self) -> None:
        self.gone: set[bytes] = set()

    def __call__(self, routing_id: bytes) -> bool:
        return routing_id not in self.gone


def make(pids: Pids | None = None, connections: Connections | None = None,
         **limits: Any) -> tuple[ClientRegistry, FakeClock]:
    clock = FakeClock()
    registry = ClientRegistry(HOST, process_alive=pids or Pids(), connected=connections or Connections(), **limits)
    return registry, clock


def admit(registry: ClientRegistry, clock: FakeClock, routing_id: bytes, client_id: str, pid: int = 10,
          host: str = "elsewhere", user_id: str = "", peer_pid: int | None = None) -> RemoteClient:
    client, displaced, refused, evicted = registry.admit(routing_id, wire.Hello(1, client_id, pid, host), clock(),
                                                         user_id, peer_pid)
    assert client is not None and displaced is None and refused is None and evicted is None
    return client


def test_a_client_elsewhere_is_stalled_after_the_stall_timeout_and_lost_after_the_lost_timeout() -> None:
    pids = Pids()
    registry, clock = make(pids, stall_timeout=5.0, lost_timeout=60.0)
    client = admit(registry, clock, b"r1", "far")
    assert not client.local
    clock.advance(4.9)
    assert registry.judge(client, clock()) == "running"
    client.last_seen = clock()  # a heartbeat
    clock.advance(5.1)
    assert registry.judge(client, clock()) == "stalled"  # in doubt: not final
    clock.advance(54.8)
    assert registry.judge(client, clock()) == "stalled"
    client.last_seen = clock()  # heard again: running at once
    assert registry.judge(client, clock()) == "running"
    clock.advance(60.1)
    assert registry.judge(client, clock()) == "lost"
    assert pids.asked == []  # its pid names nothing here: never looked at


def test_a_client_on_this_host_is_lost_with_its_process_only_unless_a_local_timeout_is_set() -> None:
    pids = Pids(10)
    registry, clock = make(pids, stall_timeout=5.0, lost_timeout=60.0)
    client = admit(registry, clock, b"r1", "near", pid=10, host=HOST, peer_pid=10)  # proven over ipc://
    assert client.local
    clock.advance(3600.0)  # a stopped or very busy process: stalled, never lost while it exists
    assert registry.judge(client, clock()) == "stalled"
    other = admit(registry, clock, b"r2", "dies", pid=11, host=HOST)
    assert registry.judge(other, clock()) == "running"  # just heard from: alive then, its pid not read
    assert pids.asked == [10]
    clock.advance(0.25)  # the next check
    assert registry.judge(other, clock()) == "lost"  # pid 11 is not alive: lost at the first check after
    assert pids.asked == [10, 11]
    bounded, clock = make(pids, stall_timeout=5.0, local_lost_timeout=30.0)
    client = admit(bounded, clock, b"r1", "near", pid=10, host=HOST, peer_pid=10)
    clock.advance(29.0)
    assert bounded.judge(client, clock()) == "stalled"
    clock.advance(1.5)
    assert bounded.judge(client, clock()) == "lost"


def test_a_lost_client_that_says_hello_again_is_known_to_have_returned() -> None:
    registry, clock = make()
    client = admit(registry, clock, b"r1", "a")
    assert not client.returned
    registry.remove(client, lost=True)
    again = admit(registry, clock, b"r2", "a")
    assert again is not client and again.returned
    registry.remove(again)  # a bye: not lost
    assert not admit(registry, clock, b"r3", "a").returned


def test_a_hello_resyncs_reconnects_or_displaces() -> None:
    connections = Connections()
    registry, clock = make(connections=connections)
    first = admit(registry, clock, b"r1", "a")
    assert registry.admit(b"r1", wire.Hello(9, "a", 10, "elsewhere"), clock()) == (first, None, None, None)  # a resync
    connections.gone.add(b"r1")  # its connection broke; it reconnects as r2
    moved, displaced, _, _ = registry.admit(b"r2", wire.Hello(1, "a", 10, "elsewhere"), clock())
    assert moved is first and displaced is None and first.routing_id == b"r2"
    assert registry.get(b"r1") is None and registry.get(b"r2") is first
    newcomer, displaced, _, _ = registry.admit(b"r2", wire.Hello(1, "b", 12, "elsewhere"), clock())
    assert displaced is first and newcomer is not None and newcomer.client_id == "b"
    assert (len(registry), registry.lost) == (1, 1)


def test_a_hello_naming_a_client_on_another_live_connection_is_a_hijack() -> None:
    connections = Connections()
    registry, clock = make(connections=connections)
    victim = admit(registry, clock, b"r1", "victim")
    assert registry.admit(b"r2", wire.Hello(1, "victim", 66, "elsewhere"), clock()) == Admission(None, None, "hijack")
    assert registry.get(b"r1") is victim and registry.get(b"r2") is None and victim.pid == 10


def test_under_curve_a_client_id_is_bound_to_its_key_even_after_its_connection_broke() -> None:
    connections = Connections()
    registry, clock = make(connections=connections)
    victim = admit(registry, clock, b"r1", "victim", user_id="good-key")
    connections.gone.add(b"r1")
    assert registry.admit(b"r2", wire.Hello(1, "victim", 10, "elsewhere"), clock(), "other-key").refused == "hijack"
    again = registry.admit(b"r3", wire.Hello(1, "victim", 10, "elsewhere"), clock(), "good-key")
    assert again == (victim, None, None, None)
    assert victim.routing_id == b"r3"


def test_clients_beyond_the_limit_are_refused_and_a_bye_is_not_a_loss() -> None:
    registry, clock = make(max_clients=2)
    a = admit(registry, clock, b"r1", "a")
    admit(registry, clock, b"r2", "b")
    assert registry.admit(b"r3", wire.Hello(1, "c", 10, "elsewhere"), clock()) == (None, None, "too_many_clients", None)
    registry.remove(a)
    assert (len(registry), registry.lost) == (1, 0)
    assert admit(registry, clock, b"r3", "c").client_id == "c"


def test_a_hello_claiming_this_host_unproven_is_lost_after_the_lost_timeout_even_with_a_live_pid() -> None:
    pids = Pids(1)
    registry, clock = make(pids, stall_timeout=5.0, lost_timeout=60.0)
    forged = admit(registry, clock, b"r1", "forged", pid=1, host=HOST)  # over TCP: nothing proves pid 1
    assert not forged.local and forged.here and forged.name == "pid 1"
    clock.advance(59.0)
    assert registry.judge(forged, clock()) == "stalled"
    clock.advance(1.5)
    assert registry.judge(forged, clock()) == "lost"  # a live pid 1 does not keep it
    gone = admit(registry, clock, b"r2", "gone", pid=11, host=HOST)
    clock.advance(0.25)
    assert registry.judge(gone, clock()) == "lost"  # a dead pid it claims: lost at once all the same
    wrong = admit(registry, clock, b"r3", "wrong", pid=1, host=HOST, peer_pid=4242)  # the kernel says another pid
    assert not wrong.local


def test_a_reconnect_must_name_the_same_process_and_over_ipc_prove_it() -> None:
    connections = Connections()
    registry, clock = make(connections=connections)
    near = admit(registry, clock, b"r1", "near", pid=10, host=HOST, peer_pid=10)
    far = admit(registry, clock, b"r2", "far", pid=20, host="elsewhere")
    connections.gone.update({b"r1", b"r2"})  # both connections broke: a window for a peer that saw the ids
    assert registry.admit(b"r3", wire.Hello(1, "near", 10, HOST), clock(), "", 66).refused == "hijack"
    assert registry.admit(b"r3", wire.Hello(1, "near", 10, HOST), clock()).refused == "hijack"  # proves nothing
    assert registry.admit(b"r4", wire.Hello(1, "far", 21, "elsewhere"), clock()).refused == "hijack"
    assert registry.admit(b"r5", wire.Hello(1, "near", 10, HOST), clock(), "", 10).client is near
    assert registry.admit(b"r6", wire.Hello(1, "far", 20, "elsewhere"), clock()).client is far


def test_when_every_slot_is_taken_a_client_whose_connection_is_gone_makes_room() -> None:
    connections = Connections()
    registry, clock = make(connections=connections, max_clients=3)
    clients = [admit(registry, clock, f"r{n}".encode(), f"c{n}", host=HOST) for n in range(3)]
    connections.gone.add(b"r1")  # said hello and hung up
    hello = wire.Hello(1, "late", 10, HOST)
    assert registry.admit(b"r9", hello, clock()).refused == "too_many_clients"  # heard just now: not probed
    clock.advance(0.6)
    admitted = registry.admit(b"r9", hello, clock())
    assert admitted.client is not None and admitted.evicted is clients[1]
    assert (len(registry), registry.lost, registry.get(b"r1")) == (3, 1, None)
    assert registry.admit(b"r8", wire.Hello(1, "later", 10, HOST), clock()).refused == "too_many_clients"  # all live


def test_an_unknown_sender_is_asked_to_resync_at_most_once_a_second() -> None:
    registry, clock = make()
    assert registry.should_ask_resync(b"r1", clock())
    clock.advance(0.5)
    assert not registry.should_ask_resync(b"r1", clock())
    assert registry.should_ask_resync(b"r2", clock())
    clock.advance(0.6)
    assert registry.should_ask_resync(b"r1", clock())


def test_phases_finished_here_are_retired() -> None:
    tracker = BaseProgressTracker(auto_flush=False)
    op = tracker.start_operation("op", "op")
    registry, clock = make()
    client = admit(registry, clock, b"r1", "a")
    for handle in (1, 2):
        client.phases[handle] = RemotePhase(op.start_phase(f"p{handle}", "p"), op, 0)
    op.finish_phase("p1")
    client.retire_finished_phases()
    assert list(client.phases) == [2] and list(client.finished) == [1]


def test_process_alive_never_raises() -> None:
    assert process_alive(os.getpid())
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert not process_alive(gone.pid)
    for impossible in (2**31, 2**63, -(2**40)):
        assert not process_alive(impossible)


@pytest.mark.parametrize("pid", [0, -1, 2**31])
def test_a_hello_with_an_impossible_pid_never_reaches_the_registry(pid: int) -> None:
    with pytest.raises(wire.ProtocolError):
        wire.decode(msgpack.packb([wire.VERSION, wire.Hello.KIND, 1, "c", pid, HOST]))


def test_a_client_heard_from_within_the_probe_quiet_is_not_probed() -> None:
    """Four checks a second over hundreds of busy workers: a frame says a worker lives, so
    only a worker silent for 0.2 s costs a look at its process."""
    pids = Pids(*range(100, 110))
    registry, clock = make(pids, stall_timeout=5.0)
    clients = [admit(registry, clock, f"r{k}".encode(), f"c{k}", pid=100 + k, host=HOST) for k in range(10)]
    for _ in range(4):  # every client reports between two checks
        clock.advance(0.1)
        for client in clients:
            client.last_seen = clock()
        assert {registry.judge(client, clock()) for client in clients} == {"running"}
    assert pids.asked == []
    clock.advance(0.25)
    assert {registry.judge(client, clock()) for client in clients} == {"running"}
    assert sorted(pids.asked) == list(range(100, 110))
