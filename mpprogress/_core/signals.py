"""What a session does when its process is told to stop (SIGINT, SIGTERM, SIGHUP).

Python's own reaction to SIGINT is a ``KeyboardInterrupt`` raised in the main thread, which
unwinds through the user's ``with ProcessPoolExecutor(...)`` first: the pool waits for its
running tasks before the session ever learns of it, so workers are told to cancel only after
they finished (28 s in a trial).  SIGTERM's default is to die at once: no cleanup at all (the
cursor stays hidden, the private socket directory stays, workers are never told), and so is
SIGHUP's (the terminal was closed, an SSH connection dropped): it is handled as SIGTERM.

``cancel_on_signals`` (used by ``mpprogress.session()`` in the main thread) puts a handler in
front for the block's duration: it has every open operation cancelled at once (the aggregator sends
the cancellations to the workers, whose ``phase.cancelled`` becomes true within a flush
interval), then does what the signal would have done: the previous handler's work, which for
SIGINT is raising ``KeyboardInterrupt``, and for SIGTERM with the default disposition raising
``SystemExit(143)`` (128 + SIGTERM, what a shell reports for a process SIGTERM killed; 129 for
SIGHUP), so every
``finally`` and ``with`` runs: the display restores the terminal, the aggregator removes its
private directory, pools shut down.

The handler alone is not enough: CPython runs a Python-level handler only when the main thread
gets back to the interpreter, and a main thread blocked in a lock (``future.result()``,
``pool.map``, ``Event.wait()``) is woken for it only if the signal interrupts that very wait.
A signal that lands on another thread, or just before the main thread starts waiting, leaves
the handler pending until the wait ends, and here it ends only when the workers do: they
were never told (the signal tests timed out this way under load, and deterministically when
the signal is sent to another thread).  So the block also has a watcher thread reading the
signal wakeup fd (``signal.set_wakeup_fd``), which the C-level handler writes on whatever
thread the signal lands: the watcher cancels the open operations at once, the workers stop,
the main thread's wait ends and the pending handler does the rest.  Bytes for a wakeup fd set
before (asyncio's) are passed on to it.

While the watcher runs, the handler itself cancels nothing: it runs in the main thread between
two bytecodes, wherever that thread was, possibly holding a callback's plain lock that
cancelling (which delivers ``cancel_requested`` to the callbacks) would take again: a deadlock.
It writes a byte to the watcher's pipe instead (the watcher's thread may wait for such a
lock), then does what the signal would have done.

SIGKILL cannot be handled: a killed session leaves its private socket directory behind (and
the cursor hidden: ``tput cnorm`` or ``reset`` shows it again).  ``_remote.stale``
removes such directories when the next session or relay starts: those of this user whose one
socket no live process listens on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from .._base.forksafe import reinit_after_fork
from .tracker import BaseProgressTracker

__all__ = [
    "EXIT_HUNG_UP",
    "EXIT_TERMINATED",
    "cancel_on_signals",
    "cancel_open_operations",
]

EXIT_TERMINATED = 128 + signal.SIGTERM
"""The exit status after SIGTERM: 143."""
EXIT_HUNG_UP = 128 + signal.SIGHUP
"""The exit status after SIGHUP (terminal closed, SSH connection dropped): 129."""

_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_EXITS: dict[int, int] = {signal.SIGTERM: EXIT_TERMINATED, signal.SIGHUP: EXIT_HUNG_UP}
_STOP = b"\0"  # no signal has number 0: tells the watcher to end
_CANCEL = b"\xff"  # nor 255: the handler asks the watcher to cancel (whoever owns the wakeup fd)

_log = logging.getLogger("mpprogress")


def cancel_open_operations(tracker: BaseProgressTracker) -> None:
    """Cancel every operation of ``tracker`` that has not finished (idempotent)."""
    for op in tracker.operations:
        if not op.finished:
            op.cancel()


@contextmanager
def cancel_on_signals(tracker: BaseProgressTracker) -> Iterator[None]:
    """While inside, SIGINT, SIGTERM and SIGHUP first cancel ``tracker``'s open operations.

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
    watcher: _Watcher | None = None

    def on_signal(signum: int, frame: FrameType | None) -> None:
        before = previous.get(signum)
        if os.getpid() != owner:
            # A forked worker inherited this handler: neither the tracker nor the cleanup is its
            # own.  Do exactly what the signal would have done there without us.
            signal.signal(signum, before)
            os.kill(os.getpid(), signum)
            return
        if watcher is not None and watcher.running:
            # Not here: this runs in the main thread wherever it was, maybe holding a callback's
            # lock that cancelling would take again (a deadlock).  The watcher's thread may wait.
            watcher.request_cancel()
        else:
            cancel_open_operations(tracker)
        if callable(before):
            before(signum, frame)  # SIGINT's default raises KeyboardInterrupt here
        elif signum in _EXITS and before == signal.SIG_DFL:
            raise SystemExit(_EXITS[signum])
        elif signum == signal.SIGINT and before == signal.SIG_DFL:
            raise KeyboardInterrupt

    for signum in _SIGNALS:
        current = signal.getsignal(signum)
        if current is None or current == signal.SIG_IGN:
            continue  # set outside Python, or ignored on purpose (a pool worker): leave it
        previous[signum] = current
        signal.signal(signum, on_signal)
    watcher = _Watcher(tracker, set(previous)) if previous else None
    restorer = _InChild(previous, on_signal, watcher)
    reinit_after_fork(restorer)
    try:
        yield
    finally:
        restorer.active = False
        for restored, handler in previous.items():
            if signal.getsignal(restored) is on_signal:
                signal.signal(restored, handler)
        if watcher is not None:
            watcher.close()


class _Watcher:
    """Cancels the open operations as soon as a watched signal arrives, on its own thread.

    Set up and closed in the main thread (``set_wakeup_fd`` may only be called there).
    """

    def __init__(self, tracker: BaseProgressTracker, signals: set[int]) -> None:
        self._tracker = tracker
        self._signals = signals
        self._read, self.write = os.pipe()
        os.set_blocking(self.write, False)  # set_wakeup_fd's requirement: a signal never blocks
        self.previous = signal.set_wakeup_fd(self.write, warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._run, name="mpprogress-signals", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                data = os.read(self._read, 512)
            except OSError:
                return
            signals = data.replace(_STOP, b"").replace(_CANCEL, b"")
            if self.previous >= 0 and signals:  # asyncio's, say: it must still hear of its signals
                with contextlib.suppress(OSError):
                    os.write(self.previous, signals)
            if _CANCEL in data or any(signum in self._signals for signum in signals):
                try:
                    cancel_open_operations(self._tracker)
                except Exception:  # logged; the session cancels what is open again as it exits
                    _log.exception("mpprogress: cancelling the open operations on a signal failed")
            if not data or _STOP in data:
                return

    @property
    def running(self) -> bool:
        """Whether the thread still reads the pipe."""
        return self._thread.is_alive()

    def request_cancel(self) -> None:
        """Have the thread cancel the open operations (safe in a signal handler: no lock).

        The signal's own byte reaches the pipe only while it is the wakeup fd, and code inside
        the block may set another one (an asyncio loop with signal handlers does, and its
        closing sets none): the handler asks through the pipe as well.
        """
        with contextlib.suppress(OSError):  # a full pipe already holds a request
            os.write(self.write, _CANCEL)

    def restore(self) -> bool:
        """Put the previous wakeup fd back, unless someone replaced ours meanwhile.

        Returns:
            Whether ours is no longer the wakeup fd (``False``: not the main thread, a child
            forked from another thread, where signals must go on finding the pipe open).
        """
        try:
            current = signal.set_wakeup_fd(self.previous)
        except ValueError:
            return False
        if current != self.write:
            signal.set_wakeup_fd(current)  # not ours any more: leave it to whoever set it
        return True

    def close(self) -> None:
        """Restore the previous wakeup fd, stop the thread, close the pipe."""
        restored = self.restore()
        with contextlib.suppress(OSError):
            os.write(self.write, _STOP)
        self._thread.join(1.0)
        if restored and not self._thread.is_alive():  # else a reused fd number could be read or written
            self.release()

    def release(self) -> None:
        """Close the pipe (the thread has stopped, or this is a forked child without it)."""
        for fd in (self._read, self.write):
            with contextlib.suppress(OSError):
                os.close(fd)


class _InChild:
    """Puts the previous handlers back in a forked child at once.

    A Python-level handler runs only when the child's main thread gets back to the interpreter;
    a pool worker blocked in C would then never die of ``Pool.terminate``'s SIGTERM, which the
    default disposition ends at once.  (``on_signal`` still checks the pid, for children forked
    where this hook cannot run.)
    """

    def __init__(self, previous: dict[int, Any], handler: Any, watcher: _Watcher | None) -> None:
        self.previous = previous
        self.handler = handler
        self.watcher = watcher
        self.active = True

    def _reinit_after_fork(self) -> None:
        if not self.active:
            return
        for signum, before in self.previous.items():
            with contextlib.suppress(ValueError, OSError):  # not the main thread of the child
                if signal.getsignal(signum) is self.handler:
                    signal.signal(signum, before)
        if self.watcher is not None and self.watcher.restore():  # the child has the pipe, not its reader
            self.watcher.release()
