"""The demo's HTTP server: serves a generated ``DemoSite`` on 127.0.0.1 from a daemon thread.

Pages answer after their latency, flaky pages answer 503 to every other request, and every
response is counted by status (the demo's report prints the totals).
"""

from __future__ import annotations

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .site import DemoSite, render_page

__all__ = ["SiteServer"]


class _SiteHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many workers x 10 connections each; the default 5 drops SYNs

    def __init__(self, site: DemoSite) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"
        self.site = site
        self.lock = threading.Lock()
        self.requests: dict[str, int] = {}
        self.statuses: dict[int, int] = {}

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client gone mid-answer (a worker stopped by Ctrl-C) is no reason for a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _SiteHTTPServer

    def do_GET(self) -> None:
        status, content_type, body, latency = self._answer(self.path.split("?", 1)[0])
        time.sleep(latency)
        payload = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _answer(self, path: str) -> tuple[int, str, str, float]:
        server = self.server
        base_url = server.base_url
        slug, _, rest = path.lstrip("/").partition("/")
        try:
            site = server.site.site(slug)
        except KeyError:
            return self._count(path, 404), "text/plain", "no such company\n", 0.0
        if rest == "robots.txt":
            return self._count(path, 200), "text/plain", site.robots_txt(base_url), 0.002
        if rest == "sitemap.xml":
            return self._count(path, 200), "application/xml", site.sitemap_xml(base_url), 0.005
        page = site.pages.get(path)
        if page is None:
            return self._count(path, 404), "text/plain", "not found\n", 0.002
        status = page.status
        with server.lock:
            if page.flaky and server.requests.get(path, 0) % 2 == 0:
                status = 503
        return self._count(path, status), "text/html", render_page(page), page.latency

    def _count(self, path: str, status: int) -> int:
        server = self.server
        with server.lock:
            server.requests[path] = server.requests.get(path, 0) + 1
            server.statuses[status] = server.statuses.get(status, 0) + 1
        return status

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the progress display is the log."""


class SiteServer:
    """Serves a ``DemoSite`` over HTTP on ``127.0.0.1`` (a free port) from a daemon thread.

    Args:
        site: the sites to serve.
    """

    def __init__(self, site: DemoSite) -> None:
        self._server = _SiteHTTPServer(site)
        self.base_url = self._server.base_url
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="mpprogress-demo-site",
            daemon=True,
        )
        self._thread.start()
        self._closed = False

    @property
    def statuses(self) -> dict[int, int]:
        """How many responses of each HTTP status were sent so far."""
        with self._server.lock:
            return dict(self._server.statuses)

    def close(self) -> None:
        """Stop serving and release the port. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> SiteServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
