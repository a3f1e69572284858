"""Wiring of the demo's and the relay's output: the Rich display or one JSON event per line.

The display draws on standard error, as every display of a session does; JSON lines are the
output asked for (data), so they go to the stream given (standard output).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal, TextIO

from .._base.events import Sink
from .._core.tracker import BaseProgressTracker
from .local import telemetry_sink
from .processes import journal_sink, session

if TYPE_CHECKING:

    from .._remote.relay import RelayConfig

__all__ = ['Output', 'output_session', 'run_relay']

Output = Literal["display", "json"]
"""How the demo and the relay show progress: the Rich display, or one JSON event per line."""


def _output_sink(tracker: BaseProgressTracker, output: Output, stream: TextIO, color: bool = True) -> Sink:
    """JSON lines on ``stream``, or the Rich display on standard error (without colour when
    ``color`` is false)."""
    if output == "json":
        sink = _json_lines(stream)
        tracker.add_callback(sink)
        return sink
    from ..adapters.console import ConsoleSink, terminal_console

    return ConsoleSink(tracker, console=terminal_console(color=color))


def _json_lines(stream: TextIO) -> Sink:
    from ..adapters.jsonlines import JsonLinesSink

    return JsonLinesSink(stream)


@contextmanager
def output_session(
    output: Output, stream: TextIO, *, color: bool = True, journal: str | os.PathLike[str] | None = None
) -> Iterator[BaseProgressTracker]:
    """A ``session()`` shown on the Rich display (standard error) or written as JSON lines on ``stream``.

    Args:
        output: ``"display"`` or ``"json"``.
        stream: where JSON lines go.
        color: whether the display may use colour.
        journal: an SQLite file to record the run in, if any.
    """
    if output == "json":
        sink = _json_lines(stream)
        try:
            with session(console=False, sinks=(sink,), journal=journal) as tracker:
                yield tracker
        finally:
            sink.close()
    else:
        from ..adapters.console import terminal_console

        with session(console=terminal_console(color=color), journal=journal) as tracker:
            yield tracker


def run_relay(
    config: RelayConfig, *, journal: str | os.PathLike[str] | None = None, otel: bool = False,
    http: str | None = None,
) -> int:
    """Run ``mpprogress relay``: a local tracker, the display or JSON lines, an aggregator.

    Call it from the main thread; it returns after SIGINT or SIGTERM.  With ``http``
    (``HOST:PORT``), the live web dashboard of the relay is served there too.

    Returns:
        The relay's exit status (see ``mpprogress._remote.relay.serve``).
    """
    from .._remote.relay import EXIT_REFUSED, serve

    boards = []
    if http is not None:
        from .dashboard import DashboardUnavailable, check_bind

        try:
            check_bind(http)
        except DashboardUnavailable as exc:
            (config.stderr or sys.stderr).write(f"mpprogress relay: error: {exc}\n")
            return EXIT_REFUSED
    stdout = config.stdout if config.stdout is not None else sys.stdout
    recorder = journal_sink(journal) if journal is not None else None
    extras: list[Sink] = [recorder] if recorder is not None else []
    if otel:
        extras.append(telemetry_sink())

    def make_sink(tracker: BaseProgressTracker) -> Sink:
        for extra in extras:
            tracker.add_callback(extra)
        if recorder is not None:
            tracker.set_journal(recorder)  # workers' item keys done are recorded too
        if http is not None:
            from .dashboard import open_dashboard

            boards.append(open_dashboard(tracker, http, journal=journal, title="mpprogress relay", kind="relay",
                                         out=config.stderr))
        return _output_sink(tracker, config.output, stdout)

    try:
        return serve(config, make_sink)
    finally:
        for board in boards:
            board.close()
        for extra in extras:
            extra.close()
