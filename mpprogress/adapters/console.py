"""The Rich console display: ``ConsoleSink`` and the seed's ``ConsoleProgressTracker``.

On a terminal, one ``rich.live.Live`` shows every running operation; a small refresh thread
rebuilds the frame from ``tracker.snapshot()`` at ``refresh_rate`` and hands it to Live, so no
frame is ever built inside the tracker's lock and Live's lock is never held while waiting for
the tracker's.  The event callback only starts and stops the display and prints summaries.
Elsewhere (CI, a pipe) the sink writes plain timestamped lines instead (``console_plain``).
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
import weakref
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.file_proxy import FileProxy
from rich.live import Live
from rich.logging import RichHandler
from rich.text import Text

from ..events import OPERATION_FINISHED, OPERATION_STARTED
from ..snapshot import TrackerSnapshot
from ..tracker import BaseProgressTracker
from . import TrackerWithSinks
from .console_plain import PlainLines
from .console_render import ConsoleConfig, clean_text, render_frame, render_summary

__all__ = ["ConsoleConfig", "ConsoleProgressAdapter", "ConsoleProgressTracker", "ConsoleSink"]

_log = logging.getLogger("mpprogress")


class ConsoleSink:
    """Draws a tracker's operations on a Rich console; subscribes itself to ``tracker``.

    Args:
        tracker: the local tracker to show (remote phases appear in it as ordinary phases).
        console: where to draw; a fresh ``Console()`` (standard output) by default.
        config: what to show and how often; ``ConsoleConfig()`` by default.
    """

    def __init__(
        self,
        tracker: BaseProgressTracker,
        *,
        console: Console | None = None,
        config: ConsoleConfig | None = None,
    ) -> None:
        self.tracker = tracker
        self.console = console if console is not None else Console()
        self.config = config if config is not None else ConsoleConfig()
        self._live_mode = self.console.is_terminal and not self.console.is_dumb_terminal
        self._plain = None if self._live_mode else PlainLines(self.console, self.config.plain_interval)
        self._lock = threading.RLock()  # start/stop of the display; taken before Live's own lock
        self._live: Live | None = None
        self._stop_refresh: threading.Event | None = None
        self._closed = False
        self._watching_forks = False
        tracker.add_callback(self)
        if any(not op.finished for op in tracker.snapshot().operations):
            self._start_live()

    # --- events -----------------------------------------------------------------------------

    def __call__(self, *, event_type: str, **data: Any) -> None:
        if self._closed:
            return
        if self._plain is not None:
            self._plain(event_type, data)
        if event_type == OPERATION_STARTED:
            self._start_live()
        elif event_type == OPERATION_FINISHED:
            self._operation_finished(data)

    def _operation_finished(self, data: dict[str, Any]) -> None:
        snapshot = self.tracker.snapshot()
        idle = all(op.finished for op in snapshot.operations)
        with self._lock:
            if self._live is not None:
                # Redraw without the finished operation first, so its rows never show twice.
                self._live.update(Group() if idle else self._render(snapshot), refresh=True)
            if self.config.show_summary:
                summary = render_summary(
                    str(data.get("title", "")),
                    bool(data.get("success")),
                    float(data.get("duration") or 0.0),
                    snapshot.get(data["operation_id"]),
                    self.config,
                )
                self.console.print(summary)
        if idle:
            self._stop_live()

    # --- the live display -------------------------------------------------------------------

    def frame(self) -> RenderableType:
        """The live display's current frame, built from a fresh snapshot of the tracker."""
        return self._render(self.tracker.snapshot())

    def _render(self, snapshot: TrackerSnapshot) -> RenderableType:
        console = self.console
        return render_frame(snapshot, self.config, width=console.width, height=console.height - 1, now=time.monotonic())

    @property
    def is_live(self) -> bool:
        """Whether the live display is on the screen now."""
        return self._live is not None

    def _start_live(self) -> None:
        if not self._live_mode:
            return
        with self._lock:
            if self._live is not None or self._closed:
                return
            live = Live(
                console=self.console,
                auto_refresh=False,
                transient=True,
                redirect_stdout=True,
                redirect_stderr=True,
                vertical_overflow="crop",
            )
            live.start()
            self._live = live
            stop = self._stop_refresh = threading.Event()
            atexit.register(self.close)
            if not self._watching_forks and hasattr(os, "register_at_fork"):
                # Once per sink (hooks cannot be removed); the weak reference lets it be freed.
                ref = weakref.ref(self)
                os.register_at_fork(after_in_child=lambda: _forget_after_fork(ref()))
                self._watching_forks = True
        threading.Thread(target=self._run_refresh, args=(live, stop), name="mpprogress-console", daemon=True).start()

    def _run_refresh(self, live: Live, stop: threading.Event) -> None:
        interval = 1.0 / self.config.refresh_rate
        failures = 0
        while not stop.is_set():
            try:
                frame = self.frame()  # no lock of ours or Live's held while the tracker's is taken
                with self._lock:
                    if stop.is_set() or self._live is not live:
                        return
                    live.update(frame, refresh=True)
                failures = 0
            except Exception:
                failures += 1
                _log.exception("console display failed to draw a frame")
                if failures >= 3:
                    return
            stop.wait(interval)

    def _stop_live(self, last_frame: RenderableType | None = None) -> None:
        """Take the display down; ``last_frame``, if given, stays on the screen."""
        with self._lock:
            live, self._live = self._live, None
            stop, self._stop_refresh = self._stop_refresh, None
            if stop is not None:
                stop.set()
            if live is None:
                return
            atexit.unregister(self.close)
            if last_frame is not None:
                live.transient = False
            live.update(Group() if last_frame is None else last_frame)
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
        return _ConsoleLogHandler(level, console=self.console, show_path=False, markup=False)

    # --- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the display, restore the terminal and unsubscribe. Idempotent, any thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            # Work still running (Ctrl-C, an early exit): leave its last state on the screen.
            self._stop_live(self.frame() if self.is_live else None)
        finally:
            self.tracker.remove_callback(self)

    def _forget_after_fork(self) -> None:
        """In a forked child the display is the parent's: let go of it without drawing.

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


def _forget_after_fork(sink: ConsoleSink | None) -> None:
    if sink is not None:
        sink._forget_after_fork()


class _ConsoleLogHandler(RichHandler):
    """``RichHandler`` that never parses markup and strips control characters."""

    def render_message(self, record: logging.LogRecord, message: str) -> Text:
        text = Text(clean_text(message, limit=10_000))
        return self.highlighter(text) if self.highlighter else text


class ConsoleProgressTracker(TrackerWithSinks):
    """The seed's console tracker: a local tracker with a ``ConsoleSink`` attached.

    Args:
        console: where to draw; standard output by default.
        show_spinner: animate a spinner on running rows.
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
        show_spinner: bool = True,
        show_percentage: bool = True,
        show_time_remaining: bool = True,
        bar_width: int = 40,
        refresh_rate: float = 10.0,
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
        self.sink = ConsoleSink(self, console=console, config=config)
        self.attach(self.sink)

    @property
    def console(self) -> Console:
        """The console the display draws on (print through it to appear above the display)."""
        return self.sink.console

    def logging_handler(self, level: int = logging.NOTSET) -> logging.Handler:
        """A logging handler that writes through the display's console; see ``ConsoleSink``."""
        return self.sink.logging_handler(level)


ConsoleProgressAdapter = ConsoleProgressTracker
