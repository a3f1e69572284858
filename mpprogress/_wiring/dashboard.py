"""Wiring of the live web dashboard: over a session's or the relay's tracker, or over a journal.

``open_dashboard(tracker, bind)`` subscribes an ``EventStream`` and a log record book to the
tracker, starts the server (``mpprogress._dashboard.server``, on its own thread) and prints its
address once; ``Dashboard.close()`` undoes all of it.  ``serve_journal(path, bind)`` is
``mpprogress dashboard PATH``.  aiohttp (``mpprogress[web]``) is imported only here, on use.
Every entry point serves HTTPS when ``MPPROGRESS_DASHBOARD_CERT`` names a PEM certificate (and
``MPPROGRESS_DASHBOARD_KEY`` its key, unless the certificate file holds it).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import weakref
from typing import TYPE_CHECKING, Any, TextIO

from .._base.forksafe import add_parent_only_handler
from .._core.current import current_tracker
from .._core.stopping import StopSignals

if TYPE_CHECKING:
    from .._base.port import ProgressTracker
    from .._core.tracker import BaseProgressTracker
    from .._dashboard.hub import Source
    from .._dashboard.server import DashboardServer, DashboardStats

__all__ = ["Dashboard", "DashboardUnavailable", "check_bind", "dashboard_url", "open_dashboard", "serve_journal"]

CERT_ENV = "MPPROGRESS_DASHBOARD_CERT"
"""A PEM certificate (chain) file: the dashboard serves HTTPS with it."""
KEY_ENV = "MPPROGRESS_DASHBOARD_KEY"
"""The certificate's private key file, when it is not in the certificate file."""

_OPEN: weakref.WeakKeyDictionary[Any, Dashboard] = weakref.WeakKeyDictionary()


class DashboardUnavailable(RuntimeError):
    """The dashboard cannot start: its extra is not installed, or its address cannot be used."""


def _server_module() -> Any:
    try:
        from .._dashboard import server
    except ImportError as exc:  # aiohttp missing
        raise DashboardUnavailable(
            f"the web dashboard needs the 'web' extra: pip install 'mpprogress[web]' ({exc})"
        ) from exc
    return server


def check_bind(bind: str) -> None:
    """Fail early, before anything else starts, when ``bind`` is malformed or cannot be bound.

    Raises:
        DashboardUnavailable: saying why.
    """
    from .._dashboard.access import parse_bind

    try:
        address = parse_bind(bind)
        family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((address.host, address.port))
    except (OSError, ValueError) as exc:
        raise DashboardUnavailable(f"cannot serve the dashboard on {bind}: {exc}") from exc


class Dashboard:
    """A running dashboard and what it subscribed (``close()`` undoes it; idempotent)."""

    def __init__(self, server: DashboardServer, undo: list[Any]) -> None:
        self.server = server
        self._undo = undo

    @property
    def url(self) -> str:
        """The page's address (with its token when one is required)."""
        return str(self.server.url)

    def stats(self) -> DashboardStats:
        """What the server did so far."""
        return self.server.stats()

    def close(self) -> None:
        """Stop the server, then take the subscriptions off. Idempotent."""
        self.server.close()
        while self._undo:
            self._undo.pop()()


def _start(source: Source, bind: str, out: TextIO | None) -> DashboardServer:
    server_module = _server_module()
    certfile, keyfile = os.environ.get(CERT_ENV) or None, os.environ.get(KEY_ENV) or None
    try:
        if keyfile is not None and certfile is None:  # never plain HTTP where TLS was meant
            raise ValueError(f"{KEY_ENV} is set but {CERT_ENV} is not: name the certificate too")
        config = server_module.DashboardConfig(bind=bind, certfile=certfile, keyfile=keyfile)
        server: DashboardServer = server_module.DashboardServer(source, config)
        server.start()
    except (OSError, ValueError) as exc:
        source.close()
        raise DashboardUnavailable(f"cannot serve the dashboard on {bind}: {exc}") from exc
    stream = sys.stderr if out is None else out
    stream.write(f"mpprogress dashboard: {server.url}\n")
    stream.flush()
    return server


def open_dashboard(
    tracker: BaseProgressTracker, bind: str, *, journal: str | os.PathLike[str] | None = None,
    title: str = "mpprogress", kind: str = "session", out: TextIO | None = None,
) -> Dashboard:
    """Serve ``tracker`` on a live page at ``bind`` and print its address on ``out`` (stderr).

    Args:
        tracker: the local tracker to show (a session's or the relay's).
        bind: ``HOST:PORT``; a non-loopback host gets a random token, printed in the address.
        journal: the journal the run is recorded in: the page shows its timeline.
        title: the page's heading.
        kind: ``"session"`` or ``"relay"`` (shown on the page).
        out: where the address is printed.

    Raises:
        DashboardUnavailable: ``mpprogress[web]`` is not installed, or ``bind`` cannot be used.
    """
    _server_module()
    from .._dashboard.live import TrackerSource
    from .._dashboard.model import LogBook
    from ..adapters.web import EventStream

    timeline = None
    if journal is not None:
        from .._dashboard.timeline import JournalTimeline

        timeline = JournalTimeline(journal)
    stream = EventStream()
    logs = LogBook()
    tracker.add_callback(stream)
    undo_logs = add_parent_only_handler(logging.getLogger(), logs)  # a forked worker starts without it
    source = TrackerSource(tracker, stream, logs=logs, meta={"title": title, "source": kind}, timeline=timeline)
    undo: list[Any] = [lambda: tracker.remove_callback(stream), undo_logs, stream.close]
    try:
        server = _start(source, bind, out)
    except BaseException:
        while undo:
            undo.pop()()
        raise
    dashboard = Dashboard(server, undo)
    _OPEN[tracker] = dashboard
    undo.insert(0, lambda: _OPEN.pop(tracker, None))
    return dashboard


def dashboard_url(tracker: ProgressTracker | None = None) -> str | None:
    """The address of the dashboard showing ``tracker`` (the current session's by default), if any."""
    tracker = tracker if tracker is not None else current_tracker()
    found = _OPEN.get(tracker) if tracker is not None else None
    return None if found is None else found.url


def serve_journal(path: str | os.PathLike[str], bind: str, *, out: TextIO | None = None) -> int:
    """Run ``mpprogress dashboard PATH`` until SIGINT or SIGTERM (call it from the main thread).

    Returns:
        0 after a clean stop; 2 when the dashboard cannot start.
    """
    from .._dashboard.journal import JournalSource

    err = sys.stderr if out is None else out
    try:
        server = _start(JournalSource(path), bind, err)
    except DashboardUnavailable as exc:
        err.write(f"mpprogress dashboard: error: {exc}\n")
        return 2
    try:
        with StopSignals() as stop:
            while not stop.wait(0.2):
                pass
            server.close()  # while the handlers are ours: a second Ctrl-C does not cut it short
    finally:
        server.close()  # when StopSignals refused (not the main thread); idempotent
    return 0
