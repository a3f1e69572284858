"""The one place that composes a tracker, its sinks and a transport.

The local tracker core holds state, ``adapters/`` turn events into output, ``remote/`` moves
state between processes; only this module knows which parts go together for each way of
running: ``get_tracker()`` (the session's tracker, a worker's client, or a silent local one),
``session()`` (tracker + sinks + aggregator, its address exported to children), ``connect()``,
``track()`` and ``display_if_silent()``, the demo's and the relay's output
(``output_session``, ``run_relay``) and ``build_tracker()`` for configuration files.

Third-party libraries (rich, zmq) are imported only inside the functions that need them, so
``import mpprogress`` stays light.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sized
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, TextIO, TypeVar

from .current import get_or_make, replace_tracker
from .events import ProgressCallback, Sink
from .port import ProgressTracker
from .remote.settings import (
    ADDRESS_ENV,
    FORWARD_LOGS_ENV,
    env_client_security,
    export_settings,
    inherited_setting,
)
from .signals import cancel_on_signals, cancel_open_operations
from .tracker import BaseProgressTracker
from .tracking import DetachedTracker, track_loop

if TYPE_CHECKING:
    from rich.console import Console

    from .adapters import TrackerWithSinks
    from .remote.aggregator import AggregatorConfig
    from .remote.client import ClientConfig, ClientTracker
    from .remote.relay import RelayConfig
    from .remote.transport import ServerSecurity, SocketSecurity

__all__ = [
    "Output",
    "build_tracker",
    "connect",
    "display_if_silent",
    "get_tracker",
    "output_session",
    "run_relay",
    "session",
    "track",
    "worker_client",
]

T = TypeVar("T")

Output = Literal["display", "json"]
"""How the demo and the relay show progress: the Rich display, or one JSON event per line."""

# The silent tracker get_tracker() made here, if any: track() shows a display of its own instead.
_silent: list[ProgressTracker | None] = [None]

# The console log handler a session put on the root logger: a forked child takes it off.
_session_log_handler: logging.Handler | None = None
_session_pid = 0


# --- the current tracker ------------------------------------------------------------------------


def get_tracker() -> ProgressTracker:
    """The tracker this process should report to, in order:

    - the tracker set by ``set_tracker`` in this process (``mpprogress.session()`` sets its
      own, so in the parent this is the session's tracker);
    - in a process whose environment has ``MPPROGRESS_ADDRESS`` (a worker started inside a
      session, by ``fork``, ``spawn``, ``forkserver`` or ``subprocess``): a client tracker
      connected to that address, created on first use, one per process;
    - otherwise a process-wide ``BaseProgressTracker`` created on first use, which holds state
      and emits events but shows nothing until a sink is added; in a ``multiprocessing`` child
      (a worker started outside any session) a ``DetachedTracker``, whose ``get_operation``
      starts an unknown operation on the spot with one warning, so the worker's loop runs.

    A forked child never gets its parent's tracker: it gets its own, by the same rules.
    """
    return get_or_make(_tracker_for_this_process)


def _tracker_for_this_process() -> ProgressTracker:
    address = inherited_setting(ADDRESS_ENV)
    if address:
        return worker_client(address)
    # A multiprocessing child with no address was started outside any session: keep its loops
    # running and say so (DetachedTracker), rather than hand it None for its operation.
    tracker = DetachedTracker() if multiprocessing.parent_process() is not None else BaseProgressTracker()
    _silent[0] = tracker
    return tracker


def track(
    iterable: Iterable[T],
    description: str = "Working...",
    total: int | None = None,
    *,
    tracker: ProgressTracker | None = None,
) -> Iterator[T]:
    """Yield the items of ``iterable`` while reporting them as one phase, like ``rich.progress.track``.

    The phase runs in its own operation titled ``description`` (see ``tracking.track_loop``:
    leaving the loop early finishes it successfully, so when failures must show, use
    ``with op.phase(...) as phase`` and ``phase.track(iterable)``, whose block sees them).

    Args:
        iterable: the items to walk through.
        description: the title shown for the operation and its phase.
        total: the number of items; taken from ``len(iterable)`` when omitted and possible.
        tracker: the tracker to report to; by default ``get_tracker()``, except where that would
            be the silent fallback (no session, no worker address, nothing set): then, like
            ``rich.progress.track``, a console display of its own on stderr for the loop's
            duration.

    Yields:
        The items of ``iterable``.
    """
    if total is None and isinstance(iterable, Sized):
        total = len(iterable)
    owned = None if tracker is not None else display_if_silent()
    try:
        yield from track_loop(tracker or owned or get_tracker(), iterable, description, total)
    finally:
        if owned is not None:
            owned.close()


def display_if_silent() -> TrackerWithSinks | None:
    """A console tracker of its own when nothing else would show this process's progress.

    ``None`` in a session, in a worker (its client) or when the application set a tracker;
    otherwise a new ``ConsoleProgressTracker`` on stderr that the caller closes (``track()``,
    the tqdm and Rich front ends).
    """
    if get_tracker() is not _silent[0]:
        return None  # a session, a worker's client or a tracker the application set
    from .adapters.console import ConsoleConfig, ConsoleProgressTracker, terminal_console

    return ConsoleProgressTracker(terminal_console(stderr=True), config=ConsoleConfig(show_summary=False))


# --- multiprocess mode ------------------------------------------------------------------------


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
) -> Iterator[BaseProgressTracker]:
    """Collect the progress of this process and of every child process, and show it.

    Inside the block, ``MPPROGRESS_ADDRESS`` is set in ``os.environ`` and in this process's
    ``multiprocessing`` record (children inherit it under ``fork``, ``spawn``, ``forkserver``
    and ``subprocess``, and their ``mpprogress.get_tracker()`` connects to it), and
    ``get_tracker()`` in this process returns the session's tracker.  Create pools and
    processes inside the block: workers started before it cannot know the address.

    On exit, by any path including Ctrl-C, workers are told to cancel (when the block raised),
    the aggregator stops, the sinks close (the terminal is restored) and the environment is put
    back, within about two seconds.  In the main thread, SIGINT and SIGTERM cancel the open
    operations at once, before a pool in the block waits for its tasks (``signals.py``); SIGTERM
    then ends the process with status 143 after that cleanup.

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
        security: applied to the listening socket (e.g. CURVE server keys).

    Yields:
        The parent's local tracker; ``add_callback`` works on it as usual.
    """
    global _session_log_handler, _session_pid
    from .remote.aggregator import Aggregator

    owned = tracker is None
    local = tracker if tracker is not None else BaseProgressTracker()
    callbacks = tuple(sinks)
    for callback in callbacks:
        local.add_callback(callback)
    display = _console_sink(local, console)
    root = logging.getLogger()
    written = logging.getLogger("mpprogress.write")  # workers' tqdm.write lines arrive as INFO
    if written.level == logging.NOTSET:
        written.setLevel(logging.INFO)
    handler = None
    if display is not None and not root.handlers:
        handler = display.logging_handler()
        root.addHandler(handler)
        _session_log_handler, _session_pid = handler, os.getpid()
    aggregator = None
    restore_settings = None
    previous = None
    try:
        aggregator = Aggregator(local, address, config=config, security=security)
        restore_settings = export_settings(
            {ADDRESS_ENV: aggregator.address, FORWARD_LOGS_ENV: "1" if forward_logs else None}
        )
        previous = replace_tracker(local)
        try:
            with cancel_on_signals(local):
                yield local
        except BaseException:
            cancel_open_operations(local)  # the aggregator sends the cancellations before it stops
            raise
    finally:
        replace_tracker(previous)
        if restore_settings is not None:
            restore_settings()
        try:
            if aggregator is not None:
                aggregator.close()
            if owned:
                local.close()
        finally:
            if display is not None:
                display.close()
            if handler is not None:
                root.removeHandler(handler)
                _session_log_handler = None
            for callback in callbacks:
                local.remove_callback(callback)


def _console_sink(tracker: BaseProgressTracker, console: bool | Console) -> Any:
    """The Rich display on ``tracker`` (``None`` for ``console=False``)."""
    if console is False:
        return None
    from .adapters.console import ConsoleSink  # only now: rich is imported by this adapter alone

    return ConsoleSink(tracker, console=None if console is True else console)


def connect(
    address: str | None = None, *, config: ClientConfig | None = None, security: SocketSecurity | None = None
) -> ClientTracker:
    """An explicit client tracker connected to an aggregator (a session or a relay).

    Use it as a context manager, or call ``close()``: it finishes what is still open and
    waits (bounded) until the aggregator has acknowledged the final states.

    Args:
        address: the aggregator's address; ``MPPROGRESS_ADDRESS`` by default.
        config: the client's timing and queue settings.
        security: applied to the socket before it connects (e.g. CURVE client keys); by
            default the keys named by ``MPPROGRESS_CURVE_DIR``, if set.

    Raises:
        ValueError: no address was given and ``MPPROGRESS_ADDRESS`` is not set, or the
            address cannot be used.
    """
    from .remote.client import ClientTracker

    address = address or inherited_setting(ADDRESS_ENV)
    if not address:
        raise ValueError(f"no progress address: pass one or set {ADDRESS_ENV}")
    if security is None:
        security = env_client_security()
    return ClientTracker(address, config=config, security=security)


def worker_client(address: str) -> ClientTracker:
    """The process-wide client ``get_tracker()`` makes in a worker, with logging set up.

    A handler inherited from a forking session parent is taken off the root logger; with
    ``MPPROGRESS_FORWARD_LOGS=1`` a ``ForwardingLogHandler`` is put on it.  With
    ``MPPROGRESS_CURVE_DIR`` set, it connects with those CURVE client keys.
    """
    from .remote.client import ClientTracker, ForwardingLogHandler

    client = ClientTracker(address, security=env_client_security())
    root = logging.getLogger()
    if _session_log_handler is not None and _session_pid != os.getpid():
        root.removeHandler(_session_log_handler)
    if inherited_setting(FORWARD_LOGS_ENV) == "1":
        root.addHandler(ForwardingLogHandler(client))
    return client


# --- the demo's and the relay's output ---------------------------------------------------------


def _output_sink(tracker: BaseProgressTracker, output: Output, stream: TextIO, color: bool = True) -> Sink:
    """JSON lines on ``stream``, or the Rich display (without colour when ``color`` is false)."""
    if output == "json":
        sink = _json_lines(stream)
        tracker.add_callback(sink)
        return sink
    from .adapters.console import ConsoleSink, terminal_console

    return ConsoleSink(tracker, console=terminal_console(color=color))


def _json_lines(stream: TextIO) -> Sink:
    from .adapters.jsonlines import JsonLinesSink

    return JsonLinesSink(stream)


@contextmanager
def output_session(output: Output, stream: TextIO, *, color: bool = True) -> Iterator[BaseProgressTracker]:
    """A ``session()`` shown on the Rich display or written as JSON lines on ``stream``.

    Args:
        output: ``"display"`` or ``"json"``.
        stream: where JSON lines go.
        color: whether the display may use colour.
    """
    if output == "json":
        sink = _json_lines(stream)
        try:
            with session(console=False, sinks=(sink,)) as tracker:
                yield tracker
        finally:
            sink.close()
    else:
        from .adapters.console import terminal_console

        with session(console=terminal_console(color=color)) as tracker:
            yield tracker


def run_relay(config: RelayConfig) -> int:
    """Run ``mpprogress relay``: a local tracker, the display or JSON lines, an aggregator.

    Call it from the main thread; it returns after SIGINT or SIGTERM.

    Returns:
        The relay's exit status (see ``mpprogress.remote.relay.serve``).
    """
    from .remote.relay import serve

    stdout = config.stdout if config.stdout is not None else sys.stdout
    return serve(config, lambda tracker: _output_sink(tracker, config.output, stdout))


# --- configuration ------------------------------------------------------------------------------


def build_tracker(
    settings: Mapping[str, Mapping[str, Any]], tracker_kwargs: Mapping[str, Any], console: Any, websocket_handler: Any
) -> TrackerWithSinks:
    """The local tracker and sinks a validated ``progress:`` configuration asks for.

    Args:
        settings: ``config.load_config``'s result, with at least one output enabled.
        tracker_kwargs: ``BaseProgressTracker`` settings (rates, burst, operations kept).
        console: a ``rich.console.Console`` for the display, or ``None``.
        websocket_handler: what the websocket section sends to.
    """
    from .adapters.logs import LoggingProgressTracker, LoggingSink
    from .adapters.web import WebSocketProgressTracker, WebSocketSink

    section, log, perf = settings["console"], settings["logging"], settings["performance"]
    log_options = {k: log[k] for k in ("level", "json_lines", "min_interval", "include_performance_metrics")}
    tracker: TrackerWithSinks
    if section["enabled"]:
        from .adapters.console import ConsoleConfig, ConsoleProgressTracker

        options = {key: value for key, value in section.items() if key != "enabled"}
        options["show_time_remaining"] = section["show_time_remaining"] and perf["estimate_completion_time"]
        options["show_rate"] = section["show_rate"] and perf["track_items_per_second"]
        console_config = ConsoleConfig(**options)
        tracker = ConsoleProgressTracker(console, config=console_config, **tracker_kwargs)
        if log["enabled"]:
            tracker.attach(LoggingSink(log["logger"], **log_options))
    elif log["enabled"]:
        tracker = LoggingProgressTracker(log["logger"], **log_options, **tracker_kwargs)
    else:
        return WebSocketProgressTracker(websocket_handler, **tracker_kwargs)
    if settings["websocket"]["enabled"]:
        tracker.attach(WebSocketSink(websocket_handler, event_name=settings["websocket"]["event_name"]))
    return tracker

