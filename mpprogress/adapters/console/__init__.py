"""The Rich console display: ``ConsoleSink`` and the seed's ``ConsoleProgressTracker``.

On a terminal, one ``rich.live.Live`` shows every running operation; a small refresh thread
rebuilds the frame from ``tracker.snapshot()`` at ``refresh_rate`` and hands it to Live, so no
frame is ever built inside the tracker's lock and Live's lock is never held while waiting for
the tracker's.  The event callback only starts and stops the display and prints summaries.
Elsewhere (CI, a pipe) the sink writes plain timestamped lines instead (``console_plain``); there
a timer thread, run like the refresh thread, prints a "still running" line for a phase that has
been quiet for ``plain_interval`` seconds.
"""

from __future__ import annotations

import atexit
import functools
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.file_proxy import FileProxy
from rich.live import Live

from ..._base.events import (
    OPERATION_FINISHED,
    OPERATION_STARTED,
    EventSink,
    OperationFinished,
    OperationStarted,
    ProgressEvent,
)
from ..._base.forksafe import reinit_after_fork
from ..._base.formats import ISO_LOG_TIME
from ..._base.snapshot import OperationSnapshot, TrackerSnapshot
from ..._core.exits import run_first
from ..._core.tracker import BaseProgressTracker
from .. import TrackerWithSinks
from ..notebook._kernel import in_notebook
from ._config import ConsoleConfig
from ._live import ConsoleLogHandler, heartbeat_tick, on_screen, repeat
from ._plain import PlainLines
from ._render import LayoutMemory, bar_glyphs, render_final, render_frame, render_summary

if TYPE_CHECKING:
    from ..notebook import NotebookSink

__all__ = ["ConsoleConfig", "ConsoleProgressAdapter", "ConsoleProgressTracker", "ConsoleSink", "terminal_console"]

_log = logging.getLogger("mpprogress")

_DISPLAY_EVENTS = frozenset({OPERATION_STARTED, OPERATION_FINISHED})  # what a live display acts on


def terminal_console(*, stderr: bool = True, color: bool = True) -> Console:
    """A Rich console on standard error (or standard output).

    Args:
        stderr: draw on standard error (the default, as tqdm: standard output stays the
            program's data); ``False`` for standard output.
        color: ``False`` for no colour at all (``--no-color``); ``True`` leaves the choice to
            Rich (the terminal's abilities and ``NO_COLOR``).
    """
    return Console(stderr=stderr, no_color=None if color else True)


def _shares_screen(console: Console, stream: Any) -> bool:
    """Whether writes to ``stream`` must pass through the live display to appear above it.

    Only the display's own stream, or a terminal (the same screen): ``script.py > out.csv``
    with the display on the terminal's standard error must leave standard output to the
    program, byte for byte, never re-routed to the display's stream.
    """
    if stream is None:
        return False
    if stream is console.file:
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # closed or not a real file
        return False


class ConsoleSink(EventSink):
    """Draws a tracker's operations on a Rich console; subscribes itself to ``tracker``.

    Args:
        tracker: the local tracker to show (remote phases appear in it as ordinary phases).
        console: where to draw; by default a new console on standard error (``config.stream``).
        config: what to show and how often; ``ConsoleConfig()`` by default.
        get_time: monotonic clock for the spinner and for how long a phase has been quiet in
            plain mode; inject a fake one in tests.
    """

    def __init__(
        self,
        tracker: BaseProgressTracker,
        *,
        console: Console | None = None,
        config: ConsoleConfig | None = None,
        get_time: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tracker = tracker
        self.config = config if config is not None else ConsoleConfig()
        self.console = console if console is not None else Console(stderr=self.config.stream == "stderr")
        self._get_time = get_time
        self._live_mode = self.console.is_terminal and not self.console.is_dumb_terminal
        self._plain = (
            None if self._live_mode else PlainLines(self.console, self.config.plain_interval, get_time=get_time)
        )
        self._lock = threading.RLock()  # start/stop of the display; taken before Live's own lock
        self._live: Live | None = None
        self._stop_refresh: threading.Event | None = None  # stops the refresh or heartbeat thread
        self._closed = False
        self._layout = LayoutMemory()  # the live display's layout so far: frames only narrow it
        tracker.add_callback(self)
        if any(not op.finished for op in tracker.operations):
            self._start_display()

    # --- events -----------------------------------------------------------------------------

    def __call__(self, *, event_type: str, **data: Any) -> None:
        # Live, only operations starting and finishing matter: skip building the typed event of
        # each progress update (several microseconds, on the thread delivering events).
        if self._plain is not None or event_type in _DISPLAY_EVENTS:
            super().__call__(event_type=event_type, **data)

    def handle(self, event: ProgressEvent) -> None:
        """Print plain lines off a terminal; start the display on an operation's start, and
        print its summary (and stop the display once nothing runs) on its finish."""
        if self._closed:
            return
        if self._plain is not None:
            self._plain.handle(event)
        if isinstance(event, OperationStarted):
            self._start_display()
        elif isinstance(event, OperationFinished):
            self._operation_finished(event)

    def _operation_finished(self, event: OperationFinished) -> None:
        idle = all(op.finished for op in self.tracker.operations)
        try:
            snapshot = self._snapshot()
            operation = snapshot.get(event.operation_id) if snapshot is not None else None
            with self._lock:
                if self._live is not None and (idle or snapshot is not None):
                    # Redraw without the finished operation first, so its rows never show twice.
                    frame = Group() if idle or snapshot is None else on_screen(self._render(snapshot))
                    self._live.update(frame, refresh=True)
                if self.config.show_summary:
                    summary = render_summary(
                        event.title, event.success, event.duration, operation, self.config, event.reason
                    )
                    self.console.print(summary)
                elif self._live is not None and operation is not None and not self.config.transient:
                    self.console.print(self._final(operation))  # its last rows stay, above the display
        finally:
            if idle:
                self._stop_display()

    def _snapshot(self) -> TrackerSnapshot | None:
        """The tracker's state, or ``None`` (logged) if it cannot be read: the display must still
        come down and restore the terminal."""
        try:
            return self.tracker.snapshot()
        except Exception:
            _log.exception("console display could not read the tracker's state")
            return None

    def _closing_frame(self) -> RenderableType | None:
        """What stays on the screen when the display closes with work running (``None``: nothing)."""
        if not self.is_live or self.config.transient:
            return None
        snapshot = self._snapshot()
        try:
            return self._render(snapshot, closing=True) if snapshot is not None else None
        except Exception:
            _log.exception("console display could not draw its last frame")
            return None

    # --- the live display -------------------------------------------------------------------

    def frame(self) -> RenderableType:
        """The live display's current frame, built from a fresh snapshot of the tracker."""
        return self._render(self.tracker.snapshot())

    def _render(self, snapshot: TrackerSnapshot, closing: bool = False) -> RenderableType:
        console = self.console
        return render_frame(
            snapshot,
            self.config,
            width=console.width,
            height=console.height - 2,  # the blank line of ``on_screen``, and one to spare
            now=self._get_time(),
            glyphs=bar_glyphs(console),
            closing=closing,
            memory=self._layout,
        )

    def _final(self, operation: OperationSnapshot) -> RenderableType:
        console = self.console
        return render_final(
            operation, self.config, width=console.width, height=console.height - 2, glyphs=bar_glyphs(console)
        )

    @property
    def is_live(self) -> bool:
        """Whether the live display is on the screen now."""
        return self._live is not None

    def _start_display(self) -> None:
        """Go live on a terminal; elsewhere start the heartbeat of the plain lines."""
        if not self._live_mode and self.config.plain_interval <= 0:
            return  # every update already prints a line
        with self._lock:
            if self._closed or self._stop_refresh is not None:
                return
            live = self._go_live() if self._live_mode else None
            stop = self._stop_refresh = threading.Event()
            if live is not None:
                step: Callable[[], bool] = functools.partial(self._refresh, live, stop)
                interval, name = 1.0 / self.config.refresh_rate, "mpprogress-console"
            else:
                step = functools.partial(self._heartbeat, stop)
                interval, name = heartbeat_tick(self.config.plain_interval), "mpprogress-console-heartbeat"
            reinit_after_fork(self)  # a forked child must let go of this display unseen
        threading.Thread(target=repeat, args=(step, interval, stop), name=name, daemon=True).start()

    def _go_live(self) -> Live:
        """Put a ``Live`` on the console; the caller starts its refresh thread."""
        live = Live(
            console=self.console,
            auto_refresh=False,
            transient=True,
            redirect_stdout=_shares_screen(self.console, sys.stdout),
            redirect_stderr=_shares_screen(self.console, sys.stderr),
            vertical_overflow="crop",
        )
        live.start()
        self._live = live
        self._layout = LayoutMemory()  # a new display lays out afresh
        atexit.register(self.close)
        run_first()  # at exit, work still open is finished (and shown so) before this closes
        return live

    def _refresh(self, live: Live, stop: threading.Event) -> bool:
        """Draw one frame; ``False`` once this display has been taken down."""
        frame = on_screen(self.frame())  # no lock of ours or Live's held while the tracker's is taken
        with self._lock:
            if stop.is_set() or self._live is not live:
                return False
            live.update(frame, refresh=True)
        return True

    def _heartbeat(self, stop: threading.Event) -> bool:
        """Print "still running" lines for quiet phases; a snapshot only when one is due."""
        plain = self._plain
        if plain is not None and plain.has_quiet_phase():
            snapshot = self.tracker.snapshot()  # the tracker's lock is let go before printing
            if stop.is_set():  # closed meanwhile: nothing more after close() returned
                return False
            plain.heartbeat(snapshot)
        return True

    def _stop_display(self, last_frame: RenderableType | None = None) -> None:
        """Take the display (or the heartbeat) down; ``last_frame``, if given, stays on the screen."""
        with self._lock:
            live, self._live = self._live, None
            stop, self._stop_refresh = self._stop_refresh, None
            if stop is not None:
                stop.set()
            if live is None:
                return
            atexit.unregister(self.close)
            try:
                if last_frame is not None:
                    live.transient = False
                live.update(Group() if last_frame is None else last_frame)
            finally:
                live.stop()  # restores the cursor and stdout/stderr, in its own ``finally``

    # --- output while live ------------------------------------------------------------------

    def logging_handler(self, level: int = logging.NOTSET) -> logging.Handler:
        """A logging handler that writes records through this sink's console.

        While the display is live, records appear above it, never through it.  Messages are
        shown as plain text (never markup), with control characters removed.

        Args:
            level: the handler's level.

        Returns:
            A new handler; attach it to any logger.
        """
        return ConsoleLogHandler(
            level, console=self.console, show_path=False, markup=False, log_time_format=ISO_LOG_TIME
        )

    # --- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the display, restore the terminal and unsubscribe. Idempotent, any thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            # Work still running (Ctrl-C, an early exit, the simple form never finished): leave
            # its last state on the screen, drawn still.
            self._stop_display(self._closing_frame())
        finally:
            self.tracker.remove_callback(self)

    def _reinit_after_fork(self) -> None:
        """In a forked child the display (or the heartbeat) is the parent's: let go of it unseen.

        Only plain attribute work here: a lock held by a parent thread at fork time (the
        console's, Live's) stays held forever in the child.
        """
        self._lock = threading.RLock()
        self._closed = True
        live, self._live, self._stop_refresh = self._live, None, None
        if live is None:
            return
        atexit.unregister(self.close)
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if isinstance(stream, FileProxy):  # the child's prints must not redraw our frame
                setattr(sys, name, stream.rich_proxied_file)

    def __enter__(self) -> ConsoleSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ConsoleProgressTracker(TrackerWithSinks):
    """The seed's console tracker: a local tracker with a ``ConsoleSink`` attached.

    Args:
        console: where to draw; standard error by default (``config.stream``).
        show_spinner: animate a spinner on running rows (each option's default is
            ``ConsoleConfig``'s).
        show_percentage: show a percentage column.
        show_time_remaining: show the estimated time remaining.
        bar_width: width of the progress bars, in cells.
        refresh_rate: live redraws per second.
        config: a full ``ConsoleConfig``; when given, the four options above are ignored.
        **tracker_kwargs: passed to ``BaseProgressTracker`` (``get_time``, ``max_update_rate``...).
    """

    def __init__(
        self,
        console: Console | None = None,
        *,
        show_spinner: bool = ConsoleConfig.show_spinner,
        show_percentage: bool = ConsoleConfig.show_percentage,
        show_time_remaining: bool = ConsoleConfig.show_time_remaining,
        bar_width: int = ConsoleConfig.bar_width,
        refresh_rate: float = ConsoleConfig.refresh_rate,
        config: ConsoleConfig | None = None,
        **tracker_kwargs: Any,
    ) -> None:
        super().__init__(**tracker_kwargs)
        if config is None:
            config = ConsoleConfig(
                show_spinner=show_spinner,
                show_percentage=show_percentage,
                show_time_remaining=show_time_remaining,
                bar_width=bar_width,
                refresh_rate=refresh_rate,
            )
        self.sink: ConsoleSink | NotebookSink
        if console is None and in_notebook():
            # In a Jupyter kernel the cell's own output is the terminal: one display updated in
            # place there, not a Rich live display reprinting the cell on every refresh.
            from ..notebook import NotebookSink

            self.sink = NotebookSink(self, config=config)
            self._console = Console(stderr=config.stream == "stderr")
        else:
            self.sink = ConsoleSink(self, console=console, config=config)
            self._console = self.sink.console
        self.attach(self.sink)

    @property
    def console(self) -> Console:
        """The console the display draws on (print through it to appear above the display)."""
        return self._console

    def logging_handler(self, level: int = logging.NOTSET) -> logging.Handler:
        """A logging handler whose records show above the display; see ``ConsoleSink``."""
        return self.sink.logging_handler(level)


ConsoleProgressAdapter = ConsoleProgressTracker
