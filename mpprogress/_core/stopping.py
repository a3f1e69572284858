"""Waiting in the main thread until SIGINT, SIGTERM or SIGHUP, for the commands that run until stopped.

SIGHUP (the terminal closed, an SSH connection dropped) stops them as SIGTERM does: its default
action would end the process at once, leaving its socket file and no status line.  A signal
ignored when the block starts stays ignored: ``nohup mpprogress relay`` outlives its terminal.

A Python-level signal handler runs in the main thread between two bytecodes, possibly while
that thread holds a lock.  ``threading.Event.set()`` in a handler therefore deadlocks when the
signal lands while the main thread is inside ``Event.wait()`` holding the event's own lock: the
relay then never stopped on SIGINT (seen once in a full test run; a loop of ``Event.wait(0)``
with ``set()`` in the handler hung in 36 of 60 trials).  So the handler here takes no lock: it
notes the signal and writes one byte to a non-blocking pipe, and the main thread waits on the
pipe, which the byte ends at once (or within the wait's timeout if the signal landed on another
thread and the main thread's wait was not interrupted: the note is read then).
"""

from __future__ import annotations

import select
import signal
import time
from types import FrameType, TracebackType
from typing import Any

from .wakepipe import WakePipe

__all__ = ["StopSignals"]


class StopSignals:
    """While inside, SIGINT, SIGTERM and SIGHUP ask the main thread to stop instead of ending it.

    Use it from the main thread (only it may set signal handlers)::

        with StopSignals() as stop:
            while not stop.wait(0.2):
                ...  # the periodic checks of a long-running command

    Args:
        signals: the signals that ask for a stop.
    """

    def __init__(self, signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)) -> None:
        self._signals = signals
        self._previous: dict[int, Any] = {}
        self._pipe: WakePipe | None = None
        self.received: int | None = None
        """The first signal that asked for the stop, or ``None``."""

    def __enter__(self) -> StopSignals:
        self._pipe = WakePipe()
        try:
            for signum in self._signals:
                if signal.getsignal(signum) == signal.SIG_IGN:
                    continue  # ignored on purpose (nohup): leave it
                self._previous[signum] = signal.signal(signum, self._on_signal)
        except BaseException:
            self._restore()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        self._restore()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # No lock here, not even a logging call: see the module's docstring.
        if self.received is None:
            self.received = signum
        if self._pipe is not None:
            self._pipe.wake()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a stop signal; return whether one has arrived."""
        pipe = self._pipe
        if self.received is None and pipe is not None:
            poller = select.poll()  # not select(): any fd number
            poller.register(pipe.fd, select.POLLIN)
            poller.poll(max(0, round(timeout * 1000)))
        elif self.received is None:  # outside the block: nothing can wake it
            time.sleep(max(0.0, timeout))
        return self.received is not None

    def _restore(self) -> None:
        # Taken first: ``signal.signal`` runs the handlers still pending, which may raise (a
        # second Ctrl-C); what is left is still restored and closed.
        previous, self._previous = self._previous, {}
        pipe, self._pipe = self._pipe, None
        raised: BaseException | None = None
        for signum, handler in previous.items():
            for _ in range(2):  # a pending handler that raised ran first and set nothing
                try:
                    signal.signal(signum, handler)
                    break
                except BaseException as exc:  # raised again below, once all is restored
                    raised = raised or exc
        if pipe is not None:
            pipe.close()
        if raised is not None:
            raise raised
