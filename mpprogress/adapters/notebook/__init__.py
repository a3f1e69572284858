"""The notebook display: one live output in the running cell, updated in place.

In a Jupyter kernel the session (and ``track``) draw with ``NotebookSink`` instead of the
terminal's ``ConsoleSink``.  It uses the notebook's own display machinery: one IPython display
handle, created in the cell that opens it and updated by a small refresh thread at most
``max_rate`` times a second, only when something changed, so a run of thousands of updates a
second costs the front end a few messages a second.  Each update carries the frame the console
would draw (``console_render``) as both HTML and plain text, so the saved notebook keeps the
finished run with its exact counts, and a viewer without HTML shows text (no widget state is
needed to see it again).  Log records given to ``logging_handler()`` show above the frame in
the same output.

IPython is imported here only, and only when a sink is made (``pip install
'mpprogress[notebook]'``); ``notebook_kernel.in_notebook`` tells the wiring when to.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from rich.console import RenderableType
from rich.text import Text

from ..._base.events import EventSink, OperationFinished, ProgressEvent
from ..._base.forksafe import reinit_after_fork
from ..._base.text import clean_line
from ..._core.tracker import BaseProgressTracker
from .. import TrackerWithSinks
from ..console._config import ConsoleConfig
from ..console._live import repeat
from ..console._render import COLOUR_BARS, render_final, render_frame, render_summary
from ._kernel import in_notebook
from ._render import bundle

__all__ = ["NotebookOutput", "NotebookProgressTracker", "NotebookSink", "in_notebook", "ipython_output"]

_log = logging.getLogger("mpprogress")

MAX_LOG_LINES = 1000
"""Log lines kept in the output; earlier ones are counted in one line instead."""
MAX_FINISHED = 50
"""Finished operations kept in the output; earlier ones are counted in one line instead."""


class NotebookOutput(Protocol):
    """Where the sink draws: one output area it replaces as a whole (an IPython display handle)."""

    def update(self, data: dict[str, str]) -> None:
        """Replace what the output shows with ``data`` (a mime bundle)."""


class _DisplayHandle:
    """An IPython ``DisplayHandle`` made in the calling cell, given raw mime bundles."""

    def __init__(self, data: dict[str, str]) -> None:
        from IPython import display as ipython_display  # only here: the notebook extra is optional

        show: Any = ipython_display.display
        self._handle: Any = show(data, raw=True, display_id=True)

    def update(self, data: dict[str, str]) -> None:
        self._handle.update(data, raw=True)


def ipython_output(data: dict[str, str]) -> NotebookOutput:
    """A new output in the running cell showing ``data``; its handle updates it in place."""
    return _DisplayHandle(data)


class NotebookSink(EventSink):
    """Draws a tracker's operations in the running notebook cell; subscribes itself to ``tracker``.

    Args:
        tracker: the local tracker to show (remote phases appear in it as ordinary phases).
        config: what to show (``ConsoleConfig``; its ``refresh_rate`` is capped by ``max_rate``).
        width: the frame's width in character cells.
        max_rate: most output updates a second.
        output: makes the output area from the first bundle; ``ipython_output`` by default.
        get_time: monotonic clock for the spinner; inject a fake one in tests.
    """

    def __init__(
        self,
        tracker: BaseProgressTracker,
        *,
        config: ConsoleConfig | None = None,
        width: int = 100,
        max_rate: float = 4.0,
        output: Callable[[dict[str, str]], NotebookOutput] | None = None,
        get_time: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tracker = tracker
        self.config = config if config is not None else ConsoleConfig()
        self.width = width
        self._get_time = get_time
        self._lock = threading.Lock()
        self._draw_lock = threading.Lock()
        self._finals: deque[RenderableType] = deque(maxlen=MAX_FINISHED)
        self._finished = 0
        self._logs: deque[str] = deque(maxlen=MAX_LOG_LINES)
        self._logged = 0
        self._dirty = True
        self._drawn_at = get_time()
        self._closed = False
        self._last: dict[str, str] | None = None
        make = output if output is not None else ipython_output
        self._output = make(bundle([Text("")], width))  # made here, in the cell that opened it
        self._stop = threading.Event()
        rate = min(self.config.refresh_rate or max_rate, max_rate)
        # The refresh thread runs in this cell's context: ipykernel 7 keeps the parent message
        # (which cell an output belongs to) in context variables a bare thread would not see.
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run,
            args=(repeat, self._refresh, 1.0 / rate, self._stop),
            name="mpprogress-notebook",
            daemon=True,
        )
        reinit_after_fork(self)
        tracker.add_callback(self)
        self._thread.start()

    # --- events -----------------------------------------------------------------------------

    def handle(self, event: ProgressEvent) -> None:
        """Mark the frame stale; keep a finished operation's last rows (and summary) in the output."""
        self._dirty = True  # the refresh thread redraws at its next tick: nothing more here
        if not isinstance(event, OperationFinished) or self._closed:
            return
        try:
            operation = self.tracker.snapshot().get(event.operation_id)
        except Exception:
            _log.exception("notebook display could not read the tracker's state")
            operation = None
        parts: list[RenderableType] = []
        if operation is not None:
            parts.append(render_final(operation, self.config, width=self.width, height=1000, glyphs=COLOUR_BARS))
        if self.config.show_summary:
            summary = render_summary(event.title, event.success, event.duration, operation, self.config, event.reason)
            parts.append(summary)
        with self._lock:
            self._finished += 1
            self._finals.extend(parts)
            self._dirty = True
        # Drawn now, in the finishing thread (the cell's): a cell that ends right after its
        # operation would otherwise end before the refresh thread's next tick, and the saved
        # notebook would keep an older frame (a tracker nobody closes, like the seed's).
        self._draw()

    # --- drawing ----------------------------------------------------------------------------

    def _parts(self, closing: bool) -> list[RenderableType]:
        snapshot = self.tracker.snapshot()  # before our lock: never hold it while taking the tracker's
        frame = render_frame(
            snapshot, self.config, width=self.width, height=1000, now=self._get_time(), glyphs=COLOUR_BARS,
            closing=closing,
        )
        parts: list[RenderableType] = []
        with self._lock:
            if self._logs:
                dropped = self._logged - len(self._logs)
                head = [f"… {dropped} earlier log records not shown"] if dropped else []
                parts.append(Text("\n".join(head + list(self._logs)), style="dim"))
            dropped = self._finished - MAX_FINISHED
            if dropped > 0:
                parts.append(Text(f"… {dropped} earlier operations not shown", style="dim"))
            parts.extend(self._finals)
        parts.append(frame)
        return parts

    def _draw(self, closing: bool = False) -> None:
        with self._draw_lock:  # the refresh thread and a finishing thread may both draw
            data = bundle(self._parts(closing), self.width)
            if data != self._last:
                self._last = data
                self._output.update(data)

    def _refresh(self) -> bool:
        """One tick of the refresh thread: redraw if anything changed; ``False`` once closed."""
        if self._closed:
            return False
        now = self._get_time()
        # At least once a second even without events: a phase can change state silently (its
        # worker stalled: the aggregator sends no event for that), and elapsed times move.  An
        # unchanged frame is not sent again (``_draw``).
        if self._dirty or now - self._drawn_at >= 1.0:
            self._dirty = False
            self._drawn_at = now
            self._draw()
        return True

    # --- logs -------------------------------------------------------------------------------

    def logging_handler(self, level: int = logging.NOTSET) -> logging.Handler:
        """A logging handler whose records show above the frame, in the same output.

        Args:
            level: the handler's level.
        """
        return _NotebookLogHandler(self, level)

    def add_log_line(self, line: str) -> None:
        """Show ``line`` (control characters removed) above the frame."""
        with self._lock:
            for part in clean_line(line, limit=10_000).splitlines() or [""]:
                self._logs.append(part)
                self._logged += 1
            self._dirty = True

    # --- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the refresh thread and draw the last state, left in the output. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        try:
            if self._thread is not threading.current_thread():
                self._thread.join(timeout=2.0)
            self._draw(closing=True)
        except Exception:
            _log.exception("notebook display could not draw its last frame")
        finally:
            self.tracker.remove_callback(self)

    def _reinit_after_fork(self) -> None:
        """A forked child must never send the parent's kernel a message: let go of the output."""
        self._lock = threading.Lock()
        self._draw_lock = threading.Lock()
        self._closed = True

    def __enter__(self) -> NotebookSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _NotebookLogHandler(logging.Handler):
    """Hands formatted records to a ``NotebookSink``, which shows them above its frame."""

    def __init__(self, sink: NotebookSink, level: int) -> None:
        super().__init__(level)
        self.sink = sink
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)-8s %(name)s: %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink.add_log_line(self.format(record))
        except Exception:
            self.handleError(record)


class NotebookProgressTracker(TrackerWithSinks):
    """A local tracker with a ``NotebookSink`` attached: ``ConsoleProgressTracker`` for notebooks.

    Args:
        config: what to show; ``ConsoleConfig()`` by default.
        **tracker_kwargs: passed to ``BaseProgressTracker`` (``get_time``, ``max_update_rate``...).
    """

    def __init__(self, *, config: ConsoleConfig | None = None, **tracker_kwargs: Any) -> None:
        super().__init__(**tracker_kwargs)
        self.sink = NotebookSink(self, config=config)
        self.attach(self.sink)

    def logging_handler(self, level: int = logging.NOTSET) -> logging.Handler:
        """A logging handler whose records show above the display; see ``NotebookSink``."""
        return self.sink.logging_handler(level)
