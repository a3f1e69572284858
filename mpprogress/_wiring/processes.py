"""Wiring for many processes: ``session()`` in the parent (tracker + sinks + aggregator, its
address exported to children), ``connect()`` and the client ``get_tracker()`` makes in a worker."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .._base.errors import DuplicateIdError
from .._base.events import ProgressCallback
from .._base.forksafe import add_parent_only_handler
from .._base.port import ProgressTracker
from .._core.current import replace_tracker
from .._core.phases import BaseProgressOperation
from .._core.signals import cancel_on_signals, cancel_open_operations
from .._core.tracker import BaseProgressTracker
from .._remote.settings import (
    ADDRESS_ENV,
    FORWARD_LOGS_ENV,
    RESUME_ENV,
    SERVER_KEY_ENV,
    SESSION_PID_ENV,
    env_client_security,
    export_settings,
    inherited_address,
    inherited_setting,
)

if TYPE_CHECKING:
    from rich.console import Console

    from .._remote.aggregator import AggregatorConfig
    from .._remote.client import ClientConfig, ClientTracker
    from .._remote.transport import ServerSecurity, SocketSecurity
    from ..adapters.journal import JournalSink

__all__ = ['connect', 'journal_sink', 'session', 'worker_client']

RESUME_TIMEOUT = 10.0
"""Seconds a worker's phase start waits to hear where it resumes, when the session resumes a run."""



@contextmanager
def session(
    address: str | None = None,
    *,
    console: bool | Console = True,
    sinks: Iterable[ProgressCallback] = (),
    forward_logs: bool = False,
    tracker: BaseProgressTracker | None = None,
    config: AggregatorConfig | None = None,
    security: ServerSecurity | None = None,
    journal: str | os.PathLike[str] | None = None,
    resume: bool = False,
    dashboard: str | None = None,
) -> Iterator[BaseProgressTracker]:
    """Collect the progress of this process and of every child process, and show it.

    Inside the block, ``MPPROGRESS_ADDRESS`` is set in ``os.environ`` and in this process's
    ``multiprocessing`` record (children inherit it under ``fork``, ``spawn``, ``forkserver``
    and ``subprocess``, and their ``mpprogress.get_tracker()`` connects to it), and
    ``get_tracker()`` in this process returns the session's tracker.  Create pools and
    processes inside the block: workers started before it cannot know the address.

    On exit, by any path including Ctrl-C, workers are told to cancel (when the block raised),
    the aggregator stops, the sinks close (the terminal is restored) and the environment is put
    back, within about two seconds.  If the aggregator's thread died during the block (it
    logs that at once), leaving the block raises ``AggregatorStopped``.  In the main thread,
    SIGINT and SIGTERM cancel the open operations at once, before a pool in the block waits
    for its tasks (``signals.py``); SIGTERM then ends the process with status 143.

    Args:
        address: where to listen: a private ``ipc://`` path by default, or
            ``tcp://127.0.0.1:PORT`` (``:0`` picks a free port).
        console: ``True`` draws on a new Rich console, a ``rich.console.Console`` draws there,
            ``False`` shows nothing (a headless aggregator).
        sinks: more callbacks to subscribe to the tracker (not closed by the session).
        forward_logs: make workers send their ``logging`` records here, where they are
            re-emitted through ``logging.getLogger(name)``; with the console on and no root
            handler configured, they appear above the display.
        tracker: the local tracker to fill; a new ``BaseProgressTracker`` by default (closed on
            exit only when the session made it).
        config: the aggregator's timing settings.
        security: applied to the listening socket (e.g. CURVE server keys).  On loopback TCP
            without it, a key pair made for the session (``security.loopback_keys``), whose
            public key is exported as ``MPPROGRESS_SERVER_KEY``: workers talk only to it.
        journal: an SQLite file to record the run in (``JournalSink``; several runs may share
            one file; ``mpprogress report PATH`` reads it); with ``forward_logs``, the workers'
            log records are journaled too.
        resume: continue the latest earlier run in ``journal``: operations and phases with the
            same stable ids (the ids given, else their titles) start where that run left them,
            and ``phase.track(items, key=...)`` skips the items it recorded done, in this
            process and in workers (see ``mpprogress._base.resume``).
        dashboard: ``HOST:PORT`` to serve a live web page of the session on (e.g.
            ``"127.0.0.1:0"``; needs ``mpprogress[web]``); its address is printed on standard
            error and returned by ``mpprogress.dashboard_url()``.  A non-loopback host gets a
            random token, printed in the address.

    Raises:
        ValueError: ``resume`` without a ``journal``.

    Yields:
        The parent's local tracker; ``add_callback`` works on it as usual.
    """
    from .._remote import client  # noqa: F401  forked workers inherit it: 5 ms less per worker
    from .._remote.aggregator import Aggregator
    from .._remote.security import loopback_keys
    from .._remote.transport import host_identity

    if resume and journal is None:
        raise ValueError("resume=True needs a journal to resume from: session(journal=PATH, resume=True)")
    owned = tracker is None
    local = tracker if tracker is not None else BaseProgressTracker()
    callbacks = tuple(sinks)
    for callback in callbacks:
        local.add_callback(callback)
    display = _console_sink(local, console)
    recorder = journal_sink(journal, resume=resume) if journal is not None else None
    if recorder is not None:
        local.set_journal(recorder)  # records item keys done; resumes when ``resume``
    root = logging.getLogger()
    written = logging.getLogger("mpprogress.write")  # workers' tqdm.write lines arrive as INFO
    if written.level == logging.NOTSET:
        written.setLevel(logging.INFO)
    # The session's handlers serve this process only: a forked worker starts without them.
    undo_handlers: list[Callable[[], None]] = []
    if display is not None and not root.handlers:
        undo_handlers.append(add_parent_only_handler(root, display.logging_handler()))
    if recorder is not None and forward_logs:
        undo_handlers.append(add_parent_only_handler(root, recorder.logging_handler()))
    aggregator = None
    restore_settings = None
    previous = None
    board = None
    try:
        if dashboard is not None:
            from .dashboard import open_dashboard  # only now: aiohttp comes with the dashboard alone

            board = open_dashboard(local, dashboard, journal=journal)
        own_keys = loopback_keys(address) if security is None else None
        aggregator = Aggregator(local, address, config=config, security=security or own_keys)
        restore_settings = export_settings(
            {ADDRESS_ENV: aggregator.address, FORWARD_LOGS_ENV: "1" if forward_logs else None,
             SERVER_KEY_ENV: own_keys.public.decode() if own_keys is not None else None,
             RESUME_ENV: "1" if recorder is not None and recorder.resumed_run is not None else None,
             SESSION_PID_ENV: f"{os.getpid()} {host_identity()}"}
        )
        previous = replace_tracker(local)
        try:
            with cancel_on_signals(local):
                yield local
        except BaseException:
            cancel_open_operations(local)  # the aggregator sends the cancellations before it stops
            raise
        aggregator.check()  # a block that ended well must not hide that progress went unread
    finally:
        replace_tracker(previous)
        if restore_settings is not None:
            restore_settings()
        try:
            if aggregator is not None:
                aggregator.close()
            if board is not None:
                board.close()
            if owned:
                local.close()
        finally:
            if recorder is not None:
                recorder.close()  # after the aggregator: the last finishes and lost phases are in
            for undo in undo_handlers:
                undo()
            if display is not None:
                display.close()
            for callback in callbacks:
                local.remove_callback(callback)


def _console_sink(tracker: BaseProgressTracker, console: bool | Console) -> Any:
    """The Rich display on ``tracker`` (``None`` for ``console=False``)."""
    if console is False:
        return None
    from ..adapters.notebook._kernel import in_notebook

    if console is True and in_notebook():  # a Jupyter kernel: one live output in the running cell
        from ..adapters.notebook import NotebookSink

        return NotebookSink(tracker)
    from ..adapters.console import ConsoleSink  # only now: rich is imported by this adapter alone

    return ConsoleSink(tracker, console=None if console is True else console)


def journal_sink(path: str | os.PathLike[str], *, resume: bool = False) -> JournalSink:
    """The journal a session, the relay or a configuration records a run in (and resumes from)."""
    from ..adapters.journal import JournalSink

    return JournalSink(os.fspath(path), resume=resume)


def connect(
    address: str | None = None, *, config: ClientConfig | None = None, security: SocketSecurity | None = None
) -> ClientTracker:
    """An explicit client tracker connected to an aggregator (a session or a relay).

    Use it as a context manager, or call ``close()``: it finishes what is still open and
    waits (bounded) until the aggregator has acknowledged the final states.

    Args:
        address: the aggregator's address; ``MPPROGRESS_ADDRESS`` by default, else the address
            announced in the file ``MPPROGRESS_ADDRESS_FILE`` names.
        config: the client's timing and queue settings.
        security: applied to the socket before it connects (e.g. CURVE client keys); by
            default the keys named by ``MPPROGRESS_CURVE_DIR``, if set.

    Raises:
        ValueError: no address was given and ``MPPROGRESS_ADDRESS`` is not set, or the
            address cannot be used.
    """
    from .._remote.client import ClientTracker

    follow = None
    if not address:
        address, follow = inherited_address()
    if not address:
        raise ValueError(f"no progress address: pass one or set {ADDRESS_ENV}")
    if security is None:
        security = env_client_security(address, follow)
        if security is None:
            from .._remote.reachability import warn_unauthenticated

            warn_unauthenticated(address)
    return ClientTracker(address, config=config, security=security, follow=follow)


def worker_client(address: str, follow: str | None = None) -> ProgressTracker:
    """The process-wide client ``get_tracker()`` makes in a worker, with logging set up
    (``follow``: the address file ``address`` came from, if it did).

    If the CURVE keys ``MPPROGRESS_CURVE_DIR`` names cannot be loaded, one warning says so and
    the worker gets a tracker that counts locally and sends nothing (``_Unsent``): its own
    work goes on, and nothing travels without the keys.

    With ``MPPROGRESS_FORWARD_LOGS=1`` a ``ForwardingLogHandler`` is put on the root logger (a
    forked worker starts without its session parent's handlers: ``add_parent_only_handler``).  With
    ``MPPROGRESS_CURVE_DIR`` set, it connects with those CURVE client keys; else with
    ``MPPROGRESS_SERVER_KEY`` set, with a key pair of its own (see ``settings.env_client_security``).
    """
    from .._remote.client import ClientTracker, ForwardingLogHandler

    try:
        security = env_client_security(address, follow)
    except ValueError as exc:  # never plaintext instead: nothing is sent, the work goes on
        from .._remote.reachability import warn_undelivered

        warn_undelivered(address, f"{exc} (nothing is sent without them, never in plaintext; the work goes on)")
        return _Unsent()
    if security is None:
        from .._remote.reachability import warn_unauthenticated

        warn_unauthenticated(address)
    client = ClientTracker(address, security=security, follow=follow)
    if inherited_setting(RESUME_ENV) == "1":  # the session resumes a run: phases wait to hear where
        client.resume_timeout = RESUME_TIMEOUT
    if inherited_setting(FORWARD_LOGS_ENV) == "1":  # a child this worker forks makes its own
        add_parent_only_handler(logging.getLogger(), ForwardingLogHandler(client))
    return client


class _Unsent(BaseProgressTracker):
    """A worker's tracker when its reports cannot be sent (its CURVE keys are unusable; the
    warning was given): counted here, shown nowhere; an operation of the session it names is
    started on the spot, so ``get_operation(operation_id).phase(...)`` works."""

    def get_operation(self, operation_id: str) -> BaseProgressOperation:
        found = super().get_operation(operation_id)
        if found is not None:
            return found
        try:
            return self.start_operation(operation_id, operation_id)
        except DuplicateIdError:  # another thread started it in the meantime
            found = super().get_operation(operation_id)
            assert found is not None
            return found
