"""The dashboard's gate over real sockets: half-sent requests time out, connections are capped in
total and per peer, the untrusted go first, and the owner is served while a flood is held."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("aiohttp")

from mpprogress import BaseProgressTracker
from mpprogress._dashboard.gate import default_limits
from mpprogress._dashboard.live import TrackerSource
from mpprogress._dashboard.server import DashboardConfig, DashboardServer
from mpprogress.adapters.web import EventStream
from tests.integration.conftest import wait_for
from tests.unit.test_dashboard_server import TOKEN

HALF = b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # the headers never end


def half_request(port: int, source: str = "127.0.0.1") -> socket.socket:
    """A connection (from ``source``, any 127.x address) that sends half a request and waits."""
    sock = socket.socket()
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    sock.sendall(HALF)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed ``sock`` (without waiting)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


@contextlib.contextmanager
def served(**config: Any) -> Iterator[tuple[BaseProgressTracker, DashboardServer]]:
    tracker = BaseProgressTracker(max_update_rate=None)
    stream = EventStream()
    tracker.add_callback(stream)
    tracker.start_operation("op", "Guarded run").start_phase("p", "fetch", total=10).update(3)
    try:
        with DashboardServer(TrackerSource(tracker, stream), DashboardConfig(**config)) as server:
            yield tracker, server
    finally:
        tracker.close()


def get_state(port: int, **headers: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("GET", "/api/state", headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status == 200:
            assert json.loads(body)["phases"]["p"]["current"] == 3
        else:  # a refused visitor does not keep its connection
            assert response.getheader("Connection") == "close"
        return response.status
    finally:
        conn.close()


class Stream:
    """An authenticated event stream, kept open."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        self.conn.request("GET", "/api/events", headers={"Authorization": f"Bearer {TOKEN}"})
        self.response = self.conn.getresponse()
        assert self.response.status == 200

    def next_data(self) -> dict[str, Any]:
        while True:
            line = self.response.fp.readline().decode()
            assert line, "the stream ended"
            if line.startswith("data: "):
                return json.loads(line[6:])  # type: ignore[no-any-return]

    def close(self) -> None:
        self.conn.close()


def test_the_default_caps_stay_well_below_the_open_file_limit() -> None:
    assert default_limits(open_files=1024).max_connections == 128
    assert default_limits(open_files=1024).max_untrusted_per_peer == 16
    assert default_limits(open_files=256).max_connections == 32
    assert default_limits(open_files=1 << 20).max_connections == 512
    assert default_limits(open_files=64).max_connections == 16


def test_half_sent_requests_are_closed_after_the_header_timeout() -> None:
    with served(token=TOKEN, header_timeout=1.0, max_connections=50) as (_, server):
        socks = [half_request(server.port, f"127.0.0.{2 + n}") for n in range(6)]
        try:
            assert wait_for(lambda: all(closed_by_server(s) for s in socks), timeout=30)
            assert server.stats().expired == 6 and server.stats().connections == 0
        finally:
            for sock in socks:
                sock.close()
        assert get_state(server.port, Authorization=f"Bearer {TOKEN}") == 200  # the server goes on


def test_a_flood_of_half_requests_is_capped_and_the_owner_is_still_served() -> None:
    # 30 peer addresses x 5 half-requests each = 150 connections against a cap of 20 in total
    # and 4 untrusted per peer; none times out during the test (60 s).
    with served(token=TOKEN, header_timeout=60.0, max_connections=20, max_untrusted_per_peer=4) as (_, server):
        viewer = Stream(server.port)  # trusted before the flood
        assert viewer.next_data()["phases"]["p"]["current"] == 3
        socks = [half_request(server.port, f"127.0.0.{2 + n % 30}") for n in range(150)]
        try:
            assert wait_for(lambda: server.stats().connections <= 20 and server.stats().evicted >= 130, timeout=30)
            # the cap, less the viewer's
            assert wait_for(lambda: sum(not closed_by_server(s) for s in socks) <= 19, timeout=30)
            stats = server.stats()
            assert stats.viewers == 1 and stats.expired == 0 and stats.refused == 0
            # the owner is served at once, the flood held; the viewer's stream goes on
            assert get_state(server.port, Authorization=f"Bearer {TOKEN}") == 200
            assert get_state(server.port) == 403  # and a stranger's whole request is refused
            assert get_state(server.port, Host="attacker.example") == 421
            assert Stream(server.port).next_data()["phases"]["p"]["current"] == 3
            assert server.stats().viewers == 2
        finally:
            for sock in socks:
                sock.close()
            viewer.close()


def test_one_peer_cannot_hold_more_than_its_share_of_untrusted_connections() -> None:
    with served(token=TOKEN, header_timeout=60.0, max_connections=100, max_untrusted_per_peer=5) as (_, server):
        socks = [half_request(server.port, "127.0.0.9") for _ in range(40)]
        try:
            assert wait_for(lambda: server.stats().evicted == 35, timeout=30)
            assert wait_for(lambda: sum(not closed_by_server(s) for s in socks) == 5, timeout=30)
            assert socks[-1] in [s for s in socks if not closed_by_server(s)]  # the newest stay
        finally:
            for sock in socks:
                sock.close()


def test_trusted_connections_are_never_pushed_out_newcomers_are_refused_instead() -> None:
    with served(token=TOKEN, header_timeout=60.0, max_connections=3, max_untrusted_per_peer=3) as (_, server):
        viewers = [Stream(server.port) for _ in range(3)]
        try:
            for viewer in viewers:
                viewer.next_data()
            sock = half_request(server.port, "127.0.0.5")
            assert wait_for(lambda: closed_by_server(sock), timeout=30)
            assert server.stats().refused == 1 and server.stats().viewers == 3
        finally:
            for viewer in viewers:
                viewer.close()


OTHER_USER = r"""
import http.client, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
streams = []
for _ in range(count):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/api/events")
    response = conn.getresponse()
    print(response.status, flush=True)
    if response.status == 200:
        response.fp.readline()
        streams.append(response)
sys.stdin.readline()


def ended(response):
    seen = b""
    try:
        while not seen.endswith(b"0\r\n\r\n"):  # the last chunk
            chunk = response.fp.read1(65536)
            if not chunk:
                break
            seen += chunk
        return True
    except TimeoutError:
        return False


print(sum(ended(r) for r in streams), flush=True)  # how many the server ended
"""


def _nobody() -> int | None:
    import os
    import pwd

    if os.getuid() != 0:
        return None
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return None


@pytest.mark.processes
def test_another_local_user_cannot_lock_the_owner_out_of_a_loopback_dashboard() -> None:
    import os
    import subprocess
    import sys

    uid = _nobody()
    if uid is None:
        pytest.skip("needs root, to be another user (nobody) for a while")
    with served(max_viewers=8) as (_, server):
        python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable  # one nobody may run
        other = subprocess.Popen([python, "-c", OTHER_USER, str(server.port), "5"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True, cwd="/", preexec_fn=lambda: os.setuid(uid))
        try:
            assert other.stdout is not None and other.stdin is not None
            statuses = [int(other.stdout.readline()) for _ in range(5)]
            assert statuses == [200, 200, 503, 503, 503]  # another user: a quarter of the streams
            # the owner's streams: 6 fit, 2 more push out the other user's, then the limit holds
            mine = [Stream(server.port) for _ in range(8)]
            for viewer in mine:
                viewer.next_data()
            assert server.stats().viewers == 8
            assert get_state(server.port) == 200
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
            conn.request("GET", "/api/events")
            assert conn.getresponse().status == 503
            conn.close()
            other.stdin.write("\n")
            other.stdin.flush()
            assert int(other.stdout.readline()) == 2  # both of its streams were ended
            for viewer in mine:
                viewer.close()
        finally:
            other.kill()
            other.wait()


def test_a_request_body_that_never_comes_is_answered_408_and_closed() -> None:
    with served(header_timeout=1.0) as (tracker, server):
        csrf = Stream(server.port).next_data()["csrf"]  # loopback, no token: the page's secret
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.settimeout(30)
        sock.sendall(b"POST /api/cancel HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"X-MPProgress-CSRF: " + csrf.encode() + b"\r\nContent-Length: 100\r\n\r\n{\"operation_id\"")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        sock.close()
        assert answer.startswith(b"HTTP/1.1 408 ") and b"did not come in time" in answer
        assert not tracker.get_operation("op").cancelled


def test_the_gate_pushes_out_a_silent_connection_before_another_users_and_never_a_trusted_one() -> None:
    from mpprogress._dashboard.gate import Door, Gate, GateLimits

    gate = Gate(GateLimits(max_connections=3, max_untrusted_per_peer=10), make_handler=lambda: None)
    other_user, silent, owner = Door(gate), Door(gate), Door(gate)
    for door in (other_user, silent, owner):
        assert gate.admit(door)
    other_user.requested = True  # served, but not trusted
    owner.requested = owner.trusted = True

    def trusted(door: Door) -> Door:
        door.requested = door.trusted = True
        return door

    first = Door(gate)
    assert gate.admit(first) and list(gate._doors) == [other_user, owner, first]  # the silent one went
    trusted(first)
    second = Door(gate)
    assert gate.admit(second) and list(gate._doors) == [owner, first, second]  # then the other user's
    trusted(second)
    assert not gate.admit(Door(gate)) and list(gate._doors) == [owner, first, second]  # never a trusted one
    assert (gate.evicted, gate.refused) == (2, 1)
