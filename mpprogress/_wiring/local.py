"""Wiring for one process: which tracker ``get_tracker()`` gives, ``track()`` and its own
display, and the trackers a configuration file asks for."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator, Mapping, Sized
from typing import TYPE_CHECKING, Any, TypeVar

from .._base.events import Sink
from .._base.port import ProgressTracker
from .._core.current import get_or_make
from .._core.tracker import BaseProgressTracker
from .._core.tracking import DetachedTracker, track_loop
from .._remote.settings import inherited_address
from .processes import journal_sink, worker_client

if TYPE_CHECKING:

    from ..adapters import TrackerWithSinks

__all__ = ['build_tracker', 'display_if_silent', 'get_tracker', 'track']

T = TypeVar("T")

# The silent tracker get_tracker() made here, if any: track() shows a display of its own instead.
_silent: list[ProgressTracker | None] = [None]


def get_tracker() -> ProgressTracker:
    """The tracker this process should report to, in order:

    - the tracker set by ``set_tracker`` in this process (``mpprogress.session()`` sets its
      own, so in the parent this is the session's tracker);
    - in a process whose environment has ``MPPROGRESS_ADDRESS`` (a worker started inside a
      session, by ``fork``, ``spawn``, ``forkserver`` or ``subprocess``), or else
      ``MPPROGRESS_ADDRESS_FILE`` naming a file a relay announced its address in: a client
      tracker connected to that address, created on first use, one per process;
    - otherwise a process-wide ``BaseProgressTracker`` created on first use, which holds state
      and emits events but shows nothing until a sink is added; in a ``multiprocessing`` child
      (a worker started outside any session) a ``DetachedTracker``, whose ``get_operation``
      starts an unknown operation on the spot with one warning, so the worker's loop runs.

    A forked child never gets its parent's tracker: it gets its own, by the same rules.
    """
    return get_or_make(_tracker_for_this_process)


def _tracker_for_this_process() -> ProgressTracker:
    address, follow = inherited_address()
    if address:
        return worker_client(address, follow)
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
    from ..adapters.console._config import ConsoleConfig
    from ..adapters.notebook._kernel import in_notebook

    if in_notebook():  # a Jupyter kernel: one live output in the running cell
        from ..adapters.notebook import NotebookProgressTracker

        return NotebookProgressTracker(config=ConsoleConfig(show_summary=False))
    from ..adapters.console import ConsoleProgressTracker, terminal_console

    return ConsoleProgressTracker(terminal_console(stderr=True), config=ConsoleConfig(show_summary=False))


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
    from ..adapters.logs import LoggingProgressTracker, LoggingSink
    from ..adapters.web import WebSocketProgressTracker, WebSocketSink

    section, log, perf = settings["console"], settings["logging"], settings["performance"]
    log_options = {k: log[k] for k in ("level", "json_lines", "min_interval", "include_performance_metrics")}
    tracker: TrackerWithSinks
    if section["enabled"]:
        from ..adapters.console import ConsoleConfig, ConsoleProgressTracker

        options = {key: value for key, value in section.items() if key != "enabled"}
        options["show_time_remaining"] = section["show_time_remaining"] and perf["estimate_completion_time"]
        options["show_rate"] = section["show_rate"] and perf["track_items_per_second"]
        console_config = ConsoleConfig(**options)
        tracker = ConsoleProgressTracker(console, config=console_config, **tracker_kwargs)
        if log["enabled"]:
            tracker.attach(LoggingSink(log["logger"], **log_options))
    elif log["enabled"]:
        tracker = LoggingProgressTracker(log["logger"], **log_options, **tracker_kwargs)
    elif settings["websocket"]["enabled"]:
        tracker = WebSocketProgressTracker(websocket_handler, **tracker_kwargs)
    else:
        from ..adapters import TrackerWithSinks

        tracker = TrackerWithSinks(**tracker_kwargs)  # the journal or OpenTelemetry alone
    if settings["websocket"]["enabled"] and not isinstance(tracker, WebSocketProgressTracker):
        tracker.attach(WebSocketSink(websocket_handler, event_name=settings["websocket"]["event_name"]))
    if settings["journal"]["path"] is not None:
        recorder = journal_sink(settings["journal"]["path"], resume=settings["journal"]["resume"])
        tracker.attach(recorder)
        tracker.set_journal(recorder)  # item keys done are recorded too
    otel = settings["opentelemetry"]
    if otel["enabled"]:
        tracker.attach(telemetry_sink(otel["max_labelled_phases"], otel["max_operation_names"]))
    return tracker


def telemetry_sink(max_labelled_phases: int = 20, max_operation_names: int = 100) -> Sink:
    """Operations and phases as OpenTelemetry spans and metrics, through the global providers."""
    from ..adapters.otel import OpenTelemetrySink

    return OpenTelemetrySink(max_labelled_phases=max_labelled_phases, max_operation_names=max_operation_names)
