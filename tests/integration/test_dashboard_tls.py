"""The dashboard over HTTPS: a certificate named in the environment, verified by a real client,
and the page working in Chromium with its token cookie marked ``Secure``."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import mpprogress
from mpprogress._wiring.dashboard import CERT_ENV, KEY_ENV, DashboardUnavailable
from tests.integration.test_dashboard_browser import LIVE, browser, chromium  # noqa: F401 (fixtures)
from tests.unit.test_dashboard_server import non_loopback_address

pytest.importorskip("aiohttp")


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A self-signed certificate for 127.0.0.1 and localhost, named in the environment."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=mpprogress test",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    monkeypatch.setenv(CERT_ENV, str(cert))
    monkeypatch.setenv(KEY_ENV, str(key))
    return cert


def test_the_dashboard_serves_https_that_a_client_verifies_and_refuses_plain_http(certificate: Path) -> None:
    with mpprogress.session(dashboard="127.0.0.1:0", console=False) as tracker:
        url = mpprogress.dashboard_url() or ""
        match = re.fullmatch(r"https://127\.0\.0\.1:(\d+)/", url)
        assert match is not None, url
        with tracker.operation("Secure run") as op, op.phase("fetch", total=10) as phase:
            phase.update(4)
            trusted = ssl.create_default_context(cafile=str(certificate))
            with urllib.request.urlopen(url + "api/state", context=trusted, timeout=10) as response:
                state = json.loads(response.read())
            assert "Secure run" in json.dumps(state) and "fetch" in json.dumps(state)
            with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):  # untrusted: refused
                urllib.request.urlopen(url, context=ssl.create_default_context(), timeout=10)
            plain = http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=10)
            with pytest.raises((http.client.HTTPException, ConnectionError)):
                plain.request("GET", "/api/state")
                plain.getresponse()
            plain.close()


def test_an_unusable_certificate_stops_the_session_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CERT_ENV, str(tmp_path / "missing.pem"))
    with pytest.raises(DashboardUnavailable, match="No such file"), mpprogress.session(
        dashboard="127.0.0.1:0", console=False
    ):
        pass


def test_an_encrypted_key_stops_the_start_instead_of_asking_for_a_passphrase(
    certificate: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked.pem"
    subprocess.run(["openssl", "pkey", "-in", os.environ[KEY_ENV], "-aes256", "-passout", "pass:secret",
                    "-out", str(locked)], check=True, capture_output=True)
    monkeypatch.setenv(KEY_ENV, str(locked))
    with pytest.raises(DashboardUnavailable, match="the private key is encrypted"), mpprogress.session(
        dashboard="127.0.0.1:0", console=False
    ):
        pass


def test_a_key_without_its_certificate_is_refused_rather_than_served_in_the_clear(
    certificate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CERT_ENV)
    with pytest.raises(DashboardUnavailable, match=f"{KEY_ENV} is set but {CERT_ENV} is not"), mpprogress.session(
        dashboard="127.0.0.1:0", console=False
    ):
        pass


def test_the_page_works_over_https_and_its_token_cookie_is_secure(certificate: Path, chromium: Any) -> None:  # noqa: F811
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no address but loopback to bind the dashboard on")
    context = chromium.new_context(ignore_https_errors=True)  # a self-signed certificate
    context.set_default_timeout(30_000)
    try:
        with mpprogress.session(dashboard=f"{address}:0", console=False) as tracker:
            url = mpprogress.dashboard_url() or ""
            match = re.fullmatch(rf"https://{re.escape(address)}:(\d+)/\?token=([\w-]+)", url)
            assert match is not None, url
            with tracker.operation("Guarded") as op, op.phase("secret phase", total=10) as phase:
                phase.update(3)
                page = context.new_page()
                assert page.goto(f"https://{address}:{match.group(1)}/").status == 403
                page.goto(url)
                assert page.url == f"https://{address}:{match.group(1)}/"  # the token left the address bar
                page.wait_for_function(LIVE)
                assert page.locator(".phase .count").inner_text() == "3/10"
                cookie, = context.cookies()
                assert (cookie["value"], cookie["secure"], cookie["httpOnly"]) == (match.group(2), True, True)
    finally:
        context.close()


def test_a_certificate_without_its_key_or_with_another_key_is_named_in_one_line(
    certificate: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(DashboardUnavailable) as caught, mpprogress.session(dashboard="127.0.0.1:0", console=False):
        pass
    assert str(caught.value).endswith(f"{certificate} holds a certificate but not its private key: "
                                      f"name the key file too ({KEY_ENV})")
    assert "PEM lib" not in str(caught.value) and "\n" not in str(caught.value)
    other = tmp_path / "other-key.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-out", str(other)], check=True, capture_output=True)
    monkeypatch.setenv(KEY_ENV, str(other))
    with pytest.raises(DashboardUnavailable, match=re.escape(
            f"the private key in {other} is not the key of the certificate in {certificate}")), \
            mpprogress.session(dashboard="127.0.0.1:0", console=False):
        pass
    monkeypatch.setenv(KEY_ENV, str(certificate))
    with pytest.raises(DashboardUnavailable, match=re.escape(f"{certificate} holds no PEM private key")), \
            mpprogress.session(dashboard="127.0.0.1:0", console=False):
        pass
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "gone.pem"))
    with pytest.raises(DashboardUnavailable, match=re.escape(f"No such file or directory: {tmp_path / 'gone.pem'}")), \
            mpprogress.session(dashboard="127.0.0.1:0", console=False):
        pass


def test_half_done_tls_handshakes_are_capped_and_time_out(certificate: Path) -> None:
    import socket

    from mpprogress import BaseProgressTracker
    from mpprogress._dashboard.live import TrackerSource
    from mpprogress._dashboard.server import DashboardConfig, DashboardServer
    from mpprogress.adapters.web import EventStream
    from tests.integration.conftest import wait_for
    from tests.unit.test_dashboard_gate import closed_by_server

    tracker = BaseProgressTracker()
    stream = EventStream()
    tracker.add_callback(stream)
    config = DashboardConfig(certfile=str(certificate), keyfile=os.environ[KEY_ENV], header_timeout=1.0,
                             max_connections=10)
    with DashboardServer(TrackerSource(tracker, stream), config) as server:
        socks = []
        for n in range(30):  # connect and say nothing: the handshake never starts
            sock = socket.socket()
            sock.bind((f"127.0.0.{2 + n}", 0))
            sock.connect(("127.0.0.1", server.port))
            socks.append(sock)
        try:
            assert wait_for(lambda: server.stats().connections <= 10 and server.stats().evicted >= 20, timeout=30)
            assert wait_for(lambda: all(closed_by_server(sock) for sock in socks), timeout=30)
            assert server.stats().expired >= 1 and server.stats().connections == 0
            trusted = ssl.create_default_context(cafile=str(certificate))
            with urllib.request.urlopen(server.url + "api/state", context=trusted, timeout=10) as response:
                assert response.status == 200  # and the server goes on
        finally:
            for sock in socks:
                sock.close()
    tracker.close()
