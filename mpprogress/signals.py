"""What a session does when its process is told to stop (SIGINT, SIGTERM).

Python's own reaction to SIGINT is a ``KeyboardInterrupt`` raised in the main thread, which
unwinds through the user's ``with ProcessPoolExecutor(...)`` first: the pool waits for its
running tasks before the session ever learns of it, so workers are told to cancel only after
they finished (28 s in a trial).  SIGTERM's default is to die at once: no cleanup at all (the
cursor stays hidden, the private socket directory stays, workers are never told).

``cancel_on_signals`` (used by ``mpprogress.session()`` in the main thread) puts a handler in
front for the block's duration: it cancels every open operation at once (the aggregator sends
the cancellations to the workers, whose ``phase.cancelled`` becomes true within a flush
interval), then does what the signal would have done: the previous handler's work, which for
SIGINT is raising ``KeyboardInterrupt``, and for SIGTERM with the default disposition raising
``SystemExit(143)`` (128 + SIGTERM, what a shell reports for a process SIGTERM killed), so every
``finally`` and ``with`` runs: the display restores the terminal, the aggregator removes its
private directory, pools shut down.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from .forksafe import reinit_after_fork
from .tracker import BaseProgressTracker

__all__ = ["EXIT_TERMINATED", "cancel_on_signals", "cancel_open_operations"]

EXIT_TERMINATED = 128 + signal.SIGTERM
"""The exit status after SIGTERM: 143."""

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def cancel_open_operations(tracker: BaseProgressTracker) -> None:
    """Cancel every operation of ``tracker`` that has not finished (idempotent)."""
    for op in tracker.operations:
        if not op.finished:
            op.cancel()


@contextmanager
def cancel_on_signals(tracker: BaseProgressTracker) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM first cancel ``tracker``'s open operations.

    Does nothing outside the main thread (only it may set signal handlers) or for a signal whose
    handler was set outside Python.

    Args:
        tracker: the session's local tracker.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}
    owner = os.getpid()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        before = previous.get(signum)
        if os.getpid() != owner:
            # A forked worker inherited this handler: neither the tracker nor the cleanup is its
            # own.  Do exactly what the signal would have done there without us.
            signal.signal(signum, before)
            os.kill(os.getpid(), signum)
            return
        cancel_open_operations(tracker)
        if callable(before):
            before(signum, frame)  # SIGINT's default raises KeyboardInterrupt here
        elif signum == signal.SIGTERM and before == signal.SIG_DFL:
            raise SystemExit(EXIT_TERMINATED)
        elif signum == signal.SIGINT and before == signal.SIG_DFL:
            raise KeyboardInterrupt

    for signum in _SIGNALS:
        current = signal.getsignal(signum)
        if current is None or current == signal.SIG_IGN:
            continue  # set outside Python, or ignored on purpose (a pool worker): leave it
        previous[signum] = current
        signal.signal(signum, on_signal)
    restorer = _InChild(previous, on_signal)
    reinit_after_fork(restorer)
    try:
        yield
    finally:
        restorer.active = False
        for restored, handler in previous.items():
            if signal.getsignal(restored) is on_signal:
                signal.signal(restored, handler)


class _InChild:
    """Puts the previous handlers back in a forked child at once.

    A Python-level handler runs only when the child's main thread gets back to the interpreter;
    a pool worker blocked in C would then never die of ``Pool.terminate``'s SIGTERM, which the
    default disposition ends at once.  (``on_signal`` still checks the pid, for children forked
    where this hook cannot run.)
    """

    def __init__(self, previous: dict[int, Any], handler: Any) -> None:
        self.previous = previous
        self.handler = handler
        self.active = True

    def _reinit_after_fork(self) -> None:
        if not self.active:
            return
        for signum, before in self.previous.items():
            with contextlib.suppress(ValueError, OSError):  # not the main thread of the child
                if signal.getsignal(signum) is self.handler:
                    signal.signal(signum, before)
