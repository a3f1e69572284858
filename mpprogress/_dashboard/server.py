"""The dashboard's web server: aiohttp on a thread of its own (this module alone imports aiohttp).

``DashboardServer(source, config).start()`` binds, starts a daemon thread running an asyncio
loop with the aiohttp application and the ``Hub``, and returns once it listens (or raises why
it cannot).  Nothing here runs on the tracker's or the aggregator's thread: the source is only
read from this loop.

Routes: ``/`` the page, ``/static/*`` its script and style (shipped in the package), and under
``/api/``: ``events`` (Server-Sent Events: a snapshot, then patches), ``state`` (the newest state
as JSON), ``timeline.svg`` and ``cancel`` (POST).  Every request is checked, in order: its
``Host`` (DNS rebinding), then the token when one is required (a loopback bind needs none),
then for ``cancel`` the page's CSRF secret and origin.  Answers carry a strict Content Security
Policy: the page runs only its own script and loads nothing from elsewhere.  With a certificate
(``DashboardConfig.certfile``) it serves HTTPS only, and the token's cookie is ``Secure``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from importlib import resources
from typing import Final

from aiohttp import web

from .access import Access, BindAddress, host_allowed, new_token, parse_bind, peer_uid
from .gate import Gate, default_limits, tls_context
from .hub import END, RESYNC, WINDOWS, Hub, Source, Viewer

__all__ = ["DashboardConfig", "DashboardServer", "DashboardStats"]

_CSP: Final = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_HEADERS: Final = {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff",
                   "Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Frame-Options": "DENY"}
_STATIC: Final = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
_KEEPALIVE = 15.0
_IDLE = 15.0  # seconds a kept-alive connection may wait for its next request


@dataclass(frozen=True)
class DashboardConfig:
    """Where the dashboard listens and how it pushes.

    Args:
        bind: ``HOST:PORT``; loopback by default (port 0 picks a free one).
        token: the secret a request must present; made at random for a non-loopback bind when
            ``None`` (a loopback bind needs none unless one is given).
        names: host names accepted in ``Host`` besides IP literals and this machine's names.
        interval: seconds at least between two pushes (0.1: at most ten a second).
        max_queued: pushes waiting per viewer before it drops to a fresh snapshot.
        max_viewers: event streams open at once; more are refused (503), except that the
            owner's newcomer ends the oldest stream of another user (see ``gate``).
        certfile: a PEM certificate (chain) to serve HTTPS with; plain HTTP when ``None``.
        keyfile: its private key, when not in ``certfile``.
        max_connections: connections held at once (``None``: an eighth of the open-file limit,
            16 to 512).
        max_untrusted_per_peer: connections not trusted yet from one address (``None``: an
            eighth of ``max_connections``, 4 to 32).
        header_timeout: seconds a connection has to send a complete request (TLS handshake
            included), and to send a request's body.
    """

    bind: str = "127.0.0.1:0"
    token: str | None = None
    names: tuple[str, ...] = ()
    interval: float = 0.1
    max_queued: int = 16
    max_viewers: int = 100
    certfile: str | None = None
    keyfile: str | None = None
    max_connections: int | None = None
    max_untrusted_per_peer: int | None = None
    header_timeout: float = 10.0


@dataclass(frozen=True)
class DashboardStats:
    """What the server did so far (``DashboardServer.stats``)."""

    viewers: int
    pushes: int
    resyncs: int
    sent_bytes: int
    cpu_seconds: float  # of the server's thread
    connections: int = 0  # open now
    refused: int = 0  # connections closed at once: the cap was reached by trusted ones
    evicted: int = 0  # untrusted connections pushed out by newcomers
    expired: int = 0  # connections closed for sending no complete request in time


class DashboardServer:
    """A running dashboard (see the module's note).  A context manager; ``close()`` is idempotent.

    Args:
        source: where states come from; closed with the server.
        config: where to listen and how to push.
    """

    def __init__(self, source: Source, config: DashboardConfig | None = None) -> None:
        self.config = config or DashboardConfig()
        self._bind: BindAddress = parse_bind(self.config.bind)
        token = self.config.token
        if token is None and not self._bind.loopback:
            token = new_token()
        self.access = Access(token=token, names=self.config.names)
        self.source = source
        self.hub = Hub(source, extra={"csrf": self.access.csrf}, interval=self.config.interval,
                       max_queued=self.config.max_queued)
        self.port = 0
        self._tls: ssl.SSLContext | None = None
        if self.config.certfile is not None:
            self._tls = tls_context(self.config.certfile, self.config.keyfile)
        self._gate: Gate | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._sent = 0
        self._resyncs = 0
        self._closed = False

    # --- life ---------------------------------------------------------------------------------

    def start(self) -> DashboardServer:
        """Listen, on a daemon thread; returns once listening.

        Raises:
            OSError: the address cannot be bound (in use, not this machine's).
        """
        self._thread = threading.Thread(target=self._run, name="mpprogress-dashboard", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            self._thread.join()
            raise self._failure
        return self

    @property
    def url(self) -> str:
        """The page's address, with the token when one is required (print it once)."""
        host = self._bind.host
        if host in ("0.0.0.0", "::"):
            import socket

            host = socket.gethostname()
        shown = f"[{host}]" if ":" in host else host
        token = f"?token={self.access.token}" if self.access.token else ""
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{shown}:{self.port}/{token}"

    def stats(self) -> DashboardStats:
        """Viewers, pushes, snapshots sent to late viewers, bytes sent and the thread's CPU time."""
        cpu = 0.0
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(_thread_cpu(), self._loop)
            cpu = future.result(5)
        gate = self._gate.stats() if self._gate is not None else None
        doors = (gate.open, gate.refused, gate.evicted, gate.expired) if gate is not None else (0, 0, 0, 0)
        return DashboardStats(len(self.hub.viewers), self.hub.pushes, self._resyncs, self._sent, cpu, *doors)

    def close(self, timeout: float = 3.0) -> None:
        """Stop serving (open streams end), then close the source. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._loop is not None and self._stop is not None and self._thread is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout)
        self.source.close()

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(), or ends the thread quietly after it
            if not self._ready.is_set():
                self._failure = exc
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application(middlewares=[self._guard], client_max_size=4096)
        app.router.add_get("/", self._page)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/favicon.ico", self._no_icon)
        app.router.add_get("/api/events", self._events)
        app.router.add_get("/api/state", self._state)
        app.router.add_get("/api/timeline.svg", self._timeline)
        app.router.add_post("/api/cancel", self._cancel)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5,
                               keepalive_timeout=_IDLE, lingering_time=1.0)  # unread bodies: 1 s at most
        await runner.setup()
        assert runner.server is not None
        self._gate = Gate(default_limits(self.config.header_timeout, total=self.config.max_connections,
                                          per_peer=self.config.max_untrusted_per_peer), runner.server, self._tls)
        try:
            site = _GatedSite(runner, self._bind.host, self._bind.port, self._gate)
            await site.start()
            self.port = int(runner.addresses[0][1])
            self.access = replace(self.access, cookie=f"mpprogress_{self.port}")
            self._ready.set()
            ticking = asyncio.create_task(self.hub.run())
            await self._stop.wait()
            ticking.cancel()
            self.hub.finish()  # the final state and how the run ended, to every page
            for _ in range(50):  # a second at most for the streams to write it
                if self.hub.viewers:
                    await asyncio.sleep(0.02)
        finally:
            await runner.cleanup()
            self._gate.close_all()  # connections still silent, or in their TLS handshake
            # open event streams end here: their handlers must finish before the loop closes
            rest = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

    # --- checks -------------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request,
                     handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if not host_allowed(request.headers.get("Host"), self.access.names):
            self._seen(request, trusted=False)
            return _refusal(421, "this dashboard answers to its own address only")
        if not self.access.authenticated(request.query, request.cookies, request.headers.get("Authorization")):
            self._seen(request, trusted=False)
            return _refusal(403, "a token is required: open the address printed when the dashboard started")
        self._seen(request, trusted=True)
        if request.path == "/" and "token" in request.query:
            # keep the token out of the address bar and history: a cookie carries it from now on
            response: web.StreamResponse = web.Response(status=303, headers={**_HEADERS, "Location": "/"})
            response.set_cookie(self.access.cookie, str(request.query["token"]), httponly=True, samesite="Strict",
                                path="/", secure=self._tls is not None)
            return response
        response = await handler(request)
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def _seen(self, request: web.Request, trusted: bool) -> None:
        """Tell the gate a request came (without a token, only this user's own are trusted)."""
        transport = request.transport
        if self._gate is None or transport is None or self._gate.is_trusted(transport):
            return
        if trusted and self.access.token is None:
            local, peer = transport.get_extra_info("sockname"), transport.get_extra_info("peername")
            uid = peer_uid(local, peer) if local and peer else None
            trusted = uid is None or uid == os.getuid()
        self._gate.requested(transport, trusted)

    # --- routes -------------------------------------------------------------------------------

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=_asset("index.html"), content_type="text/html", charset="utf-8")

    async def _no_icon(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _STATIC:
            raise web.HTTPNotFound()
        return web.Response(body=_asset(name), content_type=_STATIC[name], charset="utf-8")

    async def _state(self, request: web.Request) -> web.StreamResponse:
        if self.hub._stale:
            self.hub.tick(force=True)
        body = {**self.hub.state.document(), "seq": self.hub.seq}
        return web.json_response(body, dumps=lambda data: json.dumps(data, separators=(",", ":")))

    async def _timeline(self, request: web.Request) -> web.StreamResponse:
        window = request.query.get("window")
        svg = await asyncio.to_thread(self.source.timeline_svg, window if window in WINDOWS else None)
        if svg is None:
            raise web.HTTPNotFound()
        return web.Response(body=svg, content_type="image/svg+xml")

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        if not self.access.may_change(request.headers, request.headers.get("Host")):
            return _refusal(403, "refused: not from this dashboard's page")
        try:
            body = await asyncio.wait_for(request.json(), self.config.header_timeout)
            operation_id = str(body["operation_id"])
        except asyncio.TimeoutError:
            return _refusal(408, "the request's body did not come in time")
        except (ValueError, KeyError, TypeError):
            return _refusal(400, "expected {\"operation_id\": ...}")
        cancelled = await asyncio.to_thread(self.source.cancel, operation_id)
        return web.json_response({"cancelled": cancelled}, status=200 if cancelled else 404)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        trusted = self._gate is None or self._gate.is_trusted(request.transport)
        refused = self._viewer_refused(trusted)
        if refused:
            return _refusal(503, refused)
        response = web.StreamResponse(headers={**_HEADERS, "Content-Type": "text/event-stream",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        viewer, sent, message = self.hub.join()
        viewer.trusted = trusted
        try:
            await response.write(b"retry: 1000\n\n" + message)
            self._sent += len(message)
            viewer.sent_bytes += len(message)
            while True:
                try:
                    seq, message = await asyncio.wait_for(viewer.queue.get(), _KEEPALIVE)
                except asyncio.TimeoutError:
                    await response.write(b": keepalive\n\n")  # a dead connection shows up on a write
                    continue
                if seq == END:
                    response.force_close()  # the connection goes with the stream
                    if message:  # the last push (none: pushed out for the owner's viewer)
                        await response.write(message)
                    break
                if seq == RESYNC:
                    self._resyncs += 1
                    sent, message = self.hub.snapshot()
                elif seq <= sent:
                    continue  # already in the snapshot this viewer got
                else:
                    sent = seq
                await response.write(message)
                self._sent += len(message)
                viewer.sent_bytes += len(message)
        except ConnectionError:
            pass  # the page went away
        finally:
            self.hub.leave(viewer)
        return response

    def _viewer_refused(self, trusted: bool) -> str | None:
        """Why a new event stream cannot be had (``None``: it can, having made room if needed)."""
        limit = self.config.max_viewers
        others = [viewer for viewer in self.hub.viewers if not viewer.trusted]
        if not trusted and len(others) >= max(1, limit // 4):
            return "too many viewers from other users"
        if len(self.hub.viewers) < limit:
            return None
        if trusted and others:
            oldest: Viewer = others[0]
            self.hub.leave(oldest)
            oldest.end()
            return None
        return "too many viewers"


class _GatedSite(web.BaseSite):
    """aiohttp's TCP site, with every connection passing the ``Gate`` first."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, gate: Gate) -> None:
        super().__init__(runner, backlog=128)
        self._host, self._port, self._gate = host, port, gate

    @property
    def name(self) -> str:
        return f"{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._gate.door, self._host, self._port, backlog=self._backlog,
                                                reuse_address=True)


async def _thread_cpu() -> float:
    return time.thread_time()


def _refusal(status: int, text: str) -> web.Response:
    response = web.Response(status=status, text=text + "\n", headers=_HEADERS)
    response.force_close()  # a refused visitor does not keep its connection
    return response


@functools.cache
def _asset(name: str) -> bytes:
    return resources.files(__package__).joinpath("static").joinpath(name).read_bytes()

