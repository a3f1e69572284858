"""Standard output that notices when its reader goes away (``mpprogress demo | head``).

The command line (``mpprogress._cli``) puts its standard output behind a ``PipeGuard`` while a
subcommand runs, so every command ends the way ``yes | head`` does.
"""

from __future__ import annotations

import _thread
import os
import select
import signal
import stat
import threading
from typing import Any, TextIO

__all__ = ["PipeGuard"]


class PipeGuard:
    """Standard output that notices when its reader goes away, the way ``yes | head`` expects.

    The first ``BrokenPipeError`` points the descriptor at ``/dev/null`` (so nothing written
    later fails, at exit included) and interrupts the main thread as Ctrl-C would, so the
    command cleans up (workers stopped, sockets removed) and ``main`` exits quietly with
    the status a SIGPIPE death reports (141).
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.broken = threading.Event()

    def watch(self) -> None:
        """When standard output is a pipe, notice its reader leaving even while nothing is written
        (a relay whose workers went quiet): a daemon thread waits in ``poll`` for the pipe's
        error condition, which Linux and the BSDs raise when the read end closes."""
        try:
            fd = self._stream.fileno()
            if not stat.S_ISFIFO(os.fstat(fd).st_mode) or not hasattr(select, "poll"):
                return
        except (OSError, ValueError, AttributeError):
            return  # no real descriptor (tests capture stdout)
        threading.Thread(target=self._wait_for_reader, args=(fd,), name="mpprogress-stdout", daemon=True).start()

    def _wait_for_reader(self, fd: int) -> None:
        poller = select.poll()
        poller.register(fd, 0)  # no events asked for: POLLERR / POLLHUP are always reported
        while not self.broken.is_set():
            if any(mask & (select.POLLERR | select.POLLHUP) for _, mask in poller.poll(1000)):
                self._break()

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._break()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._break()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def _break(self) -> None:
        if self.broken.is_set():
            return
        self.broken.set()
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)
        _thread.interrupt_main(signal.SIGINT)
