"""The dashboard's server over HTTP, in this process: what it serves, and what it refuses."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aiohttp")

from mpprogress import BaseProgressTracker
from mpprogress._dashboard.access import CSRF_HEADER, host_allowed, is_loopback, parse_bind
from mpprogress._wiring.dashboard import Dashboard, dashboard_url, open_dashboard

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "a-test-token-that-is-long-enough-1234567890"


def non_loopback_address() -> str | None:
    """An address of this machine other than loopback (the eth interface's), if it has one."""
    candidates = []
    with contextlib.suppress(OSError):
        candidates.append(socket.gethostbyname(socket.gethostname()))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            candidates.append(probe.getsockname()[0])
        except OSError:
            pass
    return next((c for c in candidates if not is_loopback(c) and c != "0.0.0.0"), None)


class Client:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def request(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data, headers={k.replace("_", "-"): v for k, v in headers.items()})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def first_event(self, **headers: str) -> dict[str, Any]:
        """The snapshot an event stream starts with."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request("GET", "/api/events", headers={k.replace("_", "-"): v for k, v in headers.items()})
            response = conn.getresponse()
            assert response.status == 200 and response.getheader("Content-Type", "").startswith("text/event-stream")
            while True:
                line = response.fp.readline().decode()
                if line.startswith("data: "):
                    return json.loads(line[6:])  # type: ignore[no-any-return]
        finally:
            conn.close()


@pytest.fixture
def board() -> Iterator[tuple[BaseProgressTracker, Dashboard, Client]]:
    tracker = BaseProgressTracker(max_update_rate=None)
    dashboard = open_dashboard(tracker, "127.0.0.1:0", out=io.StringIO())
    try:
        yield tracker, dashboard, Client("127.0.0.1", dashboard.server.port)
    finally:
        dashboard.close()
        tracker.close()


def test_addresses_and_hosts() -> None:
    assert parse_bind("127.0.0.1:0").loopback and parse_bind("[::1]:8765").loopback
    assert parse_bind(":8765").host == "127.0.0.1" and parse_bind("localhost:1").loopback
    assert not parse_bind("0.0.0.0:8765").loopback and not parse_bind("192.0.2.2:1").loopback
    with pytest.raises(ValueError):
        parse_bind("127.0.0.1")
    assert host_allowed("127.0.0.1:8765") and host_allowed("[::1]:1") and host_allowed("localhost:8765")
    assert host_allowed("192.0.2.2:8765") and host_allowed(socket.gethostname())
    assert not host_allowed("attacker.example:8765") and not host_allowed(None) and not host_allowed("")
    assert host_allowed("box.lan:1", ["box.lan"])


def test_the_page_and_its_state_on_loopback(board: Any) -> None:
    tracker, dashboard, client = board
    tracker.start_operation("op", "Crawl").start_phase("p", "fetch", total=10).update(4)
    assert dashboard_url(tracker) == dashboard.url == f"http://127.0.0.1:{client.port}/"
    status, headers, body = client.request("GET", "/")
    assert status == 200 and b'<script src="/static/dashboard.js"' in body
    assert "script-src 'self'" in headers["content-security-policy"] and headers["x-content-type-options"] == "nosniff"
    for asset in ("/static/dashboard.js", "/static/dashboard.css"):
        assert client.request("GET", asset)[0] == 200
    assert client.request("GET", "/static/../server.py")[0] == 404
    status, _, body = client.request("GET", "/api/state")
    state = json.loads(body)
    assert status == 200 and state["phases"]["p"]["current"] == 4 and state["operations"]["op"]["title"] == "Crawl"
    snapshot = client.first_event()
    assert snapshot["phases"]["p"]["current"] == 4 and len(snapshot["csrf"]) > 20


def test_a_foreign_host_name_is_refused_dns_rebinding(board: Any) -> None:
    _, _, client = board
    for path in ("/", "/api/state", "/api/events"):
        status, _, body = client.request("GET", path, Host=f"attacker.example:{client.port}")
        assert status == 421 and b"phases" not in body
    assert client.request("GET", "/", Host=f"localhost:{client.port}")[0] == 200


def test_cancel_needs_the_pages_csrf_secret_and_origin(board: Any) -> None:
    tracker, _, client = board
    op = tracker.start_operation("op", "Crawl")
    csrf = client.first_event()["csrf"]
    origin = f"http://127.0.0.1:{client.port}"
    body = {"operation_id": "op"}
    assert client.request("POST", "/api/cancel", body)[0] == 403
    assert client.request("POST", "/api/cancel", body, **{CSRF_HEADER: "wrong"})[0] == 403
    assert client.request("POST", "/api/cancel", body, Origin="http://attacker.example",
                          **{CSRF_HEADER: csrf})[0] == 403
    assert client.request("POST", "/api/cancel", body, Sec_Fetch_Site="cross-site", **{CSRF_HEADER: csrf})[0] == 403
    assert not op.cancelled
    status, _, answer = client.request("POST", "/api/cancel", body, Origin=origin, **{CSRF_HEADER: csrf})
    assert status == 200 and json.loads(answer) == {"cancelled": True} and op.cancelled
    assert client.request("POST", "/api/cancel", {"operation_id": "nope"}, **{CSRF_HEADER: csrf})[0] == 404
    assert client.request("GET", "/api/cancel")[0] == 405


def test_with_a_token_nothing_is_served_without_it() -> None:
    from mpprogress._dashboard.live import TrackerSource
    from mpprogress._dashboard.server import DashboardConfig, DashboardServer
    from mpprogress.adapters.web import EventStream

    tracker = BaseProgressTracker()
    stream = EventStream()
    tracker.add_callback(stream)
    tracker.start_operation("op", "Secret op")
    with DashboardServer(TrackerSource(tracker, stream), DashboardConfig(token=TOKEN)) as server:
        client = Client("127.0.0.1", server.port)
        assert server.url == f"http://127.0.0.1:{server.port}/?token={TOKEN}"
        for path in ("/", "/static/dashboard.js", "/api/state", "/api/events", "/api/timeline.svg", "/?token=nope"):
            status, _, body = client.request("GET", path)
            assert status == 403 and b"Secret" not in body, path
        status, headers, _ = client.request("GET", f"/?token={TOKEN}")
        assert status == 303 and headers["location"] == "/"
        cookie = headers["set-cookie"]
        assert f"mpprogress_{server.port}={TOKEN}" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert client.request("GET", "/api/state", Cookie=f"mpprogress_{server.port}={TOKEN}")[0] == 200
        assert client.request("GET", "/api/state", Authorization=f"Bearer {TOKEN}")[0] == 200
        first = client.first_event(Cookie=f"mpprogress_{server.port}={TOKEN}")
        assert first["operations"]["op"]["title"] == "Secret op"
    tracker.close()


def test_a_non_loopback_bind_gets_a_random_token() -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    tracker = BaseProgressTracker()
    dashboard = open_dashboard(tracker, f"{address}:0", out=io.StringIO())
    try:
        token = dashboard.server.access.token
        assert token is not None and len(token) >= 40 and dashboard.url.endswith(f"/?token={token}")
        client = Client(address, dashboard.server.port)
        assert client.request("GET", "/api/state")[0] == 403
        assert client.request("GET", "/api/state", Authorization=f"Bearer {token}")[0] == 200
    finally:
        dashboard.close()
        tracker.close()
    other = open_dashboard(tracker, f"{address}:0", out=io.StringIO())
    assert other.server.access.token != token  # a new one at every start
    other.close()


def test_a_port_in_use_is_said_plainly() -> None:
    from mpprogress._wiring.dashboard import DashboardUnavailable, check_bind

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DashboardUnavailable, match=f"127.0.0.1:{port}"):
            check_bind(f"127.0.0.1:{port}")
        tracker = BaseProgressTracker()
        with pytest.raises(DashboardUnavailable):
            open_dashboard(tracker, f"127.0.0.1:{port}", out=io.StringIO())
        assert tracker.callbacks == ()  # nothing left subscribed
        tracker.close()


def test_closing_undoes_everything(board: Any) -> None:
    import logging

    tracker, dashboard, client = board
    handlers = len(logging.getLogger().handlers)
    dashboard.close()
    dashboard.close()
    assert tracker.callbacks == () and len(logging.getLogger().handlers) == handlers - 1
    assert dashboard_url(tracker) is None
    with pytest.raises(OSError):
        client.request("GET", "/")


def test_importing_mpprogress_and_a_session_without_dashboard_import_no_web_library() -> None:
    code = (
        "import sys, mpprogress\n"
        "assert 'aiohttp' not in sys.modules and 'mpprogress._dashboard' not in sys.modules\n"
        "with mpprogress.session(console=False) as tracker:\n"
        "    with tracker.operation('op') as op, op.phase('p', total=1) as phase:\n"
        "        phase.update(1)\n"
        "    assert mpprogress.dashboard_url() is None\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'multidict', 'yarl')\n"
        "                or m.startswith('mpprogress._dashboard'))\n"
        "assert not leaked, leaked\n"
        "print('light')\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert done.returncode == 0 and done.stdout.strip() == "light", f"{done.stderr} ({took:.1f} s)"
