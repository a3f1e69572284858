"""Work left open when the program exits: finished honestly while the interpreter still works.

A program may end with a bar, phase or operation open: an uncaught exception, ``sys.exit``, or
the end of its script.  Left alone, such work would be finished (as a success) by garbage
collection during the interpreter's teardown, when a sink's lazy imports fail and its errors
print tracebacks.  Instead one ``atexit`` hook, run before teardown, finishes the open work of
every tracker of this process that has a callback and is not closed
(``BaseProgressTracker.finish_open_work``):

- after an uncaught exception (the interpreter keeps it in ``sys.last_value`` before exit hooks
  run), what is open fails with the reason ``"uncaught <type>"``;
- otherwise (``sys.exit`` with any status, the end of the script, an uncaught Ctrl-C) what is
  open is ``"interrupted"``, except a phase that had reached its total: its work was done.

``atexit`` runs hooks last-registered first, and sinks register theirs (a journal's ``close``
when it is made, a live display's when it goes live); so the hook is moved to the end of the list
each time a tracker subscribes a callback (and after a live display registers), and runs before
the sinks close.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import weakref
from typing import Protocol

__all__ = ["exit_outcome", "run_first", "watch"]

_log = logging.getLogger("mpprogress")


class _OpenWork(Protocol):
    def finish_open_work(self, reason: str, *, failed: bool) -> None: ...


# tracker -> the pid that made it: a forked child must not finish its parent's work
_watched: weakref.WeakKeyDictionary[_OpenWork, int] = weakref.WeakKeyDictionary()


def watch(tracker: _OpenWork) -> None:
    """Finish ``tracker``'s open work at exit, before any sink registered so far closes."""
    _watched[tracker] = os.getpid()  # no lock: one a forked child inherited held would hang it
    run_first()


def run_first() -> None:
    """Make the exit hook run before every ``atexit`` hook registered so far (a sink that
    registers its own ``close`` later, as a live display does, calls this after it)."""
    atexit.unregister(_finish_open_work)
    atexit.register(_finish_open_work)


def exit_outcome() -> tuple[str, bool]:
    """Why the program is exiting: ``(reason, failed)`` for the work it leaves open."""
    exc = getattr(sys, "last_value", None)  # an uncaught exception, kept by the interpreter
    if exc is None or isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return "interrupted", False
    return f"uncaught {type(exc).__name__}", True


def _finish_open_work() -> None:
    reason, failed = exit_outcome()
    pid = os.getpid()
    while True:
        try:
            trackers = [tracker for tracker, owner in list(_watched.items()) if owner == pid]
            break
        except RuntimeError:  # another thread subscribed a callback meanwhile: read again
            continue
    for tracker in trackers:
        try:
            tracker.finish_open_work(reason, failed=failed)
        except Exception:  # one tracker's trouble must not keep the others' work open
            _log.debug("mpprogress: open work of %r not finished at exit", tracker, exc_info=True)
