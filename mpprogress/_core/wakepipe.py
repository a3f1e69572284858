"""A self-pipe: another thread, or a signal handler, ends a wait on its read end at once.

Writing takes no lock, so ``wake()`` is safe in a Python signal handler (see ``stopping.py``).
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["WakePipe"]


class WakePipe:
    """A self-pipe that ends a poll at once (ZeroMQ's or ``select.poll``): register ``fd``, call
    ``wake()`` from any thread or from a signal handler."""

    def __init__(self) -> None:
        self.fd, self._write_fd = os.pipe()
        os.set_blocking(self.fd, False)
        os.set_blocking(self._write_fd, False)

    def wake(self) -> None:
        """Make the next (or current) poll on ``fd`` return."""
        with contextlib.suppress(OSError):  # a full pipe already holds a wake-up
            os.write(self._write_fd, b"\0")

    def drain(self) -> None:
        """Consume the pending wake-ups (call when ``fd`` polled readable)."""
        with contextlib.suppress(OSError):
            os.read(self.fd, 4096)

    def close(self) -> None:
        """Close both ends. Idempotent (a second call cannot close a reused fd number)."""
        fds, self.fd, self._write_fd = (self.fd, self._write_fd), -1, -1
        for fd in fds:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
